"""A dataset folder made by ``data build`` or ``data render``, read for export and for the training loader.

:func:`read_dataset` gives its kept clips (``clips.jsonl``) joined with their ``manifest.parquet`` rows;
:func:`clip_arrays` gives one clip's arrays (motion, 2D keypoints, music) exactly as stored in its ``.npz``
files; :func:`clip_record` gives its scalar fields; together they are the one record layout that the Hugging Face export, the
WebDataset export and :class:`macedance.datasets.loader.MotionMusicWindows` share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macedance.errors import InputNotFoundError
from macedance.schema import Clip

#: Manifest columns that an export replaces by the files' content (or by the exported file's name).
PATH_COLUMNS = ("motion_path", "keypoints_path", "music_path", "audio_path", "reference_path", "video_path", "preview_path")
#: Media of a clip that an export carries: (name in the export, Clip path field, file suffix).
MEDIA = (("audio", "audio_path", "wav"), ("video", "video_path", "mp4"), ("reference", "reference_path", "jpg"))
#: Array files of a clip: (name in the export, Clip path field).
ARRAY_FILES = (("motion", "motion_path"), ("keypoints", "keypoints_path"), ("music", "music_path"))


@dataclass
class DatasetFolder:
    """A built or rendered dataset: its folder, kept clips in ``clips.jsonl`` order, each clip's manifest row
    (by clip id; empty for a folder without a manifest) and its card text."""

    root: Path
    clips: list[Clip]
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    card: str = ""

    def row(self, clip: Clip) -> dict[str, Any]:
        """The clip's manifest row without its path columns (``{}`` when the manifest has none)."""
        return {k: v for k, v in self.rows.get(clip.id, {}).items() if k not in PATH_COLUMNS}


def read_dataset(path: str | Path) -> DatasetFolder:
    """Read the dataset folder ``path`` (``clips.jsonl``, ``manifest.parquet`` when present, ``README.md``).

    Raises:
        InputNotFoundError: ``path`` is not a folder with a ``clips.jsonl`` (names what was found).
    """
    from macedance.datasets.curation.manifest import read_manifest
    from macedance.datasets.importers.base import read_clips

    root = Path(path)
    if not (root / "clips.jsonl").is_file():
        what = "no such folder" if not root.is_dir() else "no clips.jsonl (not a `data build` / `data render` output)"
        raise InputNotFoundError(f"{root}: {what}")
    clips = read_clips(root / "clips.jsonl")
    rows: dict[str, dict[str, Any]] = {}
    if (root / "manifest.parquet").is_file():
        rows = {r["candidate_id"]: r for r in read_manifest(root / "manifest.parquet") if r.get("status") == "kept"}
    card = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    return DatasetFolder(root, clips, rows, card)


def clip_file(folder: DatasetFolder, clip: Clip, name: str) -> Path | None:
    """The clip's file of the path field ``name``, or None when the record has none.

    Raises:
        InputNotFoundError: the record names a file that is missing.
    """
    rel = getattr(clip, name)
    path = clip.file(folder.root, name)
    if path is None and rel is not None:
        raise InputNotFoundError(f"{folder.root / rel}: {name} of clip {clip.id} is missing")
    return path


def file_arrays(kind: str, src: Path | bytes, *, name: str | None = None) -> dict[str, Any]:
    """The arrays of one clip file of ``kind`` (``motion``, ``keypoints`` or ``music``), read from its path or its
    bytes (``name`` for messages), as stored: see :func:`clip_arrays` for the keys."""
    from macedance.music.analysis import load_music
    from macedance.schema import load_keypoints, load_motion

    if kind == "motion":
        m = load_motion(src, name=name)
        return {"motion_poses": m.poses, "motion_trans": m.trans, "motion_fps": m.fps, "motion_up_axis": m.up_axis, "motion_betas": m.betas}
    if kind == "keypoints":
        k = load_keypoints(src, name=name)
        return {"keypoints": k.data, "keypoints_skeleton": k.skeleton, "keypoints_fps": k.fps, "keypoints_width": k.image_size[0],
                "keypoints_height": k.image_size[1]}
    a = load_music(src, name=name)
    return {"music_features": a["features"], "music_beats": a["beats"], "music_beat_frames": a["beat_frames"],
            "music_tempo": float(a["tempo"]), "music_fps": float(a["fps"])}


def clip_arrays(folder: DatasetFolder, clip: Clip) -> dict[str, Any]:
    """One clip's arrays and their metadata, as stored (no resampling, no dtype change).

    Keys (absent when the clip has no such file): ``motion_poses`` (T, 24, 3) axis-angle rad, ``motion_trans``
    (T, 3) m, ``motion_fps``, ``motion_up_axis``, ``motion_betas`` (B,) or None; ``keypoints`` (T', K, 3) x, y px and
    confidence, ``keypoints_skeleton``, ``keypoints_fps``, ``keypoints_width``, ``keypoints_height``;
    ``music_features`` (T, D), ``music_beats`` (s from the clip start), ``music_beat_frames``, ``music_tempo`` (BPM),
    ``music_fps``.
    """
    out: dict[str, Any] = {}
    for kind, field_name in ARRAY_FILES:
        if (p := clip_file(folder, clip, field_name)) is not None:
            out.update(file_arrays(kind, p))
    return out


def clip_record(folder: DatasetFolder, clip: Clip) -> dict[str, Any]:
    """The clip's scalar record: its ``Clip`` fields (``id``, ``split``, ``genre``, ``source_video``, ``start``, ``end``,
    ``provenance`` as JSON text) and its manifest row without the path columns."""
    base = {"id": clip.id, "split": clip.split, "genre": clip.genre, "source_video": clip.source_video, "start": clip.start,
            "end": clip.end, "provenance": json.dumps(clip.provenance, sort_keys=True)}
    return {**base, **{k: v for k, v in folder.row(clip).items() if k not in base}}
