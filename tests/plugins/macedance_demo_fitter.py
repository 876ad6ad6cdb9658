"""A minimal video → SMPL plug-in for ``macedance data build --fitter demo-fitter`` (tests only).

It does what an external estimator (GVHMR, WHAM, …) does at the interface: it reads the window's frames from
the source video itself, and returns an SMPL-24 motion at the source frame rate with the camera it was seen
from. Its "estimate" is deliberately simple: a rest-pose body standing on the floor, its pelvis placed under
the keypoints' hip centre at the depth where the person's pixel height matches ``height_m``.
"""

from __future__ import annotations

import numpy as np

from macedance.io.video import iter_frames
from macedance.motion.camera import PinholeCamera
from macedance.pose.fitters import FitInput, FitOutput
from macedance.schema import Motion


class DemoFitter:
    name = "demo-fitter"
    version = "0.1"

    def __init__(self, height_m: float = 1.7, delegate: bool = False):
        self.height_m = float(height_m)
        self.delegate = bool(delegate)

    def config(self) -> dict:
        return {"height_m": self.height_m, "delegate": self.delegate}

    def fit(self, window: FitInput) -> FitOutput:
        if self.height_m <= 0:  # an estimator's own failure on a window (the build rejects the clip and goes on)
            raise ValueError(f"height_m must be positive, got {self.height_m}")
        frames = list(iter_frames(window.video, start=window.start, max_frames=window.end - window.start))
        w, h = window.size
        assert len(frames) == window.end - window.start and frames[0].shape[:2] == (h, w)
        if self.delegate:
            from macedance.pose.fit import FitConfig, fit_smpl

            res = fit_smpl(window.keypoints, window.skeleton, window.size, window.fps, rest=window.rest,
                           config=FitConfig(physics_iterations=0, level_floor=False))
            return FitOutput(res.motion, res.camera, res.ok, res.reason, {"frames_read": float(len(frames))})
        T = window.end - window.start
        kp = window.keypoints
        ok = kp[..., 2] > 0.5
        ys = np.where(ok, kp[..., 1], np.nan)
        height_px = float(np.nanmedian(np.nanmax(ys, 1) - np.nanmin(ys, 1)))
        focal = float(max(w, h))
        depth = focal * self.height_m / height_px
        hips = np.nanmedian(np.where(ok[..., None], kp[..., :2], np.nan), axis=1)  # (T, 2) rough body centre
        x = (hips[:, 0] - w / 2) * depth / focal
        J = Motion(np.zeros((1, 24, 3)), np.zeros((1, 3)), window.fps, "y").joints(window.rest)[0]
        foot = J[[7, 8, 10, 11], 1].min()
        trans = np.stack([x, np.full(T, -foot), np.zeros(T)], -1)
        motion = Motion(np.zeros((T, 24, 3)), trans, window.fps, "y", meta={"fit": "demo-fitter"})
        cam_y = -foot + J[0, 1]  # camera at pelvis height, level
        camera = PinholeCamera(focal=focal, cx=w / 2, cy=h / 2, width=w, height=h, cam_x=0.0, cam_y=cam_y, cam_z=depth)
        return FitOutput(motion, camera, stats={"frames_read": float(len(frames))})


def make(**options) -> DemoFitter:
    return DemoFitter(**options)
