"""Paired motion + music training data for the Motion Expert.

A dataset made by ``data build`` / ``data render`` (its ``manifest.parquet`` beside ``clips.jsonl``), or a
``data export`` of one, is read by the public loader :class:`macedance.datasets.loader.MotionMusicWindows`
(whole clips in the 151-d layout with their music features). Any other folder holds macedance motion ``.npz``
files — an imported dataset (``motions/`` plus ``clips.jsonl``) or any folder of them: each motion is paired
by file stem (or its clip's ``music_path``) with music: a music ``.npz`` from ``macedance data music`` at 30
fps, or an audio/video file analysed on the fly (clean preset, 30 fps, cached).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from macedance.datasets.importers.aistpp import GENRES
from macedance.datasets.loader import MotionMusicWindows
from macedance.datasets.publish.hf import HF_MARKER
from macedance.datasets.publish.wds import SHARDS
from macedance.errors import InputNotFoundError, MaceDanceError
from macedance.models.representation import FPS, motion_to_rep
from macedance.schema import load_motion

log = logging.getLogger(__name__)
DEFAULT_GENRES = tuple(GENRES.values())  # AIST++'s 10; further genres are added as seen (16 slots)


@dataclass
class Sequence:
    name: str
    rep: np.ndarray  # (T, 151)
    music: np.ndarray  # (T, 35)
    genre: str | None


def music_features(path: Path) -> np.ndarray:
    """(T, 35) music features at 30 fps from a music ``.npz`` (or ``.npy``) or an audio/video file (clean preset)."""
    from macedance.music.analysis import features_of

    return features_of(path, preset="clean", dim=35, fps=FPS)


def _music_for(stem: str, clip_music: str | None, base: Path, music_dir: Path | None) -> Path | None:
    from macedance.io.audio import MEDIA_SUFFIXES

    if clip_music:
        p = Path(clip_music)
        p = p if p.is_absolute() else base / p
        if p.is_file():
            return p
    if music_dir is not None:
        for suffix in (".npz",) + MEDIA_SUFFIXES:
            if (music_dir / f"{stem}{suffix}").is_file():
                return music_dir / f"{stem}{suffix}"
    return None


def load_training_set(data: str | Path, music_dir: str | Path | None = None,
                      split: str = "train") -> tuple[list[Sequence], list[dict[str, str]]]:
    """Sequences with their music, and the skipped files with reasons.

    With a ``clips.jsonl`` that assigns splits, only clips of ``split`` are used (the test split never
    leaks into training); without split information every clip is used.
    """
    data = Path(data)
    music = Path(music_dir) if music_dir else None
    if not data.is_dir():
        raise InputNotFoundError(f"{data}: `data` folder not found")
    if music is None and any((data / marker).is_file() for marker in ("manifest.parquet", HF_MARKER, SHARDS)):
        windows = MotionMusicWindows(data, split=split, representation="expert", window=None)
        if not windows.clips and not windows.skipped:
            raise InputNotFoundError(f"{data}: no clip of the {split} split")
        return [Sequence(c.clip_id, c.motion, c.music, c.genre) for c in windows.clips], windows.skipped
    entries: list[tuple[Path, str | None, str | None]] = []
    clips = data / "clips.jsonl"
    if clips.is_file():
        rows = [json.loads(line) for line in clips.read_text().splitlines() if line.strip()]
        if any(r.get("split") for r in rows):
            rows = [r for r in rows if r.get("split") == split]
        entries = [(data / r["motion_path"], r.get("music_path"), r.get("genre")) for r in rows]
    else:
        entries = [(p, None, None) for p in sorted(data.rglob("*.npz"))]
    if not entries:
        raise InputNotFoundError(f"{data}: no motion files (clips.jsonl or *.npz)")
    out, skipped = [], []
    for path, clip_music, genre in entries:
        try:
            mpath = _music_for(path.stem, clip_music, data, music)
            if mpath is None:
                raise MaceDanceError("no music (clip music_path, or <stem>.npz/audio in `music`)")
            motion = load_motion(path)
            rep, feats = motion_to_rep(motion), music_features(mpath)
            T = min(len(rep), len(feats))
            out.append(Sequence(path.stem, rep[:T], feats[:T].astype(np.float32), genre or motion.meta.get("genre") or None))
        except MaceDanceError as exc:
            skipped.append({"file": str(path), "reason": str(exc).replace(f"{path}: ", "")})
            log.info("skipped %s: %s", path, exc)
    return out, skipped
