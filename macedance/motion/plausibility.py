"""Physical plausibility of a motion: floor plane, foot contacts and per-clip diagnostics.

All functions take SMPL-24 joint positions ``(T, 24, 3)`` in metres in a y-up world (the fit's camera
frame or the builder's world) and the frame rate. Only joint centres are used: the ankles (7, 8) and
feet (10, 11) stand a few centimetres above the real sole, so "on the floor" means the lowest foot
joint at the floor level, which is itself estimated from where the feet stand still.

* :func:`estimate_floor` — the floor plane ``n · p = offset`` (``n`` a unit normal near +y): the
  orientation of a robust, ridge-regularised plane through the lower toe joint in the frames where it
  is slow, at the level of the 5th percentile of the **support points** (each frame's lowest foot
  joint): the clip's floor level, a robust minimum. Tilt (the normal's angle from +y) comes from the camera's
  pitch and roll when the world is a level camera frame.
* :func:`support_points` — each frame's lowest foot joint (its index and position).
* :func:`diagnose` — the per-clip :class:`Diagnostics` (see its attributes for definitions and units).

The thresholds of :data:`PLAUSIBLE` come from the same diagnostics on AIST++ mocap
(``benchmarks/bench_plausibility.py``; numbers in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from macedance.motion.rotations import rot_x, rot_z

FOOT_JOINTS = (7, 8, 10, 11)  # SMPL left/right ankle, left/right foot
FEET = ((7, 10), (8, 11))
TOES = (10, 11)  # (ankle, foot) of the left and the right foot
PELVIS = 0
SLOW_SPEED = 0.25  # m/s: a support foot slower than this is standing (defines the floor level)
RIDGE_M = 0.2  # m: spread (RMS) of the slow toe points at which a floor slope is half trusted
CONTACT_HEIGHT = 0.08  # m above the floor level: a foot joint this low can be in contact


@dataclass(frozen=True)
class Floor:
    """The plane ``normal · p = offset`` (metres); ``normal`` is a unit vector with a positive y."""

    normal: np.ndarray
    offset: float

    def height(self, points: np.ndarray) -> np.ndarray:
        """(...,) signed height of (..., 3) points above the plane, metres."""
        return np.asarray(points) @ self.normal - self.offset

    @property
    def tilt_deg(self) -> float:
        """Angle between the normal and +y, degrees."""
        return float(np.degrees(np.arccos(np.clip(self.normal[1], -1.0, 1.0))))


def support_points(joints: np.ndarray, up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's lowest foot joint along ``up`` (default +y): (T,) SMPL index and (T, 3) position."""
    J = np.asarray(joints, dtype=np.float64)
    feet = J[:, list(FOOT_JOINTS)]  # (T, 4, 3)
    u = np.array([0.0, 1.0, 0.0]) if up is None else np.asarray(up, np.float64)
    k = np.argmin(feet @ u, axis=1)
    return np.asarray(FOOT_JOINTS)[k], feet[np.arange(len(J)), k]


def _joint_speed(joints: np.ndarray, fps: float, idx: np.ndarray) -> np.ndarray:
    """(T,) speed of joint ``idx[t]`` at frame t (each joint's own velocity, so a change of support foot
    is not a jump)."""
    T = len(joints)
    if T < 2:
        return np.zeros(T)
    v = np.gradient(joints, axis=0) * fps  # (T, 24, 3)
    return np.linalg.norm(v[np.arange(T), idx], axis=-1)


def _horizontal(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    return v - (v @ n)[..., None] * n


def estimate_floor(joints: np.ndarray, fps: float, *, max_tilt_deg: float = 30.0, iterations: int = 10) -> Floor:
    """The floor plane of a clip (see the module docstring).

    The plane through the lower toe joint's positions in the frames where it is slow is fitted by
    iteratively reweighted least squares (Cauchy weights, scale 3 cm) of ``y = a x + b z + c``, with a
    ridge on the slopes (``RIDGE_M``: a direction in which the slow points spread by much less than
    that stays level); with fewer than 8 slow frames or a fitted tilt above ``max_tilt_deg`` the plane
    stays level (normal +y). Its level is the 5th percentile of the support points' heights.
    """
    J = np.asarray(joints, dtype=np.float64)
    _, P = support_points(J)
    n = np.array([0.0, 1.0, 0.0])
    # The slope comes from the toe joints alone: which of ankle and toe is lowest depends on the foot's pose
    # (heel up or flat), and mixing them tilts the plane toward where the dancer rises on the toes.
    toe = np.asarray(TOES)[np.argmin(J[:, list(TOES), 1], axis=1)]
    Pt = J[np.arange(len(J)), toe]
    slow = _joint_speed(J, fps, toe) < SLOW_SPEED
    if slow.sum() >= 8:
        Q = Pt[slow]
        A = np.stack([Q[:, 0] - Q[:, 0].mean(), Q[:, 2] - Q[:, 2].mean(), np.ones(len(Q))], -1)
        # Ridge on the two slopes: a direction in which the slow points spread by less than RIDGE_M
        # (a dancer who stays on one line) keeps the level floor instead of a guessed tilt.
        ridge = np.sqrt(len(Q)) * RIDGE_M * np.eye(3)[:2]
        w = np.ones(len(Q))
        coef = np.zeros(3)
        for _ in range(iterations):
            sw = np.sqrt(w)
            coef = np.linalg.lstsq(np.vstack([A * sw[:, None], ridge]), np.r_[Q[:, 1] * sw, 0.0, 0.0], rcond=None)[0]
            r = Q[:, 1] - A @ coef
            w = 1.0 / (1.0 + (r / 0.03) ** 2)
        cand = np.array([-coef[0], 1.0, -coef[1]])
        cand /= np.linalg.norm(cand)
        if np.degrees(np.arccos(cand[1])) <= max_tilt_deg:
            n = cand
    return Floor(n, float(np.percentile(P @ n, 5)))


def floor_contacts(joints: np.ndarray, fps: float, floor: Floor, *, height: float = CONTACT_HEIGHT, speed: float = 0.5) -> np.ndarray:
    """(T, 2) bool: the left/right foot touches the floor — its lower joint (ankle or foot) within
    ``height`` m of the floor level and slower than ``speed`` m/s."""
    J = np.asarray(joints, dtype=np.float64)
    out = np.zeros((len(J), 2), dtype=bool)
    for s, pair in enumerate(FEET):
        h = floor.height(J[:, list(pair)])  # (T, 2)
        low = np.argmin(h, axis=1)
        idx = np.asarray(pair)[low]
        out[:, s] = (h.min(axis=1) < height) & (_joint_speed(J, fps, idx) < speed)
    return out


@dataclass(frozen=True)
class Diagnostics:
    """Per-clip plausibility numbers (the manifest's ``phys_*`` columns).

    Attributes:
        skate_ms: median horizontal speed (m/s, along the floor) of the support foot joint — each
            frame's lowest foot joint; a foot on the floor should not slide.
        float_cm: median height of the support foot joint above the floor level (cm).
        penetration_cm: how far the lowest support point goes below the floor level (cm): the spread
            of the frames a robust floor cannot explain (feet sinking through it).
        contact_frac: share of frames where a foot is in contact (:func:`floor_contacts`).
        root_jitter_mm: RMS of the pelvis's second difference, rescaled to 30 fps (mm per frame²):
            jitter and implausible accelerations of the root.
        depth_drift_ms: |slope| (m/s) of a straight line fitted to the pelvis's horizontal position
            along ``view`` (the camera's viewing direction; for mocap the worse of the two horizontal
            axes) — a body that recedes from or approaches the camera steadily.
        floor_tilt_deg: tilt of the estimated floor against the world's up axis (degrees).
    """

    skate_ms: float
    float_cm: float
    penetration_cm: float
    contact_frac: float
    root_jitter_mm: float
    depth_drift_ms: float
    floor_tilt_deg: float

    def to_dict(self) -> dict[str, float]:
        return {f"phys_{k}": float(v) for k, v in asdict(self).items()}

    def problems(self, limits: dict[str, float] | None = None) -> list[str]:
        """Human-readable reasons for every diagnostic above its limit (:data:`PLAUSIBLE` by default)."""
        lim = PLAUSIBLE if limits is None else limits
        units = {"skate_ms": "m/s", "float_cm": "cm", "penetration_cm": "cm", "root_jitter_mm": "mm/frame²",
                 "depth_drift_ms": "m/s", "floor_tilt_deg": "°"}
        out = []
        for name, bound in lim.items():
            value = getattr(self, name)
            if not value <= bound:
                out.append(f"{name.replace('_', ' ').rsplit(' ', 1)[0]} {value:.3g} {units[name]} > {bound:g}")
        return out


#: Upper limits of a plausible clip. Measured on the 7 AIST++ mocap clips of shared/data (5 s, 30 fps;
#: benchmarks/bench_plausibility.py; table in benchmarks/RESULTS.md "Plausibility of fitted motion"):
#: skate 0.015–0.70 m/s, float 1.5–6.8 cm, penetration 0.17–2.2 cm, root jitter 1.1–13.7 mm/frame²,
#: depth drift 0.011–0.074 m/s — breakdance (gBR) sets the top of skating and jitter, locking (gLH) of
#: float and penetration. Each limit is about 1.5 × the largest mocap value; the depth drift's leaves
#: room for dancers who travel (0.3 m/s = 3 m over a 10 s clip).
PLAUSIBLE: dict[str, float] = {
    "skate_ms": 1.0,
    "float_cm": 10.0,
    "penetration_cm": 5.0,
    "root_jitter_mm": 20.0,
    "depth_drift_ms": 0.3,
}


def diagnose(joints: np.ndarray, fps: float, *, view: np.ndarray | None = (0.0, 0.0, -1.0), floor: Floor | None = None) -> Diagnostics:
    """The :class:`Diagnostics` of (T, 24, 3) y-up joints at ``fps``.

    ``view`` is the camera's horizontal viewing direction in the joints' world (the builder's level
    camera looks along −z); ``None`` measures the depth drift along both horizontal axes and keeps the
    larger (for mocap, which has no camera). ``floor`` defaults to :func:`estimate_floor`.
    """
    J = np.asarray(joints, dtype=np.float64)
    T = len(J)
    floor = estimate_floor(J, fps) if floor is None else floor
    n = floor.normal
    idx, P = support_points(J, n)
    h = floor.height(P)
    if T >= 2:
        v = (np.gradient(J, axis=0) * fps)[np.arange(T), idx]
        skate = float(np.median(np.linalg.norm(_horizontal(v, n), axis=-1)))
    else:
        skate = 0.0
    pelvis = J[:, PELVIS]
    jitter = float(np.sqrt(np.mean(np.sum((pelvis[2:] - 2 * pelvis[1:-1] + pelvis[:-2]) ** 2, -1)))) * (fps / 30.0) ** 2 * 1000 if T >= 3 else 0.0
    t = np.arange(T) / fps
    axes = [np.asarray(view, np.float64)] if view is not None else [np.array([1.0, 0, 0]), np.array([0, 0, 1.0])]
    drift = 0.0
    for a in axes:
        a = _horizontal(a, n)
        a = a / max(np.linalg.norm(a), 1e-12)
        if T >= 2:
            drift = max(drift, abs(float(np.polyfit(t, pelvis @ a, 1)[0])))
    return Diagnostics(
        skate_ms=skate,
        float_cm=float(np.median(h)) * 100,
        penetration_cm=float(max(-h.min(), 0.0)) * 100 if T else 0.0,
        contact_frac=float(floor_contacts(J, fps, floor).any(axis=1).mean()) if T else 0.0,
        root_jitter_mm=jitter,
        depth_drift_ms=drift,
        floor_tilt_deg=floor.tilt_deg,
    )


def level_rotation(normal: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Rotation ``R = Rx(pitch) @ Rz(roll)`` taking the unit ``normal`` to +y, with its ``pitch`` and
    ``roll`` (radians): applied to the fit's camera frame it levels the floor."""
    nx, ny, nz = (float(v) for v in normal)
    roll = np.arctan2(nx, ny)  # Rz(roll) zeroes the x component
    ny2 = np.hypot(nx, ny)
    pitch = -np.arctan2(nz, ny2)  # then Rx(pitch) zeroes the z component
    return rot_x(pitch) @ rot_z(roll), float(pitch), float(roll)


def summary(values: list[Diagnostics]) -> dict[str, Any]:
    """Median and range of each diagnostic over clips (for reports)."""
    out: dict[str, Any] = {}
    for name in Diagnostics.__dataclass_fields__:
        arr = np.array([getattr(d, name) for d in values], np.float64)
        out[name] = {"median": float(np.median(arr)), "min": float(arr.min()), "max": float(arr.max())} if len(arr) else {}
    return out
