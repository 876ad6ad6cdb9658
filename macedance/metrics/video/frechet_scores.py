"""Set metrics that are Fréchet distances of per-video (or per-frame) features of the generated and the
ground-truth videos: FVD (I3D), cd-FVD (VideoMAE-v2), frame FID (Inception-v3) and FID-VID (3D-ResNet-50).
Feature rows are cached per video (:func:`~macedance.metrics.video.per_video.set_features`); √(Σ1Σ2) is
computed by the preset's method (:data:`~macedance.metrics.video.metric.FRECHET_METHOD`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.video import read_video
from macedance.metrics.motion.frechet import Moments, frechet_distance, gaussian_stats
from macedance.metrics.score import Score
from macedance.metrics.video.fvd import FVD_PRESETS, clip_tensor, first_frames, fvd_from_features, load_i3d
from macedance.metrics.video.inception import FIDInception
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.metrics.video.networks import installed_weights, load_network
from macedance.metrics.video.per_video import chunks, set_features, stack_rows
from macedance.metrics.video.resnet3d import ResNet3D50, video_features
from macedance.metrics.video.videomae import FRAMES, preprocess
from macedance.weights import weights_file

#: Keys of the FVD score in a result, in order (``details`` absent when undefined).
FVD_KEYS = ("value", "undefined_reason", "details", "n")


def clip_batch(device: str) -> int:
    """Videos per forward pass of the clip-level networks (I3D, VideoMAE): batched on a GPU."""
    return 16 if device.startswith("cuda") else 1


def _no_grad(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return torch.no_grad()(model)


def frechet_score(pred: Any, gt: Any, unit: str, info: dict[str, Any], ddof: int = 1, eps: float = 1e-6,
                  method: str = "sqrtm") -> Score:
    """Fréchet distance of two feature sets — (n, d) rows or running
    :class:`~macedance.metrics.motion.frechet.Moments` — with the ε retry (``eps`` 0: none), undefined with
    fewer than 2 rows per set. ``ddof`` 1: ``np.cov``; 0: the biased covariance of StyleGAN-V / cd-fvd.
    ``method``: ``FRECHET_METHOD`` of the preset (recorded as ``details.frechet_sqrt``)."""
    n_pred, n_gt = (x.n if isinstance(x, Moments) else len(x) for x in (pred, gt))
    if n_pred < 2 or n_gt < 2:
        return Score(None, f"needs ≥ 2 {unit} per set ({n_pred}, {n_gt})", n_pred, info)
    stats = [x.stats(ddof) if isinstance(x, Moments) else gaussian_stats(np.asarray(x, dtype=np.float64)) for x in (pred, gt)]
    if not all(np.isfinite(a).all() for st in stats for a in st):  # sqrtm/eigh would raise on them
        return Score(None, "the features have non-finite statistics (a network output overflowed)", n_pred, info)
    res = frechet_distance(*stats[0], *stats[1], eps=eps, method=method)
    details = info | {"eps_retry": res.eps_retry, "singular": res.singular, "frechet_sqrt": method}
    if not np.isfinite(res.value):  # √(Σ1Σ2) not finite even after the ε retry (or with ε = 0): no distance to report
        return Score(None, f"the Fréchet distance is not finite ({res.value}): √(Σ1Σ2) failed", n_pred, details)
    return Score(res.value, None, n_pred, details)


def score_fvd(inputs: VideoInputs) -> dict[str, Score]:
    """FVD: Fréchet distance of the I3D logits of each video's first 16 frames (:mod:`~macedance.metrics.video.fvd`)."""
    device = inputs.device
    model = load_i3d(device)
    sha = sha256_file(weights_file("i3d-kinetics-400"))
    cfg = FVD_PRESETS[inputs.fvd_preset]
    feats = set_features(inputs.pred, inputs.gt, "I3D", ("i3d", sha, inputs.fvd_preset),
                         lambda path: clip_tensor(read_video(path, cfg["frames"])[0], cfg["frames"], cfg["resize"]),
                         inputs.skipped, inputs.progress, forward=lambda x: _no_grad(model)(x.to(device)).double().cpu().numpy(),
                         batch=clip_batch(device))
    pred, gt = (stack_rows(feats[r], 400) for r in ("pred", "gt"))
    return {"fvd": fvd_from_features(pred, gt, inputs.frechet)}


