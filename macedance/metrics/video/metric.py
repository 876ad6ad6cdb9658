"""What a video metric is (:class:`VideoMetric`: the inputs and weights it needs and the function that scores it)
and what every metric is scored from (:class:`VideoInputs`). The registry is
:data:`macedance.metrics.video.evaluate.VIDEO_METRICS`; the meaning of each score is :mod:`macedance.metrics.spec`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from macedance.metrics.score import Score

Progress = Callable[[int, int, str], None]

#: What a metric is computed from: ``pairs``, the frames of generated and ground-truth videos matched by stem;
#: ``videos``, the generated videos; ``sets``, the generated and the ground-truth videos as two sets; ``ref``, a
#: reference image per generated video (by stem); ``music``, the music of each video (by stem).
Input = Literal["pairs", "videos", "sets", "ref", "music"]
#: The modules that score the metrics, in the order they run: the order of the scores in a result.
Family = Literal["paired", "frechet", "identity", "vbench", "motion-2d"]
FAMILIES: tuple[Family, ...] = ("paired", "frechet", "identity", "vbench", "motion-2d")

VideoPreset = Literal["clean", "disco-legacy"]
PRESETS: tuple[VideoPreset, ...] = ("clean", "disco-legacy")
# √(Σ1Σ2) of every Fréchet score (FID, FID-VID, FVD, cd-FVD) per preset: the references' scipy sqrtm
# under disco-legacy; the exact symmetric eigendecomposition form (same value with full-rank
# covariances, accurate when rank-deficient, 4–10× faster at 2048-d) under clean.
FRECHET_METHOD: dict[str, str] = {"clean": "eigh", "disco-legacy": "sqrtm"}

#: Keys of a score in ``eval video`` results, in order (see :meth:`~macedance.metrics.score.Score.to_dict`).
VIDEO_KEYS = ("value", "n", "undefined_reason", "details")


@dataclass
class VideoInputs:
    """Everything a video metric is scored from, and what the evaluation records about its inputs.

    Attributes:
        pred, gt: generated and ground-truth videos by file stem, in file order.
        preset: ``clean`` or ``disco-legacy``; fvd_preset: resizing of FVD clips.
        device: torch device of the feature networks.
        ref: folder of reference images (or videos: first frame) by stem; music: folder of music by stem.
        pose_backend, pose_weights: 2D pose estimator of ``motion-2d``.
        progress: called with (done, total, what).
        warm: only the per-video results matter (a shard of a Ray run): a set too small to score is no error.
        skipped: videos left out, with the reason (appended to by the metrics).
        policy: the pairing policy and its counts (``truncated``, ``resized``: updated by the paired metrics).
    """

    pred: dict[str, Path]
    gt: dict[str, Path]
    preset: str
    fvd_preset: str
    device: str
    ref: Path | None = None
    music: Path | None = None
    pose_backend: str = "mediapipe"
    pose_weights: str | Path | None = None
    progress: Progress | None = None
    warm: bool = False
    skipped: list[dict[str, str]] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def pairs(self) -> list[str]:
        """Stems present in both sets, sorted."""
        return sorted(set(self.pred) & set(self.gt))

    @property
    def frechet(self) -> str:
        """√(Σ1Σ2) method of the Fréchet scores under the preset."""
        return FRECHET_METHOD[self.preset]


@dataclass(frozen=True)
class VideoMetric:
    """One metric of ``eval video``.

    Attributes:
        name: the name asked for in ``metrics`` (and, but for ``motion-2d``, the key of its score).
        family: the module that scores it (:data:`FAMILIES`).
        inputs: what it is computed from (:data:`Input`).
        weights: the weight entries (:mod:`macedance.weights`) it may load.
        score: computes its scores, by name; ``None`` for the ``paired`` family, whose requested metrics
            :func:`macedance.metrics.video.paired.score_pairs` scores together (one decoding of each pair).
        reports: the names of its scores (default: ``name``).
        keys: the keys of each of its scores in the result, in order.
    """

    name: str
    family: Family
    inputs: tuple[Input, ...]
    weights: tuple[str, ...] = ()
    score: Callable[[VideoInputs], dict[str, Score]] | None = None
    reports: tuple[str, ...] = ()
    keys: tuple[str, ...] = VIDEO_KEYS

    @property
    def scores(self) -> tuple[str, ...]:
        """The names of the scores it reports."""
        return self.reports or (self.name,)
