"""A PyTorch ``Dataset`` of motion windows with their music, for training any method on a macedance dataset.

It reads a folder made by ``data build`` or ``data render``, or an export of one (``data export --format hf`` or
``webdataset``), and serves fixed-length windows of one split::

    from torch.utils.data import DataLoader
    from macedance.datasets.loader import MotionMusicWindows

    ds = MotionMusicWindows("my-dataset", split="train", representation="rot6d", window=120, stride=60)
    for batch in DataLoader(ds, batch_size=32, shuffle=True):
        motion = batch["motion"]  # (32, 120, 147): 24 joints × 6D rotation, then root translation (m)
        music = batch["music"]    # (32, 120, 35): the dataset's music features, frame-aligned
        beats = batch["beats"]    # (32, 120): 1.0 on the frames with a music beat
        ...                       # batch["genre"], batch["clip_id"], batch["start"] (first frame of the window)

Every clip is read once, up front, into memory (float32): about 4 bytes × frames × (motion + music width).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, ValidationError
from macedance.schema import SPLITS, Motion
from macedance.schema._check import choice

log = logging.getLogger(__name__)
Representation = Literal["axis-angle", "rot6d", "expert", "joints"]
REPRESENTATIONS: tuple[Representation, ...] = ("axis-angle", "rot6d", "expert", "joints")
#: Width of each representation per frame.
WIDTH = {"axis-angle": 75, "rot6d": 147, "expert": 151, "joints": 72}


@dataclass
class ClipSeries:
    """One clip in a representation: ``motion`` (T, D) and ``music`` (T, D_music) float32 at the same frame rate,
    ``beats`` (T,) float32 (1.0 on beat frames)."""

    clip_id: str
    motion: np.ndarray
    music: np.ndarray
    beats: np.ndarray
    genre: str | None
    fps: float


def dataset_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Each clip of a dataset folder or an export as one record: the scalar fields of
    :func:`macedance.datasets.publish.source.clip_record` and the arrays of
    :func:`~macedance.datasets.publish.source.clip_arrays` (media left out).

    Raises:
        InputNotFoundError: ``path`` is none of a dataset folder (``clips.jsonl``), an ``hf`` export
            (``dataset_dict.json``) or a ``webdataset`` export (``shards.json``).
    """
    from macedance.datasets.publish.hf import HF_MARKER, read_hf
    from macedance.datasets.publish.source import clip_arrays, clip_record, read_dataset
    from macedance.datasets.publish.wds import SHARDS, read_shards

    root = Path(path)
    if (root / HF_MARKER).is_file():
        yield from read_hf(root)
    elif (root / SHARDS).is_file():
        yield from read_shards(root)
    elif (root / "clips.jsonl").is_file():
        folder = read_dataset(root)
        for clip in folder.clips:
            yield {**clip_record(folder, clip), **clip_arrays(folder, clip)}
    else:
        raise InputNotFoundError(f"{root}: not a macedance dataset (no clips.jsonl) nor an export (no {HF_MARKER} or {SHARDS})")


def represent(motion: Motion, representation: Representation, *, skeleton: Any = None) -> tuple[np.ndarray, float]:
    """(T, D) float32 motion in ``representation`` and its frame rate.

    ``axis-angle``: 24 × 3 axis-angle (rad) then the root translation (m), the stored up axis and rate.
    ``rot6d``: 24 × 6D rotations (the first two matrix columns) then the translation. ``joints``: 24 joint positions (m)
    by forward kinematics with ``skeleton`` (default: the built-in one). ``expert``: the Motion Expert's 151-d layout
    (:mod:`macedance.models.representation`: 30 fps, z-up, foot contacts first).
    """
    from macedance.motion.kinematics import forward_kinematics
    from macedance.motion.skeleton import builtin_skeleton

    T = motion.num_frames
    if representation == "expert":
        from macedance.models.representation import FPS, motion_to_rep

        return motion_to_rep(motion), FPS
    if representation == "axis-angle":
        out = np.concatenate([motion.poses.reshape(T, 72), motion.trans], axis=1)
    elif representation == "rot6d":
        out = np.concatenate([motion.rot6d.reshape(T, 144), motion.trans], axis=1)
    else:
        out = forward_kinematics(motion.rotmat, motion.trans, skeleton or builtin_skeleton()).reshape(T, 72)
    return out.astype(np.float32), motion.fps


