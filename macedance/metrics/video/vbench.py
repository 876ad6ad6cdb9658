"""VBench's no-reference metrics of the generated videos, with the ground truth's value beside them: subject
and background consistency (DINO / CLIP features, :mod:`~macedance.metrics.video.consistency`), motion
smoothness (AMT-S), aesthetic quality (CLIP ViT-L/14 + LAION's linear head), imaging quality (MUSIQ-SPAQ) and
temporal flickering, as defined at :data:`VBENCH_REF`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.video import iter_frames
from macedance.metrics.score import Score
from macedance.metrics.video import frame_metrics
from macedance.metrics.video.consistency import clip_transform, motion_smoothness, pooled, video_consistency
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.metrics.video.networks import installed_weights, load_network
from macedance.metrics.video.per_video import cached_result, chunks, set_features

VBENCH_REF = "Vchitect/VBench@45e79ec"


def score_vbench(metric: str, name: str, inputs: VideoInputs) -> dict[str, Score]:
    """VBench subject / background consistency or motion smoothness (``metric``, with the network of the weights
    ``name``) of every generated and ground-truth video (no reference needed); the value is the generated set's,
    the ground truth's is reported next to it."""
    device = inputs.device
    model, sha, info = load_network(name, device)
    gpu = device.startswith("cuda")
    if metric == "motion-smoothness":
        def extract(path: Path) -> np.ndarray:
            v = motion_smoothness(model, iter_frames(path), device=device, batch=32 if gpu else 1)  # VBench: one pair per pass
            if v is None:
                raise MaceDanceError(f"{path}: motion smoothness needs ≥ 3 frames")
            return np.array([v])

        def value(rows: dict[str, np.ndarray]) -> float | None:
            return float(np.mean([r[0] for r in rows.values()])) if rows else None

        def per_video(r: np.ndarray) -> float | None:
            return float(r[0])
    else:
        transform = "dino" if name == "dino-vitb16" else "clip"

        def extract(path: Path) -> np.ndarray:
            return video_consistency(model, chunks(path, 64 if gpu else 16), transform=transform, device=device)

        def value(rows: dict[str, np.ndarray]) -> float | None:
            return pooled(rows.values())

        def per_video(r: np.ndarray) -> float | None:
            return float(r[0] / r[1]) if r[1] else None

    feats = set_features(inputs.pred, inputs.gt, metric, (metric, sha, VBENCH_REF), extract, inputs.skipped, inputs.progress)
    pred, gt = feats["pred"], feats["gt"]
    v = value(pred)
    aggregate = "mean over videos" if metric == "motion-smoothness" else "frame pairs pooled over videos (VBench's sim / cnt)"
    return {metric: Score(v, None if v is not None else "no generated video with ≥ 2 frames", len(pred),
                          info | {"gt_value": value(gt), "n_gt": len(gt), "definition": VBENCH_REF, "aggregate": aggregate,
                                  "per_video": {k: per_video(r) for k, r in pred.items()},
                                  "gt_per_video": {k: per_video(r) for k, r in gt.items()}})}


def score_flickering(inputs: VideoInputs) -> dict[str, Score]:
    """VBench temporal flickering of every generated video (no reference needed), averaged; the ground truth's beside it."""
    sets = {"pred": inputs.pred, "gt": inputs.gt}
    total, done = sum(len(v) for v in sets.values()), 0
    per: dict[str, dict[str, float]] = {"pred": {}, "gt": {}}
    for role, videos in sets.items():
        for stem, path in videos.items():
            if inputs.progress:
                inputs.progress(done, total, f"flickering {stem}")
            done += 1
            try:
                v = cached_result("video-flickering", (VBENCH_REF, sha256_file(path)),
                                  lambda path=path: frame_metrics.temporal_flickering(iter_frames(path)))
            except MaceDanceError as exc:
                inputs.skipped.append({"video": f"{role}/{stem}", "reason": str(exc)})
                continue
            if v is not None:
                per[role][stem] = v
    pred, gt = per["pred"], per["gt"]
    return {"temporal-flickering": Score(float(np.mean(list(pred.values()))) if pred else None,
                                         None if pred else "no generated video with ≥ 2 frames", len(pred),
                                         {"per_video": pred, "gt_value": float(np.mean(list(gt.values()))) if gt else None, "n_gt": len(gt)})}


AESTHETIC_BATCH = 32  # VBench's batch_size: the frames encoded together (it sets the matmul shapes)


def aesthetic_quality(clip_model: torch.nn.Module, head: torch.nn.Module, chunks: Iterable[np.ndarray], *,
                      device: str = "cpu") -> float | None:
    """VBench's ``laion_aesthetic`` for one video given as (≤ 32, H, W, 3) uint8 chunks of its frames: each frame's
    CLIP image embedding (float32, L2-normalised) through the LAION linear head, divided by 10, averaged over the
    frames; None for a video without frames."""
    scores = []
    for frames in chunks:
        x = clip_transform(frames).to(device)
        with torch.no_grad():
            feats = F.normalize(clip_model(x).to(torch.float32), dim=-1, p=2)
            scores.append(head(feats).squeeze(dim=-1))
    if not scores:
        return None
    return float(torch.mean(torch.cat(scores, dim=0) / 10, dim=0, keepdim=True).item())


def aesthetic_head(device: str) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """The imported LAION head (``nn.Linear(width, 1)``), its sha256 and record fields."""
    state, sha, info = installed_weights("laion-aesthetic-l14")
    head = torch.nn.Linear(int(state["weight"].shape[1]), 1)
    head.load_state_dict(state)
    return head.eval().to(device), sha, info


