"""Statistics of a built or rendered dataset that people look at: per-split counts and histograms of genre, tempo,
clip duration and motion energy, as PNG plots under ``stats/`` (linked from the card; ``data info DATASET``
writes and summarises them too).

Motion energy is the mean joint speed of a clip (m/s, over its frames and 24 joints, forward kinematics with
the built-in skeleton): still poses score near 0; real AIST++ dances 0.1–1.4 m/s.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance.fileio import atomic_write
from macedance.schema import SPLITS

STATS_DIR = "stats"
PLOTS = ("splits", "genres", "tempo", "duration", "motion_energy")  # stats/<name>.png


@dataclass(frozen=True)
class ClipStat:
    """One kept clip's numbers: split, genre, tempo (BPM, None without beats), duration (s), motion energy (m/s)."""

    clip_id: str
    split: str | None
    genre: str | None
    tempo: float | None
    duration: float
    energy: float | None


def motion_energy(path: Path) -> float:
    """Mean joint speed (m/s) of the motion file ``path`` (module docstring)."""
    from macedance.motion.kinematics import forward_kinematics, joint_speeds
    from macedance.motion.skeleton import builtin_skeleton
    from macedance.schema import load_motion

    m = load_motion(path)
    joints = forward_kinematics(m.rotmat, m.trans, builtin_skeleton())
    return float(joint_speeds(joints, m.fps).mean())


def clip_stats(root: Path, clips: list[dict[str, Any]], tempo: dict[str, float | None]) -> list[ClipStat]:
    """The :class:`ClipStat` of each clip record (``clips.jsonl`` dicts) under the dataset folder ``root``;
    ``tempo``: BPM per clip id (the manifest's ``tempo``)."""
    out = []
    for c in clips:
        motion = c.get("motion_path")
        path = root / motion if motion else None
        energy = motion_energy(path) if path is not None and path.is_file() else None
        bpm = tempo.get(c["id"])
        out.append(ClipStat(c["id"], c.get("split"), c.get("genre"), bpm if bpm is not None and math.isfinite(bpm) and bpm > 0 else None,
                            float(c["end"]) - float(c["start"]), energy))
    return out


def dataset_stats(root: Path) -> list[ClipStat]:
    """The :class:`ClipStat` of every clip of the dataset folder ``root`` (``clips.jsonl``, tempo from
    ``manifest.parquet`` when present)."""
    import json

    from macedance.datasets.curation.manifest import read_manifest

    clips = [json.loads(line) for line in (root / "clips.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    manifest = root / "manifest.parquet"
    tempo = {r["candidate_id"]: r["tempo"] for r in read_manifest(manifest) if r["status"] == "kept"} if manifest.is_file() else {}
    return clip_stats(root, clips, tempo)


def summary_rows(stats: list[ClipStat]) -> list[tuple[str, str, str, str, str]]:
    """(quantity, clips with it, min, median, max) of tempo, duration and motion energy."""
    rows = []
    for label, unit, values in (("tempo", "BPM", [s.tempo for s in stats]), ("duration", "s", [s.duration for s in stats]),
                                ("motion energy", "m/s", [s.energy for s in stats])):
        v = np.array([x for x in values if x is not None], float)
        if v.size:
            rows.append((f"{label} ({unit})", str(v.size), f"{v.min():.2f}", f"{np.median(v):.2f}", f"{v.max():.2f}"))
        else:
            rows.append((f"{label} ({unit})", "0", "–", "–", "–"))
    return rows


def write_plots(out: Path, stats: list[ClipStat]) -> list[Path]:
    """Write ``out/<name>.png`` for every name of :data:`PLOTS` (deterministic: no timestamps); the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out.mkdir(parents=True, exist_ok=True)
    genres = sorted({s.genre or "unknown" for s in stats})
    paths = []
    for name in PLOTS:
        fig, ax = plt.subplots(figsize=(5.0, 3.2), dpi=100, layout="constrained")
        if name == "splits":
            counts = Counter(s.split or "none" for s in stats)
            names = [x for x in (*SPLITS, "none") if counts.get(x)]
            ax.bar(names, [counts[x] for x in names], color="#4c72b0")
            ax.set(title="Clips per split", ylabel="clips")
        elif name == "genres":
            bottom = np.zeros(len(genres))
            for split in (*SPLITS, None):
                h = np.array([sum(1 for s in stats if (s.genre or "unknown") == g and s.split == split) for g in genres], float)
                if h.any():
                    ax.bar(genres, h, bottom=bottom, label=split or "none")
                    bottom += h
            ax.set(title="Clips per genre", ylabel="clips")
            ax.tick_params(axis="x", labelrotation=45 if len(genres) > 4 else 0)
            if genres:
                ax.legend(fontsize="small")
        else:
            label, unit, values = {"tempo": ("Tempo", "BPM", [s.tempo for s in stats]),
                                   "duration": ("Clip duration", "s", [s.duration for s in stats]),
                                   "motion_energy": ("Motion energy (mean joint speed)", "m/s", [s.energy for s in stats])}[name]
            v = np.array([x for x in values if x is not None], float)
            if v.size:
                ax.hist(v, bins=min(30, max(5, int(np.sqrt(v.size)) + 1)), color="#4c72b0")
            else:
                ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
            ax.set(title=label, xlabel=unit, ylabel="clips")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        path = out / f"{name}.png"
        with atomic_write(path) as f:
            fig.savefig(f, format="png", metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths
