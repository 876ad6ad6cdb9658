"""Geometric ("manual") motion features (FID_g, Div_g): 32 boolean relations averaged over time.

3D: the AIST++ API ``manual.py`` / Bailando ``manual_new.py`` definitions (fairmotion), evaluated for
frames 1..T−1 and averaged (float32 mean of 0/1, as the reference). Every primitive is vectorised
over sequences and frames; quirks of the reference are kept:

* thresholds scale with constants of a fixed SMPL template (humerus length ``hl`` = 0.256838 m,
  shoulder width ``sw``, hip width ``hw``), not the actual skeleton;
* velocities divide by ``tau`` (1/120 s in the reference, whatever the real frame rate);
* ``move`` ignores its fourth joint; comparisons are strict; ``angle`` takes ``arccos`` without
  clipping, so a NaN (zero-length limb) evaluates to False;
* pseudo-points: zero, ±y unit, and ``y_min`` = (0, lowest joint height of the frame, 0) — y-up input.
"""

from __future__ import annotations

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.kinematics import convert_up_axis

_NAMES = ("root", "lhip", "rhip", "belly", "lknee", "rknee", "spine", "lankle", "rankle", "chest", "ltoes",
          "rtoes", "neck", "linshoulder", "rinshoulder", "head", "lshoulder", "rshoulder", "lelbow", "relbow",
          "lwrist", "rwrist", "lhand", "rhand")
J = {n: i for i, n in enumerate(_NAMES)}

# Template points of the reference (metres): lshoulder, lelbow, rshoulder, lhip, rhip.
_L_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_L_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_R_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_L_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_R_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HL = float(np.linalg.norm(_L_SHOULDER - _L_ELBOW))
SW = float(np.linalg.norm(_L_SHOULDER - _R_SHOULDER))
HW = float(np.linalg.norm(_L_HIP - _R_HIP))