def score_aesthetic(inputs: VideoInputs) -> dict[str, Score]:
    """VBench aesthetic quality (CLIP ViT-L/14 + the LAION head) of every generated and ground-truth video: the
    mean over the generated videos of each video's mean frame score; the ground truth's beside it."""
    device = inputs.device
    clip_model, clip_sha, info = load_network("clip-vit-l14", device)
    head, head_sha, head_info = aesthetic_head(device)
    if head.in_features != clip_model.proj.shape[1]:
        raise MaceDanceError(f"weights 'laion-aesthetic-l14' take {head.in_features}-d embeddings, 'clip-vit-l14' gives "
                             f"{clip_model.proj.shape[1]}-d")

    def extract(path: Path) -> np.ndarray:
        v = aesthetic_quality(clip_model, head, chunks(path, AESTHETIC_BATCH), device=device)
        if v is None:
            raise MaceDanceError(f"{path}: no frames")
        return np.array([v])

    feats = set_features(inputs.pred, inputs.gt, "aesthetic-quality", ("aesthetic-quality", clip_sha, head_sha, VBENCH_REF), extract,
                         inputs.skipped, inputs.progress)
    pred, gt = feats["pred"], feats["gt"]

    def mean(rows: dict[str, np.ndarray]) -> float | None:
        return float(np.mean([r[0] for r in rows.values()])) if rows else None

    v = mean(pred)
    return {"aesthetic-quality": Score(v, None if v is not None else "no generated video with frames", len(pred),
                                       info | {"head_weights": head_info["weights"], "head_weights_sha256": head_sha,
                                               "gt_value": mean(gt), "n_gt": len(gt), "definition": VBENCH_REF,
                                               "aggregate": "mean over videos of the mean frame score / 10",
                                               "per_video": {k: float(r[0]) for k, r in pred.items()},
                                               "gt_per_video": {k: float(r[0]) for k, r in gt.items()}})}


IMAGING_MAX_SIDE = 512  # VBench's "longer" preprocessing: frames whose longer side exceeds it are resized to it


def imaging_quality(model: torch.nn.Module, frames: Iterable[np.ndarray], *, device: str = "cpu") -> float | None:
    """VBench's ``technical_quality`` (mode "longer") for one video: each (H, W, 3) uint8 frame as float, bilinearly
    resized (no antialias) to a longer side of 512 when larger, / 255, scored by MUSIQ (0–100); the mean over
    frames (None without frames)."""
    from torchvision.transforms import functional as TF

    acc, n = 0.0, 0
    for frame in frames:
        x = torch.Tensor(np.asarray(frame)[None]).permute(0, 3, 1, 2)  # as VBench's load_video: float32 (1, C, H, W)
        h, w = x.shape[-2:]
        if max(h, w) > IMAGING_MAX_SIDE:
            scale = IMAGING_MAX_SIDE / max(h, w)
            x = TF.resize(x, [int(scale * h), int(scale * w)], antialias=False)
        with torch.no_grad():
            acc += float(model((x / 255.0).to(device)))
        n += 1
    return acc / n if n else None


def score_imaging(inputs: VideoInputs) -> dict[str, Score]:
    """VBench imaging quality (MUSIQ-SPAQ) of every generated and ground-truth video: the mean over videos of each
    video's mean frame score, / 100 (per-video values on the same 0–1 scale); the ground truth's beside it."""
    from macedance.io.video import iter_frames

    model, sha, info = load_network("musiq-spaq", inputs.device)

    def extract(path: Path) -> np.ndarray:
        v = imaging_quality(model, iter_frames(path), device=inputs.device)
        if v is None:
            raise MaceDanceError(f"{path}: no frames")
        return np.array([v])

    feats = set_features(inputs.pred, inputs.gt, "imaging-quality", ("imaging-quality", sha, VBENCH_REF, "longer"), extract,
                         inputs.skipped, inputs.progress)
    pred, gt = feats["pred"], feats["gt"]

    def mean(rows: dict[str, np.ndarray]) -> float | None:
        return float(sum(r[0] for r in rows.values()) / len(rows) / 100.0) if rows else None

    v = mean(pred)
    return {"imaging-quality": Score(v, None if v is not None else "no generated video with frames", len(pred),
                                     info | {"gt_value": mean(gt), "n_gt": len(gt), "definition": VBENCH_REF,
                                             "preprocessing": "longer side ≤ 512 (bilinear, no antialias), / 255",
                                             "aggregate": "mean over videos of the mean frame score, / 100",
                                             "per_video": {k: float(r[0]) / 100.0 for k, r in pred.items()},
                                             "gt_per_video": {k: float(r[0]) / 100.0 for k, r in gt.items()}})}


_NETWORKS = (("subject-consistency", "dino-vitb16"), ("background-consistency", "clip-vit-b32"), ("motion-smoothness", "amt-s"))
METRICS = (
    *(VideoMetric(metric, "vbench", ("sets",), (name,), partial(score_vbench, metric, name)) for metric, name in _NETWORKS),
    VideoMetric("aesthetic-quality", "vbench", ("sets",), ("clip-vit-l14", "laion-aesthetic-l14"), score_aesthetic),
    VideoMetric("imaging-quality", "vbench", ("sets",), ("musiq-spaq",), score_imaging),
    VideoMetric("temporal-flickering", "vbench", ("videos",), (), score_flickering),
)
