"""Kinetic motion features (FID_k, Div_k), 3D and 2D.

3D (fairmotion / AIST++ API / Bailando ``extract_kinetic_features``), per joint j, in this order:

* ``h_j`` — mean over frames i = 1..T−1 of |v_i,horizontal|², where v_i is the windowed velocity:
  the sum of frame differences p[m] − p[m−1] for m ∈ [i−w, i+w] ∩ [1, T−1], divided by
  (count · frame_time);
* ``v_j`` — the same with the vertical component;
* ``e_j`` — "energy expenditure": mean over i of |a_i|, a_i the mean over m ∈ [i−w, i+w] ∩ [1, T−2]
  of (v2 − v1)/frame_time with v2 = (p[m+1] − p[m])/frame_time and, when ``accel_bug`` is on (every
  published copy), ``v1 = p[m] − p[m−1]/frame_time`` (operator precedence) instead of
  (p[m] − p[m−1])/frame_time.

Windowed sums are accumulated in the reference's order (k = −w..w), so results match the loops to
rounding. Output: (B, 3J), float32 like the reference (or float64 for the ``clean`` preset).
"""

from __future__ import annotations

import numpy as np

from macedance.errors import ValidationError


def _windowed_sum(x: np.ndarray, valid_lo: int, valid_hi: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For each centre i = 1..T−1, Σ x[m] over m = i−w..i+w with valid_lo ≤ m ≤ valid_hi, in order.

    Args:
        x: (B, T, ...) values indexed by m (entries outside the valid range are ignored).
    Returns:
        sums (B, T−1, ...) and counts (T−1,).
    """
    T = x.shape[1]
    centres = np.arange(1, T)
    total = np.zeros((x.shape[0], T - 1) + x.shape[2:], dtype=x.dtype)
    count = np.zeros(T - 1)
    for k in range(-window, window + 1):
        m = centres + k
        ok = (m >= valid_lo) & (m <= valid_hi)
        idx = np.clip(m, 0, T - 1)
        total = total + np.where(ok.reshape((1, -1) + (1,) * (x.ndim - 2)), x[:, idx], 0.0)
        count += ok
    return total, count


def kinetic_features_3d(
    joints: np.ndarray,
    frame_time: float = 1.0 / 60,
    up_axis: str = "y",
    window: int = 2,
    accel_bug: bool = True,
    dtype: type = np.float32,
) -> np.ndarray:
    """Kinetic features of 3D joint sequences.

    Args:
        joints: (T, J, 3) or (B, T, J, 3) positions in metres; all sequences of a batch share T.
        frame_time: seconds per frame used by the formulas (the reference uses 1/60 everywhere).
        up_axis: ``"y"`` or ``"z"``.
        window: sliding window half-width (2 in the reference).
        accel_bug: reproduce the energy-expenditure precedence bug.
        dtype: output dtype (float32 = reference).

    Returns:
        (3J,) or (B, 3J) features ``[h_0, v_0, e_0, h_1, …]``.
    """
    p = np.asarray(joints, dtype=np.float64)
    single = p.ndim == 3
    if single:
        p = p[None]
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValidationError("joints", "shape (T, J, 3) or (B, T, J, 3)", f"shape {np.shape(joints)}")
    T = p.shape[1]
    if T < 3:
        raise ValidationError("joints", "at least 3 frames for kinetic features", f"{T} frames")
    up = {"y": 1, "z": 2}[up_axis]
    horiz = [a for a in range(3) if a != up]

    d = np.zeros_like(p)
    d[:, 1:] = p[:, 1:] - p[:, :-1]  # d[m] = p[m] − p[m−1], valid for m ≥ 1
    vsum, vcount = _windowed_sum(d, 1, T - 1, window)
    vel = vsum / (vcount[None, :, None, None] * frame_time)  # (B, T−1, J, 3)
    h = np.sqrt((vel[..., horiz] ** 2).sum(-1)) ** 2
    v = np.abs(vel[..., up]) ** 2

    acc = np.zeros_like(p)
    v2 = (p[:, 2:] - p[:, 1:-1]) / frame_time  # m = 1..T−2
    v1 = p[:, 1:-1] - p[:, :-2] / frame_time if accel_bug else (p[:, 1:-1] - p[:, :-2]) / frame_time
    acc[:, 1:-1] = (v2 - v1) / frame_time
    asum, acount = _windowed_sum(acc, 1, T - 2, window)
    e = np.sqrt(((asum / acount[None, :, None, None]) ** 2).sum(-1))

    n = T - 1.0
    feats = np.stack([h.sum(1) / n, v.sum(1) / n, e.sum(1) / n], axis=-1)  # (B, J, 3)
    out = feats.reshape(feats.shape[0], -1).astype(dtype)
    return out[0] if single else out
