"""What processing one source (a raw video or a motion file) yields: manifest rows and kept clips.

:class:`ManifestRow` is the one row schema of ``manifest.parquet``, for ``data build`` and ``data render``
alike: its fields, in order, are the Parquet columns; a column that a stage or a kind of dataset never
fills stays None (null). :class:`SourceOutcome` is what a worker returns and what the resume state
records per finished source (``.build/videos/<hash>.json``).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ARROW = {str: "string", int: "int64", float: "float64"}


@dataclass
class ManifestRow:
    """One candidate (a source, a shot or a clip window), kept or rejected; see
    :mod:`macedance.datasets.curation.manifest` for the meaning of every column."""

    candidate_id: str
    video_id: str
    source_video: str
    source_sha256: str
    genre: str | None = None
    status: str = "rejected"
    stage: str = ""
    code: str = ""
    reason: str = ""
    shot: int = -1
    start_frame: int | None = None
    end_frame: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    duration_s: float | None = None
    src_fps: float | None = None
    width: int | None = None
    height: int | None = None
    moving: float | None = None
    multi_person_frac: float | None = None
    missing_frac: float | None = None
    n_beats: int | None = None
    tempo: float | None = None
    reproj_px: float | None = None
    reproj_rel: float | None = None
    landmark_mm: float | None = None
    phys_skate_ms: float | None = None
    phys_float_cm: float | None = None
    phys_penetration_cm: float | None = None
    phys_contact_frac: float | None = None
    phys_root_jitter_mm: float | None = None
    phys_depth_drift_ms: float | None = None
    phys_floor_tilt_deg: float | None = None
    split: str | None = None
    motion_path: str | None = None
    keypoints_path: str | None = None
    music_path: str | None = None
    audio_path: str | None = None
    reference_path: str | None = None
    video_path: str | None = None
    preview_path: str | None = None
    source_url: str | None = None
    creator: str | None = None
    licence: str | None = None
    consent: str | None = None
    dup_group: str | None = None
    dup_of: str | None = None

    @property
    def kept(self) -> bool:
        return self.status == "kept"

    def files(self) -> list[str]:
        """The dataset files of this row (paths relative to the dataset folder; a preview's still included)."""
        out = [p for p in (self.motion_path, self.keypoints_path, self.music_path, self.audio_path, self.reference_path,
                           self.video_path, self.preview_path) if p]
        return out + ([str(Path(self.preview_path).with_suffix(".jpg"))] if self.preview_path else [])

    def to_dict(self) -> dict[str, Any]:
        """The row as a dict: every column, in schema order."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ManifestRow:
        """A row from :meth:`to_dict` (missing columns take their defaults)."""
        return cls(**d)


def manifest_schema() -> tuple[tuple[str, str], ...]:
    """(column, Arrow type name) of every :class:`ManifestRow` field, in order."""
    hints = typing.get_type_hints(ManifestRow)
    out = []
    for f in dataclasses.fields(ManifestRow):
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        out.append((f.name, _ARROW[kind]))
    return tuple(out)


def video_id_for(rel: str, sha256: str) -> str:
    """A clip-id-safe id from a source path relative to the input folder, plus 8 hex digits of its sha256."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", str(Path(rel).with_suffix(""))).strip("-._") or "video"
    return f"{stem[:80]}-{sha256[:8]}"


@dataclass
class SourceOutcome:
    """The outcome of one source: its manifest rows (kept and rejected), its kept clips (``Clip`` records
    as dicts, plus ``audio_path``, ``reference_path`` and ``video_path``), the source frames processed,
    wall seconds (total and per stage), for imported motions the official split, and for videos the kept clips'
    perceptual fingerprints (:func:`~macedance.datasets.curation.fingerprint.fingerprint_source`; empty when none)."""

    video_id: str
    source: str
    sha256: str
    rows: list[ManifestRow] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    split: str | None = None
    fingerprints: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, rel: str, sha256: str) -> SourceOutcome:
        """An empty outcome for the source at ``rel`` (relative path) with this content hash (``""`` for a
        file that cannot be read: its id then ends in eight zeros)."""
        return cls(video_id_for(rel, sha256 or "0" * 8), rel, sha256)

    def row(self, genre: str | None, **columns: Any) -> ManifestRow:
        """A manifest row of this source (``rejected`` unless ``status`` is given; ``candidate_id``
        defaults to the source's id)."""
        columns.setdefault("candidate_id", self.video_id)
        return ManifestRow(video_id=self.video_id, source_video=self.source, source_sha256=self.sha256, genre=genre, **columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (the resume state file)."""
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "rows": [r.to_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceOutcome:
        """The outcome recorded by :meth:`to_dict` (a state file of an earlier run included)."""
        return cls(**{**d, "rows": [ManifestRow.from_dict(r) for r in d["rows"]]})
