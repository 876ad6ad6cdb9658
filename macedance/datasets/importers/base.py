"""The shared directory-import runner: convert many source files into motion ``.npz`` + clip records.

Layout written under ``OUT``:

* ``motions/<id>.npz`` — one :class:`~macedance.schema.Motion` per source sequence (atomic writes);
  its ``meta`` records the dataset, source file, source sha256, importer version and options.
* ``clips.jsonl`` — one :class:`~macedance.schema.Clip` per converted sequence (paths relative to OUT).
* ``import_report.json`` — counts, every rejected file with its reason, options, versions.

Bad files are recorded with a reason and the run goes on. Re-running skips sequences whose output
already exists for the same source bytes and options (resume), unless ``overwrite`` is set.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.errors import InputNotFoundError, MaceDanceError
from macedance.fileio import OutputWriteError, atomic_write, sha256_file, write_json
from macedance.folder_lock import folder_lock
from macedance.motion.kinematics import UP_AXES
from macedance.schema import Clip, Motion, load_motion
from macedance.schema._check import choice, positive_number

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]


@dataclass
class SourceItem:
    """What a dataset reader returns for one source file."""

    id: str
    motion: Motion
    source_video: str
    genre: str | None = None
    split: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportReport:
    """Outcome of a directory import."""

    dataset: str
    source: str
    out: str
    options: dict[str, Any]
    converted: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "source": self.source, "out": self.out, "options": self.options,
            "macedance_version": __version__,
            "counts": {"converted": len(self.converted), "up_to_date": len(self.up_to_date),
                       "rejected": len(self.rejected)},
            "converted": self.converted, "up_to_date": self.up_to_date, "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
        }


def find_sources(src: str | Path, suffix: str, label: str) -> list[Path]:
    """Source files ending in ``suffix`` below ``src`` (recursive, sorted); a clear error if none."""
    src = Path(src)
    if not src.is_dir():
        raise InputNotFoundError(f"{src}: source folder not found")
    files = sorted(src.rglob(f"*{suffix}"))
    if not files:
        raise InputNotFoundError(f"{src}: no {label} {suffix} motion files found (searched recursively)")
    return files


def _clip_for(item_id: str, motion: Motion, rel_path: str) -> Clip:
    m = motion.meta
    return Clip(
        id=item_id, source_video=m["source_video"], start=0.0, end=motion.duration, motion_path=Path(rel_path),
        genre=m.get("genre") or None, split=m.get("split") or None,
        provenance={k: m[k] for k in ("dataset", "source_file", "source_sha256", "importer") if k in m}
        | {"options": json.loads(m.get("options", "{}"))},
    )


def run_import(
    files: Sequence[Path],
    src_root: Path,
    out: Path,
    read: Callable[[Path], SourceItem],
    *,
    dataset: str,
    importer_version: str,
    fps: float | None = None,
    up_axis: str | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Convert ``files`` with ``read`` into ``out``; see the module docstring for the layout.

    Args:
        files: source files, in the order to process.
        src_root: folder the ``source_file`` provenance is relative to.
        out: output folder (created; held by this run, :mod:`macedance.folder_lock`).
        read: converts one file; raises :class:`MaceDanceError` (or any exception) to reject it.
        dataset: dataset name recorded in provenance.
        importer_version: bump when the conversion's numbers change; part of the resume key.
        fps: resample to this frame rate (None = keep the source's).
        up_axis: convert to this up axis (None = keep the source's).
        overwrite: convert again even when an up-to-date output exists.
        progress: called as ``progress(done, total, current_name)``.
    """
    t0 = time.perf_counter()
    if up_axis is not None:
        choice("up_axis", up_axis, UP_AXES)
    if fps is not None:
        fps = positive_number("fps", fps)
    options = {"fps": fps, "up_axis": up_axis}
    options_json = json.dumps(options, sort_keys=True)
    importer = f"macedance {__version__} {dataset}-importer v{importer_version}"
    report = ImportReport(dataset, str(src_root), str(out), options)
    seen: dict[str, str] = {}
    with folder_lock(out):  # one job per output folder; a killed run's temporary files go
        (out / "motions").mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            rel_src = str(path.relative_to(src_root)) if path.is_relative_to(src_root) else str(path)
            if progress:
                progress(i, len(files), rel_src)
            try:
                digest = sha256_file(path)
                item_id = path.stem
                if item_id in seen:
                    raise MaceDanceError(f"duplicate sequence id {item_id!r} (also from {seen[item_id]})")
                seen[item_id] = rel_src
                rel_out = f"motions/{item_id}.npz"
                target = out / rel_out
                if not overwrite and target.is_file():
                    try:
                        old = load_motion(target)
                        if (old.meta.get("source_sha256") == digest and old.meta.get("importer") == importer
                                and old.meta.get("options") == options_json):
                            report.up_to_date.append(item_id)
                            report.clips.append(_clip_for(item_id, old, rel_out))
                            continue
                    except MaceDanceError:
                        log.info("%s: existing output unreadable, converting again", target)
                item = read(path)
                motion = item.motion
                if up_axis is not None:
                    motion = motion.to_up_axis(up_axis)
                if fps is not None:
                    motion = motion.resample(fps)
                meta = dict(motion.meta) | item.extra | {
                    "dataset": dataset, "source_file": rel_src, "source_sha256": digest, "importer": importer,
                    "options": options_json, "source_video": item.source_video, "genre": item.genre or "",
                    "split": item.split or "",
                }
                motion = motion.replace(meta=meta)
                motion.save(target)
                report.converted.append(item_id)
                report.clips.append(_clip_for(item_id, motion, rel_out))
            except OutputWriteError:
                raise  # the output's disk, not this file: the next file would fail the same way
            except Exception as exc:  # a bad file is recorded and the run goes on
                reason = str(exc) if isinstance(exc, MaceDanceError) else f"{type(exc).__name__}: {exc}"
                reason = reason.replace(f"{path}: ", "")
                log.info("rejected %s: %s", rel_src, reason)
                report.rejected.append({"file": rel_src, "reason": reason})
        if progress:
            progress(len(files), len(files), "")
        with atomic_write(out / "clips.jsonl", "w") as f:
            for clip in report.clips:
                f.write(json.dumps(clip.to_dict(), sort_keys=True) + "\n")
        report.seconds = time.perf_counter() - t0
        write_json(out / "import_report.json", report.to_dict())
        return report


def read_clips(path: str | Path) -> list[Clip]:
    """Read a ``clips.jsonl`` file (one Clip per line)."""
    path = Path(path)
    clips = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    clips.append(Clip.from_dict(json.loads(line)))
                except (json.JSONDecodeError, MaceDanceError, TypeError) as exc:
                    raise MaceDanceError(f"{path}:{n}: bad clip record ({exc})") from None
    return clips