def clip_series(rec: dict[str, Any], representation: Representation, *, skeleton: Any = None) -> ClipSeries:
    """A record of :func:`dataset_records` as a :class:`ClipSeries` (motion and music cut to the shorter).

    Raises:
        DataFormatError: no motion or no music, or music features at another frame rate than the motion's (no
            resampling here: build the dataset at the rate you train at).
    """
    cid = str(rec["id"])
    if rec.get("motion_poses") is None:
        raise DataFormatError(f"clip {cid}: no motion")
    if rec.get("music_features") is None:
        raise DataFormatError(f"clip {cid}: no music features (a silent clip)")
    betas = rec.get("motion_betas")
    motion = Motion(rec["motion_poses"], rec["motion_trans"], float(rec["motion_fps"]), str(rec["motion_up_axis"]),
                    None if betas is None or len(betas) == 0 else betas)
    rep, fps = represent(motion, representation, skeleton=skeleton)
    music_fps = float(rec["music_fps"])
    if abs(music_fps - fps) > 1e-6:
        raise DataFormatError(f"clip {cid}: music features at {music_fps:g} fps, the {representation} motion at {fps:g} fps")
    T = min(len(rep), len(rec["music_features"]))
    beats = np.zeros(T, np.float32)
    frames = np.round(np.asarray(rec["music_beats"], np.float64) * fps).astype(np.int64)
    beats[frames[(frames >= 0) & (frames < T)]] = 1.0
    genre = rec.get("genre")
    return ClipSeries(cid, rep[:T], np.asarray(rec["music_features"][:T], np.float32), beats, str(genre) if genre else None, fps)


class MotionMusicWindows(torch.utils.data.Dataset):
    """Windows of ``window`` frames every ``stride`` frames over the clips of one split (module docstring).

    Args:
        path: a ``data build`` / ``data render`` folder, or a ``data export`` folder (hf or webdataset).
        split: ``train``, ``val``, ``test``, or None for every clip.
        representation: ``axis-angle`` (75-d), ``rot6d`` (147-d), ``expert`` (151-d) or ``joints`` (72-d).
        window: frames per item; None gives each whole clip as one item (lengths differ: batch size 1, or your
            own collate). Clips shorter than ``window`` give no item (counted in ``short``).
        stride: frames between window starts (default: ``window``, no overlap).
        skeleton: the rest skeleton of ``joints`` (a ``RestSkeleton``; default: the built-in one).

    Attributes:
        clips: the :class:`ClipSeries` read; skipped: ``{"clip", "reason"}`` of clips without motion or music.
    """

    def __init__(self, path: str | Path, *, split: str | None = "train", representation: Representation = "rot6d", window: int | None = 120,
                 stride: int | None = None, skeleton: Any = None) -> None:
        rep = choice("representation", representation, REPRESENTATIONS)
        if split is not None:
            choice("split", split, SPLITS)
        if window is not None and (isinstance(window, bool) or int(window) < 1):
            raise ValidationError("window", "a number of frames ≥ 1, or None", repr(window))
        self.window, self.stride = window, (stride or window or 1)
        if self.stride < 1:
            raise ValidationError("stride", "a number of frames ≥ 1", repr(stride))
        self.clips: list[ClipSeries] = []
        self.skipped: list[dict[str, str]] = []
        for rec in dataset_records(path):
            if split is not None and rec.get("split") != split:
                continue
            try:
                self.clips.append(clip_series(rec, rep, skeleton=skeleton))
            except MaceDanceError as exc:
                self.skipped.append({"clip": str(rec["id"]), "reason": str(exc)})
                log.info("skipped %s", exc)
        self.index = [(i, s) for i, c in enumerate(self.clips) for s in self._starts(len(c.motion))]
        self.short = sum(1 for c in self.clips if window is not None and len(c.motion) < window)

    def _starts(self, frames: int) -> range:
        if self.window is None:
            return range(1)
        return range(0, frames - self.window + 1, self.stride)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        c, start = self.clips[self.index[i][0]], self.index[i][1]
        end = len(c.motion) if self.window is None else start + self.window
        return {"motion": torch.from_numpy(c.motion[start:end]), "music": torch.from_numpy(c.music[start:end]),
                "beats": torch.from_numpy(c.beats[start:end]), "genre": c.genre or "", "clip_id": c.clip_id, "start": start}