# Vectors are (3, B, T−1) arrays — component first, so every component is contiguous.
def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product of component-first vectors, summed left to right like ``np.dot``."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(a, a))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def geometric_features_3d(
    joints: np.ndarray, *, tau: float = 1.0 / 120, up_axis: str = "y", dtype: type = np.float32
) -> np.ndarray:
    """The 32 geometric features of 3D SMPL-24 joint sequences.

    Args:
        joints: (T, 24, 3) or (B, T, 24, 3) positions in metres (SMPL joint order).
        tau: seconds per frame used in velocity thresholds (reference: 1/120).
        up_axis: ``"y"`` (the reference's convention) or ``"z"`` (converted to y-up first).
        dtype: output dtype (float32 = reference).

    Returns:
        (32,) or (B, 32) fraction of frames 1..T−1 where each relation holds.
    """
    p = np.asarray(joints, dtype=np.float64)
    single = p.ndim == 3
    if single:
        p = p[None]
    if p.ndim != 4 or p.shape[2:] != (24, 3):
        raise ValidationError("joints", "shape (T, 24, 3) or (B, T, 24, 3) (SMPL-24)", f"shape {np.shape(joints)}")
    if p.shape[1] < 2:
        raise ValidationError("joints", "at least 2 frames for geometric features", f"{p.shape[1]} frames")
    p = convert_up_axis(p, up_axis, "y")
    comp = np.ascontiguousarray(np.transpose(p, (3, 2, 0, 1)))  # (3, 24, B, T)
    cur, prev = comp[..., 1:], comp[..., :-1]  # (3, 24, B, T−1)
    shape = cur.shape[2:]
    zero, one = np.zeros(shape), np.ones(shape)
    pseudo = {
        "zero": np.stack([zero, zero, zero]),
        "y_unit": np.stack([zero, one, zero]),
        "minus_y_unit": np.stack([zero, -one, zero]),
        "y_min": np.stack([zero, cur[1].min(axis=0), zero]),
    }

    def P(name: str) -> np.ndarray:
        return pseudo[name] if name in pseudo else cur[:, J[name]]

    def Pp(name: str) -> np.ndarray:
        return prev[:, J[name]]

    def move(j1: str, j2: str, j3: str, j4: str, t: float) -> np.ndarray:  # j4 ignored (reference bug)
        vel = P(j3) - P(j1) - (Pp(j3) - Pp(j1))
        direction = P(j2) - P(j1)
        return _dot(vel, direction) / _norm(direction) / tau > t

    def nmove(j1: str, j2: str, j3: str, j4: str, t: float) -> np.ndarray:
        vel = P(j4) - P(j1) - (Pp(j4) - Pp(j1))
        direction = _cross(P(j3) - P(j1), P(j2) - P(j1))
        return _dot(vel, direction) / _norm(direction) / tau > t

    def plane(a: str, b: str, c: str, q: str, t: float) -> np.ndarray:
        n = _cross(P(c) - P(a), P(b) - P(a))
        return _dot(n, P(q) - P(a)) / _norm(n) > t

    def nplane(n1: str, n2: str, a: str, q: str, t: float) -> np.ndarray:
        n = P(n2) - P(n1)
        return _dot(n, P(q) - P(a)) / _norm(n) > t

    def angle(j1: str, j2: str, k1: str, k2: str, rng: tuple[float, float]) -> np.ndarray:
        u, w = P(j2) - P(j1), P(k2) - P(k1)
        with np.errstate(invalid="ignore", divide="ignore"):
            deg = np.degrees(np.arccos(_dot(u, w) / (_norm(u) * _norm(w))))
        return (deg > rng[0]) & (deg < rng[1])

    def fast(j: str, t: float) -> np.ndarray:
        return _norm(P(j) - Pp(j)) / tau > t

    with np.errstate(invalid="ignore", divide="ignore"):
        feats = [
            nmove("neck", "rhip", "lhip", "rwrist", 1.8 * HL), nmove("neck", "lhip", "rhip", "lwrist", 1.8 * HL),
            nplane("chest", "neck", "neck", "rwrist", 0.2 * HL), nplane("chest", "neck", "neck", "lwrist", 0.2 * HL),
            move("belly", "chest", "chest", "rwrist", 1.8 * HL), move("belly", "chest", "chest", "lwrist", 1.8 * HL),
            angle("relbow", "rshoulder", "relbow", "rwrist", (0, 110)),
            angle("lelbow", "lshoulder", "lelbow", "lwrist", (0, 110)),
            nplane("lshoulder", "rshoulder", "lwrist", "rwrist", 2.5 * SW),
            move("lwrist", "rwrist", "rwrist", "lwrist", 1.4 * HL), move("rwrist", "root", "lwrist", "root", 1.4 * HL),
            move("lwrist", "root", "rwrist", "root", 1.4 * HL),
            fast("rwrist", 2.5 * HL), fast("lwrist", 2.5 * HL),
            plane("root", "lhip", "ltoes", "rankle", 0.38 * HL), plane("root", "rhip", "rtoes", "lankle", 0.38 * HL),
            nplane("zero", "y_unit", "y_min", "rankle", 1.2 * HL), nplane("zero", "y_unit", "y_min", "lankle", 1.2 * HL),
            nplane("lhip", "rhip", "lankle", "rankle", 2.1 * HW),
            angle("rknee", "rhip", "rknee", "rankle", (0, 110)), angle("lknee", "lhip", "lknee", "lankle", (0, 110)),
            fast("rankle", 2.5 * HL), fast("lankle", 2.5 * HL),
            angle("neck", "root", "rshoulder", "relbow", (25, 180)), angle("neck", "root", "lshoulder", "lelbow", (25, 180)),
            angle("neck", "root", "rhip", "rknee", (50, 180)), angle("neck", "root", "lhip", "lknee", (50, 180)),
            plane("rankle", "neck", "lankle", "root", 0.5 * HL),
            angle("neck", "root", "zero", "y_unit", (70, 110)),
            nplane("zero", "minus_y_unit", "y_min", "rwrist", -1.2 * HL),
            nplane("zero", "minus_y_unit", "y_min", "lwrist", -1.2 * HL),
            fast("root", 2.3 * HL),
        ]
    flags = np.stack(feats, -1)  # (B, T−1, 32) bool
    # The reference averages a float32 (T−1, 32) array per sequence; do the same per sequence.
    out = np.stack([f.astype(dtype).mean(axis=0) for f in flags])
    return out[0] if single else out
