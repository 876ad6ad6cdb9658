"""``Music`` and ``Clip``: light records that point to files, validated on construction."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from macedance.errors import ValidationError
from macedance.schema._check import choice, describe, positive_number

SPLITS = ("train", "val", "test")
#: The path fields of a :class:`Clip` (relative to the dataset folder, or absolute).
PATH_FIELDS = ("motion_path", "keypoints_path", "music_path", "audio_path", "reference_path", "video_path")
# Where `data build` and `data render` put the files of the last three before clips.jsonl named them.
_LAYOUT = {"audio_path": "audio/{id}.wav", "reference_path": "reference/{id}.jpg", "video_path": "videos/{id}.mp4"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _opt_path(field_name: str, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, Path)):
        raise ValidationError(field_name, "a path or None", describe(value))
    return Path(value)


@dataclass(frozen=True)
class Music:
    """An audio track: where it is, its sample rate (Hz) and its duration (seconds)."""

    path: Path
    sample_rate: int
    duration: float

    def __post_init__(self) -> None:
        path = _opt_path("Music.path", self.path)
        if path is None:
            raise ValidationError("Music.path", "a path", "nothing")
        sr = self.sample_rate
        if isinstance(sr, bool) or not isinstance(sr, int) or sr <= 0:
            raise ValidationError("Music.sample_rate", "an integer > 0 (Hz)", describe(sr))
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "duration", positive_number("Music.duration", self.duration))


@dataclass(frozen=True)
class Clip:
    """One dataset item: a time span of a source recording plus its derived files.

    Attributes:
        id: unique clip id (letters, digits, ``._+-``; no slashes).
        source_video: the source recording (video path or sequence name).
        start, end: span in the source, seconds, ``0 ≤ start < end``.
        motion_path, keypoints_path, music_path: derived files, or None.
        audio_path, reference_path, video_path: the clip's audio (wav), reference image (its first frame) and
            video (its frames with its audio) in datasets made by ``data build`` / ``data render``, or None.
        genre: dance genre when known.
        split: ``train``, ``val``, ``test`` or None.
        provenance: tool versions, source hashes, parameters (JSON-compatible values).
    """

    id: str
    source_video: str
    start: float
    end: float
    motion_path: Path | None = None
    keypoints_path: Path | None = None
    music_path: Path | None = None
    genre: str | None = None
    split: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    audio_path: Path | None = None
    reference_path: Path | None = None
    video_path: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ValidationError("Clip.id", "letters, digits and ._+- (not starting with . or -)", describe(self.id))
        if not isinstance(self.source_video, str) or not self.source_video:
            raise ValidationError("Clip.source_video", "a non-empty string", describe(self.source_video))
        try:
            start, end = float(self.start), float(self.end)
        except (TypeError, ValueError):
            raise ValidationError("Clip.start/end", "numbers (seconds)", f"{self.start!r}, {self.end!r}") from None
        if not (0 <= start < end < float("inf")):
            raise ValidationError("Clip.start/end", "0 ≤ start < end (seconds)", f"start {start}, end {end}")
        if self.split is not None:
            choice("Clip.split", self.split, SPLITS)
        if self.genre is not None and not isinstance(self.genre, str):
            raise ValidationError("Clip.genre", "a string or None", describe(self.genre))
        if not isinstance(self.provenance, dict):
            raise ValidationError("Clip.provenance", "a dict", describe(self.provenance))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        for name in PATH_FIELDS:
            object.__setattr__(self, name, _opt_path(f"Clip.{name}", getattr(self, name)))

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (paths as strings)."""
        d = asdict(self)
        for name in PATH_FIELDS:
            d[name] = None if d[name] is None else str(d[name])
        return d

    def file(self, root: str | Path, name: str) -> Path | None:
        """The clip's ``name`` file (a path field such as ``video_path``) under the dataset folder ``root``, or None when
        the record has none or it is missing. Records written before ``audio_path``, ``reference_path`` and
        ``video_path`` existed fall back to the layout that wrote them (``audio/<id>.wav``, ``reference/<id>.jpg``,
        ``videos/<id>.mp4``)."""
        if name not in PATH_FIELDS:
            raise ValidationError("Clip file", "one of " + ", ".join(PATH_FIELDS), repr(name))
        rel = getattr(self, name)
        if rel is None and name in _LAYOUT:
            rel = Path(_LAYOUT[name].format(id=self.id))
        if rel is None:
            return None
        path = rel if rel.is_absolute() else Path(root) / rel
        return path if path.is_file() else None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Clip":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(d) - known)
        if extra:
            raise ValidationError("Clip", f"only the keys {sorted(known)}", f"unknown keys {extra}")
        return cls(**d)
