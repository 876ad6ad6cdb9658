"""PFC, Physical Foot Contact (EDGE, ``eval/eval_pfc.py``), vectorised over sequences.

Per sequence of z-up joints p (T, 24, 3):
1. root acceleration a_t = (p0[t+2] − 2 p0[t+1] + p0[t]) / dt² (as two differences), t = 0..T−3;
   its up component is clamped at 0; â_t = ‖a_t‖ / max_t ‖a_t‖;
2. horizontal foot displacement s_k(t) = ‖xy(p_k[t+2] − p_k[t+1])‖ for k = L ankle 7, L foot 10,
   R ankle 8, R foot 11 — in metres **per frame** in the legacy preset (``foot_speed="per_frame"``),
   or m/s (``"per_second"``);
3. PFC_seq = mean_t min(s7, s10) · min(s8, s11) · â_t.
The reported score is the mean over sequences times ``scale`` (10⁴ in EDGE).
A sequence whose root never accelerates (max ‖a‖ = 0) has no defined PFC and is reported as such.
"""

from __future__ import annotations

import numpy as np

from macedance.errors import ValidationError

FOOT_ORDER = (7, 10, 8, 11)


def pfc_per_sequence(joints: np.ndarray, dt: float = 1.0 / 30, *, up_axis: str = "z",
                     foot_speed: str = "per_frame") -> np.ndarray:
    """(B,) PFC of each sequence (NaN where undefined: the root never accelerates).

    Args:
        joints: (T, 24, 3) or (B, T, 24, 3) positions in metres, T ≥ 3.
        dt: seconds per frame of the formula (EDGE: 1/30).
        up_axis: ``"z"`` (EDGE) or ``"y"``.
        foot_speed: ``"per_frame"`` (EDGE) or ``"per_second"``.
    """
    p = np.asarray(joints)
    if p.ndim == 3:
        p = p[None]
    if p.ndim != 4 or p.shape[2] < 12 or p.shape[3] != 3 or p.shape[1] < 3:
        raise ValidationError("joints", "shape (B, T ≥ 3, 24, 3)", f"shape {np.shape(joints)}")
    up = {"y": 1, "z": 2}[up_axis]
    flat = [a for a in range(3) if a != up]
    root_v = (p[:, 1:, 0, :] - p[:, :-1, 0, :]) / dt
    root_a = (root_v[:, 1:] - root_v[:, :-1]) / dt
    root_a[..., up] = np.maximum(root_a[..., up], 0)
    root_a = np.linalg.norm(root_a, axis=-1)
    scaling = root_a.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        root_a = root_a / scaling
    feet = p[:, :, list(FOOT_ORDER)][..., flat]
    foot_v = np.linalg.norm(feet[:, 2:] - feet[:, 1:-1], axis=-1)
    if foot_speed == "per_second":
        foot_v = foot_v / dt
    left = np.minimum(foot_v[..., 0], foot_v[..., 1]).astype(np.float64)
    right = np.minimum(foot_v[..., 2], foot_v[..., 3]).astype(np.float64)
    out = (left * right * root_a).mean(axis=1)
    return np.where(scaling[:, 0] > 0, out, np.nan)
