"""The camera model shared by the SMPL fit and the 3D renderer, the builder's world, and the front view.

* :class:`PinholeCamera`: a pinhole looking along −z of a y-up world (x right, y up, z toward the
  camera) — level by default; ``pitch`` and ``roll`` (radians, no yaw) tilt it when the fit has
  levelled a sloping floor — focal length ``focal`` px, principal point ``(cx, cy)`` px, no
  distortion, its centre at ``(cam_x, cam_y, cam_z)`` metres. Pixels are x right, y down, origin
  at the image's top-left. :func:`macedance.pose.fit.fit_smpl` estimates one (``FitResult.camera``),
  :func:`macedance.render.scene.frame_camera` places one in front of a performance; datasets store it
  as the JSON of :meth:`PinholeCamera.to_dict` (``meta["camera"]``, ``manifest`` rows).
* :func:`world_offset`: the translation into the builder's world (pelvis of frame 0 at x = z = 0, the
  lowest foot joint of the clip at y = 0), used by ``data build`` and ``data render`` alike.
* :func:`project_front`: the orthographic front view of the y-up world (the MACE-Dance release tool's
  projection of joints onto the pose image).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from macedance.motion._xp import is_torch, xp
from macedance.motion.rotations import rot_x, rot_z

MIN_DEPTH = 0.1  # metres in front of the camera: the depth floor of the projection
FOOT_JOINTS = (7, 8, 10, 11)  # SMPL ankles and feet


@dataclass(frozen=True)
class PinholeCamera:
    """A pinhole camera looking along −z, level unless ``pitch``/``roll`` say otherwise (see the module
    docstring).

    Attributes:
        focal: focal length, px.
        cx, cy: principal point, px (x right, y down).
        width, height: image size, px.
        cam_x, cam_y, cam_z: the camera centre in the y-up world, metres.
        focal_estimated: 1.0 when the focal length was guessed (``max(width, height)``), else 0.0.
        pitch, roll: the camera's orientation, radians: world-from-camera rotation
            ``Rx(pitch) @ Rz(roll)`` (:meth:`rotation`); 0 for a level camera. The SMPL fit sets them
            when it levels the floor it estimated (:mod:`macedance.motion.plausibility`).

    Every field is stored as a Python float, so :meth:`to_dict` is JSON-ready.
    """

    focal: float
    cx: float
    cy: float
    width: float
    height: float
    cam_x: float = 0.0
    cam_y: float = 0.0
    cam_z: float = 0.0
    focal_estimated: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, float(getattr(self, f.name)))

    def to_dict(self) -> dict[str, float]:
        """``{"focal", "cx", "cy", "width", "height", "cam_x", "cam_y", "cam_z", "focal_estimated", "pitch",
        "roll"}``, in that order: the serialised form of datasets and reports."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PinholeCamera:
        """The camera of a :meth:`to_dict` dict (e.g. ``json.loads(motion.meta["camera"])``); ``pitch``
        and ``roll`` default to 0 (datasets written before they existed)."""
        optional = {"pitch", "roll"}
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d or f.name not in optional})

    @property
    def level(self) -> bool:
        return self.pitch == 0.0 and self.roll == 0.0

    def rotation(self) -> np.ndarray:
        """(3, 3) world-from-camera rotation ``Rx(pitch) @ Rz(roll)`` (identity when level)."""
        return rot_x(self.pitch) @ rot_z(self.roll)

    def to_camera(self, points: Any) -> Any:
        """(..., 3) world points → (..., 3) in the camera frame (x right, y up, looking along −z);
        numpy (as float64) or torch (its dtype and device)."""
        if not is_torch(points):
            points = np.asarray(points, dtype=np.float64)
        m = xp(points)
        kw = {"device": points.device} if m is not np else {}
        p = points - m.asarray([self.cam_x, self.cam_y, self.cam_z], dtype=points.dtype, **kw)
        if self.level:
            return p
        return p @ m.asarray(self.rotation(), dtype=points.dtype, **kw)  # R^T p, row vectors

    def depth(self, points: Any) -> Any:
        """(...,) distance of (..., 3) world points in front of the camera along its axis, metres."""
        return -self.to_camera(points)[..., 2]

    def project(self, points: Any) -> Any:
        """(..., 3) world points → (..., 2) pixels (x right, y down); numpy (as float64) or torch (its
        dtype and device). Depths below :data:`MIN_DEPTH` are clamped to it."""
        p = self.to_camera(points)
        m = xp(p)
        depth = m.clip(-p[..., 2], MIN_DEPTH, None)
        return m.stack([self.cx + self.focal * p[..., 0] / depth, self.cy - self.focal * p[..., 1] / depth], -1)


def world_offset(joints: np.ndarray) -> np.ndarray:
    """(3,) translation that puts (T, 24, 3) y-up joints in the builder's world: the pelvis of frame 0
    at x = z = 0 and the lowest foot joint of the clip (SMPL 7, 8, 10, 11) at y = 0."""
    J = np.asarray(joints)
    return np.array([-J[0, 0, 0], -J[:, list(FOOT_JOINTS), 1].min(), -J[0, 0, 2]])


def project_front(points: np.ndarray) -> np.ndarray:
    """(..., 3) y-up world metres → (..., 2) orthographic front-view image coordinates (metres, y down)."""
    return np.stack([points[..., 0], -points[..., 1]], axis=-1)
