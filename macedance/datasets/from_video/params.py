"""Every choice of ``macedance data build`` in one record (hashed into the resume state and the card)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from macedance.datasets.curation.dedupe import DEDUPE_MODES, DedupeMode
from macedance.datasets.curation.splits import check_split_fractions
from macedance.datasets.from_video.shots import ShotParams
from macedance.errors import ValidationError
from macedance.schema._check import choice

BUILD_VERSION = "6"  # bump when a change of the pipeline changes its outputs (5: physical refinement and checks; 6: provenance
# and near-duplicate columns, clip fingerprints in the resume state)


def _default_plausibility() -> dict[str, float]:
    from macedance.motion.plausibility import PLAUSIBLE

    return dict(PLAUSIBLE)


@dataclass(frozen=True)
class BuildParams:
    """Parameters of a dataset build.

    Attributes:
        min_clip, max_clip: clip length range, seconds.
        seed: seeds the window offsets/lengths and the splits.
        fps: frame rate of the written motions and music features (keypoints keep the source rate).
        pose_backend, pose_weights: 2D pose backend (``mediapipe`` or ``rtmlib`` + an ONNX file).
        pose_max_side: frames are downscaled so that their longer side is at most this before pose
            estimation (keypoints are returned in source pixels); 0 keeps the source size.
        pose_threads: clip windows posed in parallel threads, one pose model each (no effect on
            the outputs: every window starts a fresh tracker).
        smpl_model: folder or file of the user's SMPL model (bone lengths); None = built-in skeleton. The CLI
            resolves ``--smpl-model`` / ``MACEDANCE_SMPL_DIR`` to the model file; the hash covers its sha256.
        allow_silent: keep clips without audio or beats as motion-only instead of rejecting them.
        preview: also write ``previews/<clip>.mp4`` (source frames with keypoints beside the fitted body
            rendered from the estimated camera), a still per clip and the card's contact sheet.
        videos: write each clip's source frames as ``videos/<clip>.mp4`` (H.264 yuv420p at the source
            frame rate, the clip's audio muxed as AAC): the Appearance Expert's training target.
        people_fps: frames per second sampled for the person count (the detector runs on the whole
            frame plus 7 overlapping crops, about 90 ms per sampled frame on one core).
        max_multi_frac: a shot is multi-person when more than this fraction of its sampled frames
            holds two or more confident persons.
        person_score: detector score for a "confident" person; person_min_height: and box height
            as a fraction of the frame height.
        max_missing: a clip is rejected when more than this fraction of its frames has no person.
        min_beats: a clip needs at least this many beats (else "no beats").
        music_preset: preset of the music features and beats.
        split_fractions: (train, val, test) shares of the source videos.
        shots: cut detection and static filter thresholds.
        fitter: the fit stage's estimator (:mod:`macedance.pose.fitters`): ``smplify`` (built-in) or an
            installed plug-in of the ``macedance.fitters`` entry-point group.
        fit: the fitter's options (for ``smplify``: ``FitConfig`` fields to override).
        plausibility: upper limits of the physical diagnostics of a kept clip (``phys_*`` manifest
            columns without the prefix: ``skate_ms``, ``float_cm``, ``penetration_cm``,
            ``root_jitter_mm``, ``depth_drift_ms``); default
            :data:`macedance.motion.plausibility.PLAUSIBLE` (from AIST++ mocap); empty = no check.
        dedupe: near-duplicate clips across source videos (:mod:`macedance.datasets.curation.dedupe`): ``drop``
            rejects them (code ``duplicate``), ``keep`` keeps and marks them (``dup_of``); either way their sources
            share a split. Applied when the dataset is finalised, so it is not in :attr:`hash`: a resumed build
            may change it.
    """

    min_clip: float = 5.0
    max_clip: float = 10.0
    seed: int = 0
    fps: float = 30.0
    pose_backend: str = "mediapipe"
    pose_weights: str | None = None
    pose_max_side: int = 640
    pose_threads: int = 2
    smpl_model: str | None = None
    allow_silent: bool = False
    preview: bool = False
    videos: bool = True
    people_fps: float = 1.0
    max_multi_frac: float = 0.2
    person_score: float = 0.5
    person_min_height: float = 0.15
    max_missing: float = 0.1
    min_beats: int = 2
    music_preset: str = "clean"
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    shots: ShotParams = field(default_factory=ShotParams)
    fitter: str = "smplify"
    fit: dict[str, Any] = field(default_factory=dict)
    plausibility: dict[str, float] = field(default_factory=_default_plausibility)
    dedupe: DedupeMode = "drop"

    def __post_init__(self) -> None:
        if not 0 < self.min_clip <= self.max_clip:
            raise ValidationError("min_clip/max_clip", "0 < min ≤ max (seconds)", f"{self.min_clip}, {self.max_clip}")
        if self.fps <= 0:
            raise ValidationError("fps", "a frame rate > 0", str(self.fps))
        object.__setattr__(self, "split_fractions", check_split_fractions(self.split_fractions))
        choice("dedupe", self.dedupe, DEDUPE_MODES)
        from macedance.motion.plausibility import PLAUSIBLE
        from macedance.pose.fitters import list_fitters

        if self.fitter not in (known := list_fitters()):
            raise ValidationError("fitter", f"one of {known} (plug-ins: entry-point group 'macedance.fitters')", repr(self.fitter))

        unknown = sorted(set(self.plausibility) - set(PLAUSIBLE) - {"floor_tilt_deg"})
        if unknown:
            raise ValidationError("plausibility", f"limits among {sorted(PLAUSIBLE)}", ", ".join(unknown))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split_fractions"] = list(self.split_fractions)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the parameters that can change outputs, and the pipeline version."""
        d = self.to_dict()
        d.pop("pose_threads")
        d.pop("dedupe")  # applied when finalising: a resumed build may change it
        if self.smpl_model is not None:  # the body model's content decides the outputs, not its path
            from macedance.motion.skeleton import smpl_model_digest

            d["smpl_model"] = {"sha256": smpl_model_digest(self.smpl_model)}
        return hashlib.sha256(json.dumps({"v": BUILD_VERSION, **d}, sort_keys=True).encode()).hexdigest()
