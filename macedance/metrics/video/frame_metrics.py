"""Per-frame video metrics: SSIM, PSNR, L1 (and DisCo's legacy variants, kept for comparability).

``clean`` (default): SSIM of Wang et al. (Gaussian 11×11, σ 1.5, K1 0.01, K2 0.03) on RGB in
[0, 255], averaged over channels and pixels; PSNR from the float MSE over the whole video,
10·log10(255² / MSE); L1 = mean |a − b| on [0, 1]. ``disco-legacy`` reproduces DisCo's
``ssim_l1_lpips_psnr.py``: SSIM on grayscale uint8 with skimage's defaults (7×7 uniform window,
sample covariance), and its PSNR computed on uint8 arrays, where (a − b)² wraps modulo 256 — so the
MSE is at most 255 and the "PSNR" at least 24.07 dB by construction; it is not a true PSNR.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter


def _ssim_map(a: np.ndarray, b: np.ndarray, window: str, data_range: float = 255.0) -> np.ndarray:
    """SSIM map of two float64 images (H, W) with a Gaussian or a 7×7 uniform window."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if window == "gaussian":
        f = lambda x: gaussian_filter(x, 1.5, truncate=3.5, mode="reflect")
        cov_norm = 1.0
    else:
        f = lambda x: uniform_filter(x, size=7, mode="reflect")
        cov_norm = 49 / 48  # skimage's sample covariance
    ma, mb = f(a), f(b)
    va = cov_norm * (f(a * a) - ma * ma)
    vb = cov_norm * (f(b * b) - mb * mb)
    cab = cov_norm * (f(a * b) - ma * mb)
    return ((2 * ma * mb + c1) * (2 * cab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def _gray(frames: np.ndarray) -> np.ndarray:
    """OpenCV's BGR2GRAY on RGB uint8 frames: round(0.299 R + 0.587 G + 0.114 B)."""
    g = frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _frame_ssim(p: np.ndarray, g: np.ndarray, preset: str) -> float:
    if preset == "disco-legacy":
        m = _ssim_map(_gray(p).astype(np.float64), _gray(g).astype(np.float64), "uniform")
        return float(m[3:-3, 3:-3].mean())  # skimage crops the window border
    return float(np.mean([_ssim_map(p[..., c].astype(np.float64), g[..., c].astype(np.float64), "gaussian").mean() for c in range(3)]))


def ssim(pred: np.ndarray, gt: np.ndarray, preset: str = "clean") -> float:
    """Mean SSIM over frames of two (T, H, W, 3) uint8 videos of equal shape. Frames are scored in a pool of torch's
    thread count (scipy's filters release the GIL); each frame's value and their mean do not depend on it."""
    import torch

    if len(pred) != len(gt):
        raise ValueError(f"SSIM of videos with {len(pred)} and {len(gt)} frames")
    with ThreadPoolExecutor(max(1, min(16, torch.get_num_threads(), len(pred)))) as pool:
        vals = list(pool.map(_frame_ssim, pred, gt, repeat(preset)))
    return float(np.mean(vals))


def psnr(pred: np.ndarray, gt: np.ndarray, preset: str = "clean") -> float | None:
    """PSNR in dB; ``None`` for identical videos (infinite PSNR)."""
    if preset == "disco-legacy":
        vals = []
        for p, g in zip(pred, gt, strict=True):
            wrapped = float(np.mean((p - g) ** 2))  # uint8 arithmetic: wraps modulo 256 (DisCo's bug)
            vals.append(100.0 if wrapped == 0 else 20 * np.log10(255.0 / np.sqrt(wrapped)))
        return float(np.mean(vals))
    return psnr_from_mse(mse(pred, gt))


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean squared error in float64 over every pixel and channel (0–255 scale)."""
    return float(np.mean((pred.astype(np.float64) - gt.astype(np.float64)) ** 2))


def psnr_from_mse(value: float) -> float | None:
    """10·log10(255² / MSE) in dB; ``None`` for MSE 0 (identical inputs, infinite PSNR)."""
    return None if value == 0 else float(10 * np.log10(255.0**2 / value))


def temporal_flickering(frames: Iterable[np.ndarray]) -> float | None:
    """VBench's temporal flickering of one video — (T, H, W, 3) uint8 frames or a stream of (H, W, 3)
    frames: (255 − m) / 255, where m is the mean over consecutive frame pairs of the mean absolute
    difference over pixels and channels (1 = no change between frames). ``None`` for a single frame."""
    diffs, prev = [], None
    for frame in frames:
        f = frame.astype(np.float32)
        if prev is not None:
            diffs.append(np.mean(np.abs(f - prev)))
        prev = f
    if not diffs:
        return None
    m = float(np.mean(diffs))
    return (255.0 - m) / 255.0


def l1(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute difference on [0, 1]."""
    return float(np.mean(np.abs(pred.astype(np.float64) - gt.astype(np.float64))) / 255.0)
