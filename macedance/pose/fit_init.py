"""Stages of :func:`macedance.pose.fit.fit_smpl` before the optimisation: the observations mapped onto
SMPL joints and the closed-form initial state (root orientation, hip centre, a bent A-pose).

Frames and units are those of :mod:`macedance.pose.fit`: keypoints in pixels (x right, y down),
landmarks in MediaPipe's hip-centred metres (x right, y down, z away from the camera), the fit's camera
frame x right, y up, z toward the camera (:class:`~macedance.motion.camera.PinholeCamera` at the origin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from macedance.motion.camera import MIN_DEPTH, PinholeCamera
from macedance.motion.skeleton import NUM_SMPL_JOINTS, RestSkeleton
from macedance.pose.mapping import derived_rows, mapped_confidence, smpl_correspondences

if TYPE_CHECKING:
    from macedance.pose.fit import FitConfig

L_HIP, R_HIP, L_SHO, R_SHO = 1, 2, 16, 17  # SMPL joints
TORSO = (L_HIP, R_HIP, L_SHO, R_SHO)
# Hinge joints: (rotation axis in the parent frame, sign of flexion). SMPL knees flex by +x; the
# left elbow (arm along +x) flexes by −y and the right elbow (arm along −x) by +y, forearm forward.
HINGES = {4: (0, 1.0), 5: (0, 1.0), 18: (1, -1.0), 19: (1, 1.0)}


@dataclass(frozen=True)
class Observations:
    """A clip's keypoints (and landmarks) mapped onto the M SMPL joints of its skeleton's
    correspondences (:func:`~macedance.pose.mapping.smpl_correspondences`).

    Attributes:
        smpl_idx: (M,) SMPL joint of each row.
        use: (M,) bool, rows in the losses (derived rows such as pelvis = mean of the hips are biased).
        row: SMPL joint → row.
        obs2d: (T, M, 2) pixels.
        c2d: (T, M) confidence, 0 where unseen.
        height_px: median person height, px (NaN when no frame has two confident keypoints).
        valid: (T,) frames with both hips and both shoulders seen.
        obs3d: (T, M, 3) hip-centred landmarks, metres, in the fit's camera frame (y up, z toward the
            camera); None without landmarks.
        c3d: (T, M) landmark visibility, 0 where unseen or where a hip is unseen; None without landmarks.
    """

    smpl_idx: np.ndarray
    use: np.ndarray
    row: dict[int, int]
    obs2d: np.ndarray
    c2d: np.ndarray
    height_px: float
    valid: np.ndarray
    obs3d: np.ndarray | None
    c3d: np.ndarray | None

    @property
    def torso(self) -> list[int]:
        """Rows of the hips and shoulders."""
        return [self.row[j] for j in TORSO]


def observe(kp: np.ndarray, lm: np.ndarray | None, skeleton: str, cfg: FitConfig) -> Observations:
    """Map checked (T, K, 3) keypoints and optional (T, K, 4) landmarks of ``skeleton`` onto SMPL
    joints; keypoints (landmarks) below ``cfg.min_confidence`` (visibility) or non-finite get weight 0."""
    c_raw = np.nan_to_num(kp[..., 2])
    conf = np.where(np.isfinite(kp).all(-1) & (c_raw >= cfg.min_confidence), c_raw, 0.0)
    xy = np.nan_to_num(kp[..., :2])
    smpl_idx, Wmap = smpl_correspondences(skeleton)
    use = ~derived_rows(skeleton)
    row = {int(j): m for m, j in enumerate(smpl_idx)}
    obs2d = Wmap @ xy  # (T, M, 2)
    c2d = mapped_confidence(conf, Wmap)  # (T, M)
    height_px = _person_height(xy, conf)
    valid = (c2d[:, [row[j] for j in TORSO]] > 0).all(-1)
    obs3d = c3d = None
    if lm is not None:
        v_raw = np.nan_to_num(lm[..., 3])
        vis = np.where(np.isfinite(lm).all(-1) & (v_raw >= cfg.min_confidence), v_raw, 0.0)
        obs3d = Wmap @ (np.nan_to_num(lm[..., :3]) * np.array([1.0, -1.0, -1.0]))  # → y up, z toward camera
        obs3d = obs3d - 0.5 * (obs3d[:, row[L_HIP]] + obs3d[:, row[R_HIP]])[:, None]
        c3d = mapped_confidence(vis, Wmap)
        c3d = c3d * (c3d[:, [row[L_HIP], row[R_HIP]]] > 0).all(-1)[:, None]
    return Observations(smpl_idx, use, row, obs2d, c2d, height_px, valid, obs3d, c3d)


def mean_reprojection_px(camera: PinholeCamera, joints: np.ndarray, obs: Observations) -> float:
    """Mean 2D error (px) of (T, 24, 3) SMPL joints projected by ``camera`` against the confident observations the fit
    uses (derived rows such as pelvis = mean of the hips left out: they are biased); NaN when none is confident."""
    seen = obs.c2d[:, obs.use] > 0
    if not seen.any():
        return float("nan")
    err = np.linalg.norm(camera.project(joints[:, obs.smpl_idx[obs.use]]) - obs.obs2d[:, obs.use], axis=-1)
    return float(err[seen].mean())


def initial_state(obs: Observations, camera: PinholeCamera, rest: RestSkeleton, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form start of the fit, in the camera frame.

    Root orientation from the hips and shoulders and hip centre by per-frame least squares when the
    landmarks are usable on enough frames (:func:`_root_from_landmarks`), else from the image
    (:func:`_root_from_image`); frames without an estimate are filled from their neighbours. The body
    starts in an A-pose with bent knees and elbows (a straight hinge is a saddle point: the fit could
    not bend it, and would foreshorten the limb instead).

    Returns:
        ``(R_init, trans_init, body_init)``: (T, 3, 3) root rotations, (T, 3) root translations
        (metres) and (T, 23, 3) axis-angle local rotations of joints 1–23.
    """
    T = len(obs.obs2d)
    J_rest = rest.joints
    mid_hip_rest = 0.5 * (J_rest[L_HIP] + J_rest[R_HIP])
    mid_sho_rest = 0.5 * (J_rest[L_SHO] + J_rest[R_SHO])
    F_rest = _frame(J_rest[L_HIP] - J_rest[R_HIP], mid_sho_rest - mid_hip_rest)
    init_valid = np.zeros(T, dtype=bool)
    if obs.obs3d is not None:
        R_init, hip_c, init_valid = _root_from_landmarks(obs, camera, F_rest)
    if obs.obs3d is None or init_valid.mean() < cfg.min_frame_fraction:  # 2D only (or unusable landmarks)
        init_valid = obs.valid
        R_init, hip_c = _root_from_image(obs, camera, F_rest, float(np.linalg.norm(mid_sho_rest - mid_hip_rest)))
    R_init = _fill_missing(R_init, init_valid, linear=False)
    hip_c = _fill_missing(hip_c, init_valid, linear=True)
    # SMPL FK with the hips unrotated: hip centre = J0 + trans + R_root (mid_hip_rest − J0).
    trans_init = hip_c - J_rest[0] - R_init @ (mid_hip_rest - J_rest[0])
    body_init = np.zeros((T, NUM_SMPL_JOINTS - 1, 3))
    for j, (axis, sign) in HINGES.items():
        body_init[:, j - 1, axis] = sign * (cfg.init_knee if j in (4, 5) else cfg.init_elbow)
    body_init[:, L_SHO - 1, 2] = -cfg.init_arms_down
    body_init[:, R_SHO - 1, 2] = cfg.init_arms_down
    return R_init, trans_init, body_init


