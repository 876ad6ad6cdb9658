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


def _window_bounds(T: int, window: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """For centres i = 1..T−1: first and last m of [i−w, i+w] ∩ [1, last]."""
    i = np.arange(1, T)
    return np.maximum(1, i - window), np.minimum(last, i + window)


def kinetic_features_3d(
    joints: np.ndarray,
    *,
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
    dt = frame_time

    # Windowed velocity: Σ_{m=lo..hi} (p[m] − p[m−1]) telescopes to p[hi] − p[lo−1].
    # (In-place arithmetic below: these arrays are large and temporaries dominate the cost.)
    lo, hi = _window_bounds(T, window, T - 1)
    vel = p[:, hi]
    vel -= p[:, lo - 1]
    vel /= ((hi - lo + 1) * dt)[None, :, None, None]
    sq = np.einsum("btjc,btjc->bjc", vel, vel)  # Σ_i v_i² per component
    h = sq[..., horiz[0]] + sq[..., horiz[1]]
    v = sq[..., up]

    # Windowed acceleration over m = 1..T−2 by prefix sums (no per-frame Python loop).
    term = p[:, 2:] - p[:, 1:-1]
    term /= dt  # v2
    if accel_bug:
        v1 = p[:, :-2] / dt
        np.subtract(p[:, 1:-1], v1, out=v1)  # p[m] − p[m−1]/dt, as the reference
    else:
        v1 = p[:, 1:-1] - p[:, :-2]
        v1 /= dt
    term -= v1
    term /= dt  # index k ↔ m = k + 1
    csum = np.empty((p.shape[0], T - 1) + p.shape[2:])
    csum[:, 0] = 0.0
    np.cumsum(term, axis=1, out=csum[:, 1:])
    lo_a, hi_a = _window_bounds(T, window, T - 2)
    acc = csum[:, hi_a]
    acc -= csum[:, lo_a - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc /= (hi_a - lo_a + 1.0)[None, :, None, None]
    e = np.sqrt(np.einsum("btjc,btjc->btj", acc, acc)).sum(axis=1)

    n = T - 1.0
    feats = np.stack([h / n, v / n, e / n], axis=-1)  # (B, J, 3)
    out = feats.reshape(feats.shape[0], -1).astype(dtype)
    return out[0] if single else out
