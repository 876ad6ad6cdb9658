"""FVD: Fréchet distance between I3D (Kinetics-400, TF-Hub weights) logits of two sets of clips.

Each video contributes its first ``frames`` frames (16), resized to 224×224 if needed (bilinear,
no crop — the original FVD's ``tf.image.resize_bilinear`` policy; videos already at 224×224, as in
the parity fixture, are used unchanged), scaled to [−1, 1] (x/127.5 − 1) and passed through I3D;
the 400 time-averaged logits are the features. Presets: ``stylegan-v`` (2048 videos × 16 frames in
the published protocol; here whatever the folders hold) and ``disco`` (16 frames, bicubic resize).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from macedance.errors import MaceDanceError
from macedance.metrics.motion.frechet import frechet_distance, gaussian_stats
from macedance.metrics.score import Score
from macedance.metrics.video.i3d import InceptionI3d
from macedance.weights import load_weights

FVD_PRESETS = {"stylegan-v": {"frames": 16, "resize": "bilinear"}, "disco": {"frames": 16, "resize": "bicubic"}}


def load_i3d(device: str = "cpu") -> torch.nn.Module:
    model = InceptionI3d()
    model.load_state_dict(load_weights("i3d-kinetics-400"))
    return model.eval().to(device)


def first_frames(frames: np.ndarray, n: int = 16) -> np.ndarray:
    """The first ``n`` of (T, H, W, 3) frames; a shorter video repeats its last frame."""
    if len(frames) == 0:
        raise MaceDanceError("video without frames")
    if len(frames) < n:
        frames = np.concatenate([frames, np.repeat(frames[-1:], n - len(frames), axis=0)])
    return frames[:n]


def clip_tensor(frames: np.ndarray, n: int = 16, resize: str = "bilinear") -> torch.Tensor:
    """(T, H, W, 3) uint8 → (n, 224, 224, 3) float32 in [−1, 1]; shorter videos repeat their last frame."""
    x = torch.as_tensor(first_frames(frames, n)).float()
    if x.shape[1:3] != (224, 224):
        x = F.interpolate(x.permute(0, 3, 1, 2), size=(224, 224), mode=resize, align_corners=False).permute(0, 2, 3, 1)
        x = x.clamp(0, 255)
    return x / 127.5 - 1


@torch.no_grad()
def i3d_features(model: torch.nn.Module, clips: Iterable[np.ndarray], *, preset: str = "stylegan-v", batch: int = 8,
                 device: str = "cpu", progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(N, 400) float64 logits of a stream of (T, H, W, 3) uint8 videos, batched."""
    cfg = FVD_PRESETS[preset]
    feats, buf = [], []
    for clip in clips:
        buf.append(clip_tensor(clip, cfg["frames"], cfg["resize"]))
        if len(buf) == batch:
            feats.append(model(torch.stack(buf).to(device)).double().cpu().numpy())
            buf = []
            if progress:
                progress(sum(len(f) for f in feats))
    if buf:
        feats.append(model(torch.stack(buf).to(device)).double().cpu().numpy())
    return np.concatenate(feats) if feats else np.zeros((0, 400))


def fvd_from_features(pred: np.ndarray, gt: np.ndarray, method: str = "sqrtm") -> Score:
    """FVD of (n, 400) logits (Fréchet distance, √(Σ1Σ2) by ``method``: see
    :func:`~macedance.metrics.motion.frechet.frechet_distance`), ``n`` the generated videos; undefined with fewer
    than 2 videos per set (then without details)."""
    if len(pred) < 2 or len(gt) < 2:
        return Score(None, f"needs ≥ 2 videos per set ({len(pred)} generated, {len(gt)} real)", len(pred), None)
    mu1, s1 = gaussian_stats(pred)
    mu2, s2 = gaussian_stats(gt)
    res = frechet_distance(mu1, s1, mu2, s2, eps=1e-6, method=method)
    return Score(res.value, None, len(pred), {"eps_retry": res.eps_retry, "singular": res.singular, "frechet_sqrt": method})