def _root_from_landmarks(obs: Observations, camera: PinholeCamera, F_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 3, 3) root orientation from the landmarks' hips and shoulders, (T, 3) hip centre by weighted
    least squares of the projection equations, and the (T,) frames where both are trustworthy."""
    obs2d, c2d, obs3d, c3d, row = obs.obs2d, obs.c2d, obs.obs3d, obs.c3d, obs.row
    assert obs3d is not None and c3d is not None
    T = len(obs2d)
    focal, cx, cy = camera.focal, camera.cx, camera.cy
    across = obs3d[:, row[L_HIP]] - obs3d[:, row[R_HIP]]
    up = 0.5 * (obs3d[:, row[L_SHO]] + obs3d[:, row[R_SHO]])
    R_init = _frame(across, up) @ F_rest.T
    # Per-frame weighted least squares for the hip centre t (camera frame, y up, z toward the
    # camera) from x_cam = P + t and the pinhole equations, linear in t:
    #   f t_x + (u − cx) t_z = −f P_x − (u − cx) P_z ;  f t_y − (v − cy) t_z = (v − cy) P_z − f P_y
    w = np.repeat(c2d * c3d, 2, axis=1)
    du, dv = obs2d[..., 0] - cx, obs2d[..., 1] - cy
    fz, zero = np.full_like(du, focal), np.zeros_like(du)
    A = np.stack([np.stack([fz, zero, du], -1), np.stack([zero, fz, -dv], -1)], -2).reshape(T, -1, 3)
    b = np.stack([-focal * obs3d[..., 0] - du * obs3d[..., 2], dv * obs3d[..., 2] - focal * obs3d[..., 1]],
                 -1).reshape(T, -1)
    AtA = np.einsum("tn,tni,tnj->tij", w, A, A) + 1e-9 * np.eye(3)
    hip_c = np.linalg.solve(AtA, np.einsum("tn,tni,tn->ti", w, A, b)[..., None])[..., 0]
    init_valid = obs.valid & (c3d[:, obs.torso] > 0).all(-1) & ((w > 0).sum(-1) >= 6) & (hip_c[:, 2] < -MIN_DEPTH)
    return R_init, hip_c, init_valid


def _root_from_image(obs: Observations, camera: PinholeCamera, F_rest: np.ndarray, torso_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3, 3) root orientation from the image directions of the hips and shoulders (facing the
    camera or back to it; the yaw is left to the fit) and (T, 3) hip centre at the depth where the
    torso (``torso_m`` metres, mid-hip to mid-shoulder) has its pixel length."""
    obs2d, row = obs.obs2d, obs.row
    T = len(obs2d)
    focal, cx, cy = camera.focal, camera.cx, camera.cy
    hip_px = 0.5 * (obs2d[:, row[L_HIP]] + obs2d[:, row[R_HIP]])
    d_img = 0.5 * (obs2d[:, row[L_SHO]] + obs2d[:, row[R_SHO]]) - hip_px
    up = np.stack([d_img[:, 0], -d_img[:, 1], np.zeros(T)], -1)
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    a_img = obs2d[:, row[L_HIP]] - obs2d[:, row[R_HIP]]
    right = np.stack([up[:, 1], -up[:, 0], np.zeros(T)], -1)  # image-right of "up"
    # Facing the camera when the left hip appears right of the right hip; yaw is left to the fit.
    facing = np.where(a_img[:, 0] * right[:, 0] - a_img[:, 1] * right[:, 1] >= 0, 1.0, -1.0)
    R_init = _frame(facing[:, None] * right, up) @ F_rest.T
    depth = focal * torso_m / np.maximum(np.linalg.norm(d_img, axis=-1), 1e-6)
    hip_c = np.stack([(hip_px[:, 0] - cx) * depth / focal, -(hip_px[:, 1] - cy) * depth / focal, -depth], -1)
    return R_init, hip_c


