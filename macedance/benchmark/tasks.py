"""Declarative, versioned benchmark tasks (music → motion).

A task fixes the dataset and split, the generation length, the seeds, the metric preset and the
main score; its ``version`` is bumped whenever the numbers it produces could change. Video tasks
(``madata-animation``, ``madata-music2video``) join when the video evaluators and the Appearance
Expert exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from macedance.errors import ValidationError
from macedance.presets import PresetRecord


# Better direction of each metric (None: closer to the ground truth is better; shown without arrow).
@dataclass(frozen=True)
class TaskMeta(PresetRecord):
    name: str
    description: str
    reference: str
    version: int
    dataset: str  # what --data must hold (an imported or built dataset with clips.jsonl)
    split: str
    seconds: float | None  # generation length (None: each test clip's own length)
    seeds: tuple[int, ...]
    preset: str  # motion-metric preset
    metrics: tuple[str, ...]
    main_score: str

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"


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
)}


def get_task(name: str) -> TaskMeta:
    try:
        return TASKS[name]
    except KeyError:
        raise ValidationError("task", "one of " + ", ".join(TASKS), repr(name)) from None