def score_cd_fvd(inputs: VideoInputs) -> dict[str, Score]:
    """Content-debiased FVD: Fréchet distance of VideoMAE-v2 features (cd-fvd's preprocessing, biased covariance)."""
    device = inputs.device
    model, sha, info = load_network("videomae-v2-g-ssv2", device)
    feats = set_features(inputs.pred, inputs.gt, "VideoMAE", ("videomae-v2", sha, "cd-fvd-0.1.1"),
                         lambda path: preprocess(first_frames(read_video(path, FRAMES)[0], FRAMES)), inputs.skipped, inputs.progress,
                         forward=lambda x: _no_grad(model)(x.to(device)).float().cpu().numpy(), batch=clip_batch(device))
    moments = {r: Moments() for r in ("pred", "gt")}
    for r in moments:
        for row in feats[r].values():
            moments[r].add(row[None].astype(np.float32))
    return {"cd-fvd": frechet_score(moments["pred"], moments["gt"], "videos", info | {
        "features": "VideoMAE-v2 fc_norm(mean token), 16 frames resized to 224×224 in [0, 1] (cd-fvd 0.1.1)",
        "covariance": "biased (Σxxᵀ/n − μμᵀ, cd-fvd's FeatureStats)", "n_gt": moments["gt"].n,
        "resampling": "none: each video once (cd-fvd's folder loader repeats random clips until n_fake = 2048)"},
        ddof=0, eps=0.0, method=inputs.frechet)}


@torch.no_grad()
def score_frame_fid(inputs: VideoInputs, batch: int = 32) -> dict[str, Score]:
    """FID over all frames of the generated vs the ground-truth videos (pytorch-fid's network and
    preprocessing: [0, 1] frames, bilinear resize to 299, pool3 features; float64 statistics)."""
    device = inputs.device
    state, sha, info = installed_weights("inception-fid")
    model = FIDInception()
    model.load_fid_state_dict(state)
    model = model.eval().to(device)

    def extract(path: Path) -> np.ndarray:
        out = [model(torch.as_tensor(c, device=device).permute(0, 3, 1, 2).float() / 255.0).cpu() for c in chunks(path, batch)]
        if not out:
            raise MaceDanceError(f"{path}: the video has no frames")
        return torch.cat(out).numpy().astype(np.float32)

    moments = {"pred": Moments(), "gt": Moments()}  # all frames of all videos: running moments, not rows
    set_features(inputs.pred, inputs.gt, "Inception", ("inception-fid", sha, "all-frames"), extract, inputs.skipped, inputs.progress,
                 sink=lambda role, rows: moments[role].add(rows))
    return {"fid": frechet_score(moments["pred"], moments["gt"], "frames", info | {"frames_pred": moments["pred"].n,
                                                                                   "frames_gt": moments["gt"].n}, method=inputs.frechet)}


def score_fid_vid(inputs: VideoInputs) -> dict[str, Score]:
    """DisCo's FID-VID ("FVD-3DRN50"): Fréchet distance of per-video 3D-ResNet-50 features."""
    device = inputs.device
    state, sha, info = installed_weights("resnet3d-50-kinetics")
    model = ResNet3D50()
    model.load_state_dict(state)
    model = model.eval().to(device)

    def extract(path: Path) -> np.ndarray:  # streamed 16-frame segments (the last padded), averaged
        segments = [video_features(model, c, device=device) for c in chunks(path, 16)]
        if not segments:
            raise MaceDanceError(f"{path}: the video has no frames")
        return np.mean(segments, axis=0, dtype=np.float32)

    feats = set_features(inputs.pred, inputs.gt, "3D-ResNet", ("resnet3d-50", sha, "disco-16"), extract, inputs.skipped, inputs.progress)
    # float32 rows: the means in float32, as DisCo
    pred, gt = (stack_rows(feats[r], 2048, np.float32) for r in ("pred", "gt"))
    return {"fid-vid": frechet_score(pred, gt, "videos", info | {"segments": "16 frames, last padded with the final frame; mean per video"},
                                     method=inputs.frechet)}


METRICS = (
    VideoMetric("fvd", "frechet", ("sets",), ("i3d-kinetics-400",), score_fvd, keys=FVD_KEYS),
    VideoMetric("cd-fvd", "frechet", ("sets",), ("videomae-v2-g-ssv2",), score_cd_fvd),
    VideoMetric("fid", "frechet", ("sets",), ("inception-fid",), score_frame_fid),
    VideoMetric("fid-vid", "frechet", ("sets",), ("resnet3d-50-kinetics",), score_fid_vid),
)