def _frame(across: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation with columns x ∥ across, y ∥ the part of up ⟂ x, z = x × y."""
    x = across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
    y = up - (up * x).sum(-1, keepdims=True) * x
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    return np.stack([x, y, np.cross(x, y)], -1)


def _fill_missing(values: np.ndarray, valid: np.ndarray, linear: bool) -> np.ndarray:
    """Invalid frames of (T, ...) values ← linear interpolation, or the nearest valid frame."""
    if valid.all():
        return values
    t = np.arange(len(values))
    good = np.flatnonzero(valid)
    if linear:
        flat = values.reshape(len(values), -1)
        return np.stack([np.interp(t, good, flat[good, i]) for i in range(flat.shape[1])], -1).reshape(values.shape)
    after = good[np.clip(np.searchsorted(good, t), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, t) - 1, 0, len(good) - 1)]
    return values[np.where(np.abs(before - t) < np.abs(after - t), before, after)]


def _person_height(xy: np.ndarray, conf: np.ndarray) -> float:
    """Median over frames of the vertical extent (px) of the confident keypoints."""
    enough = (conf > 0).sum(-1) >= 2
    if not enough.any():
        return float("nan")
    y = np.where(conf[enough] > 0, xy[enough, :, 1], np.nan)
    return float(np.median(np.nanmax(y, -1) - np.nanmin(y, -1)))
