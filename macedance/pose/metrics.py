"""Pose-estimation accuracy: MPJPE and PA-MPJPE of 3D joints (vectorised over frames).

Both take (T, J, 3) predicted and ground-truth joints in metres and return the mean over frames and
joints in millimetres:

* :func:`mpjpe` — root-aligned: each frame's root joint (index 0, the SMPL pelvis) is subtracted from
  both sides; no rotation or scale alignment (the usual "MPJPE" of 3D human pose estimation).
* :func:`pa_mpjpe` — after a per-frame similarity Procrustes alignment (rotation, translation and
  scale, reflections excluded) of the prediction onto the ground truth.
"""

from __future__ import annotations

import numpy as np


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"expected two (T, J, 3) arrays of the same shape, got {p.shape} and {g.shape}")
    return p, g


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Root-aligned mean per-joint position error, mm."""
    p, g = _check(pred, gt)
    return float(np.linalg.norm((p - p[:, :1]) - (g - g[:, :1]), axis=-1).mean() * 1000)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(T, J, 3) ``pred`` moved by the per-frame similarity transform that best fits it to ``gt``."""
    p, g = _check(pred, gt)
    pm, gm = p.mean(1, keepdims=True), g.mean(1, keepdims=True)
    p0, g0 = p - pm, g - gm
    U, S, Vt = np.linalg.svd(np.swapaxes(p0, 1, 2) @ g0)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(S)
    D[:, -1] = d
    R = (U * D[:, None, :]) @ Vt
    scale = (S * D).sum(-1) / np.maximum((p0**2).sum((1, 2)), 1e-12)
    return scale[:, None, None] * p0 @ R + gm


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error after per-frame Procrustes alignment, mm."""
    p, g = _check(pred, gt)
    return float(np.linalg.norm(procrustes_align(p, g) - g, axis=-1).mean() * 1000)
