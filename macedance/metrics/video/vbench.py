"""VBench's no-reference metrics of the generated videos, with the ground truth's value beside them: subject
and background consistency (DINO / CLIP features, :mod:`~macedance.metrics.video.consistency`), motion
smoothness (AMT-S) and temporal flickering, as defined at :data:`VBENCH_REF`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.video import iter_frames
from macedance.metrics.score import Score
from macedance.metrics.video import frame_metrics
from macedance.metrics.video.consistency import motion_smoothness, pooled, video_consistency
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.metrics.video.networks import load_network
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
    """VBench temporal flickering of every generated video (no reference needed), averaged."""
    per: dict[str, float] = {}
    for i, (stem, path) in enumerate(inputs.pred.items()):
        if inputs.progress:
            inputs.progress(i, len(inputs.pred), f"flickering {stem}")
        try:
            v = cached_result("video-flickering", (VBENCH_REF, sha256_file(path)),
                              lambda path=path: frame_metrics.temporal_flickering(iter_frames(path)))
        except MaceDanceError as exc:
            inputs.skipped.append({"video": f"pred/{stem}", "reason": str(exc)})
            continue
        if v is not None:
            per[stem] = v
    return {"temporal-flickering": Score(float(np.mean(list(per.values()))) if per else None,
                                         None if per else "no generated video with ≥ 2 frames", len(per), {"per_video": per})}


_NETWORKS = (("subject-consistency", "dino-vitb16"), ("background-consistency", "clip-vit-b32"), ("motion-smoothness", "amt-s"))
METRICS = (
    *(VideoMetric(metric, "vbench", ("sets",), (name,), partial(score_vbench, metric, name)) for metric, name in _NETWORKS),
    VideoMetric("temporal-flickering", "vbench", ("videos",), (), score_flickering),
)
