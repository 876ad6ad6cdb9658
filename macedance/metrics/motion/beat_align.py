"""Beat Alignment Score (BAS) in both directions, with the reference codes' envelope variants.

* Motion envelope: joint speed per frame — ``"mean_next"`` (Bailando/LODGE/MACE: mean over joints
  of ‖p[t+1] − p[t]‖, length T−1) or ``"sum_prev"`` (FACT: sum over joints of ‖p[t] − p[t−1]‖
  with v[0] = 0, length T, float32).
* Optional Gaussian smoothing (``scipy.ndimage.gaussian_filter1d``, σ in frames); motion beats are
  the local minima (``scipy.signal.argrelextrema(np.less, order)``).
* Score: ``"music_to_motion"`` (Bailando, LODGE, MACE) = mean over music beats b of
  exp(−min_m (m − b)² / 2σ²); ``"motion_to_music"`` (FACT) = mean over motion beats m of
  exp(−min_b (b − m)² / 2σ²).

Undefined cases (no music beat, no motion beat) return ``None`` unless an ``empty`` value is given
(FACT returns 0 when there is no motion beat; MACE returns 0 in both cases).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema


def motion_envelope(joints: np.ndarray, mode: str = "mean_next") -> np.ndarray:
    """Per-frame joint speed envelope of (T, J, C) positions (C = 2 or 3)."""
    p = np.asarray(joints)
    if mode == "mean_next":
        return np.mean(np.sqrt(np.sum((p[1:] - p[:-1]) ** 2, axis=2)), axis=1)
    if mode == "sum_prev":
        vel = np.zeros_like(p, dtype=np.float32)
        vel[1:] = p[1:] - p[:-1]
        return np.sum(np.linalg.norm(vel, axis=2), axis=1)
    raise ValueError(f"unknown envelope mode {mode!r}")


def motion_beats(envelope: np.ndarray, smoothing: float | None = None, order: int = 1) -> np.ndarray:
    """Frame indices of local minima of the (optionally Gaussian-smoothed, σ in frames) envelope."""
    env = gaussian_filter1d(envelope, smoothing) if smoothing else envelope
    return argrelextrema(env, np.less, order=order)[0]


def beat_align_score(
    music_beats: np.ndarray,
    motion_beat_idx: np.ndarray,
    *,
    sigma: float = 3.0,
    direction: str = "music_to_motion",
    empty: float | None = None,
) -> float | None:
    """BAS of one sequence from beat frame indices (same frame rate for both).

    Args:
        music_beats: music beat frame indices.
        motion_beat_idx: motion beat frame indices.
        sigma: Gaussian width in frames.
        direction: ``"music_to_motion"`` or ``"motion_to_music"``.
        empty: value returned when there is no motion beat (and, music→motion, no music beat);
            ``None`` = undefined.
    """
    mb = np.asarray(music_beats)
    db = np.asarray(motion_beat_idx)
    if len(db) == 0:
        return empty
    if len(mb) == 0:  # FACT crashes here (undefined); MACE returns 0
        return empty if direction == "music_to_motion" else None
    src, dst = (mb, db) if direction == "music_to_motion" else (db, mb)
    d = np.abs(src[:, None] - dst[None, :]).min(axis=1)
    if direction == "music_to_motion":
        return float(np.exp(-(d.astype(np.float64) ** 2) / 2 / sigma**2).sum() / len(src))
    d32 = d.astype(np.float32)  # FACT computes distances in float32
    return float(sum(np.exp(-(d32**2) / 2 / sigma**2)) / len(src))
