"""Watchable samples of a benchmark run: for the first :data:`SAMPLES` clips (by id) a small H.264 file with the clip's
music — the generated video beside the ground truth (video tasks), or a skeleton rendering of the generated motion
(motion tasks). A record lists them (``samples``: clip and path relative to the record's folder); the leaderboard page
embeds them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import MaceDanceError
from macedance.schema import Joints3D, Motion

log = logging.getLogger(__name__)

SAMPLES = 2  # clips per (task, method)
HEIGHT = 256  # px of each panel
CRF = 28  # small files for a web page


def _audio(music: Path | None) -> Path | None:
    from macedance.io.audio import MEDIA_SUFFIXES

    return music if music is not None and music.suffix.lower() in MEDIA_SUFFIXES else None


def _panel(frame: np.ndarray, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((width, HEIGHT), Image.BILINEAR))


def video_sample(pred: Path, gt: Path, out: Path, *, fps: float, music: Path | None) -> Path:
    """``out``: the generated video (left) beside the ground truth (right), each :data:`HEIGHT` px high, as long as the
    shorter of the two, with ``music`` (an audio or video file) muxed in."""
    from macedance.io.video import iter_frames, probe_video, write_video

    info = probe_video(gt)
    width = int(round(info.width / info.height * HEIGHT / 2)) * 2

    def frames() -> Iterator[np.ndarray]:
        for a, b in zip(iter_frames(pred), iter_frames(gt), strict=False):
            yield np.concatenate([_panel(a, width), np.full((HEIGHT, 4, 3), 255, np.uint8), _panel(b, width)], axis=1)

    return write_video(out, frames(), fps, audio=_audio(music), crf=CRF)


def motion_sample(motion: Motion | Joints3D, out: Path, *, music: Path | None) -> Path:
    """``out``: a front-view skeleton rendering of ``motion`` (:data:`HEIGHT` px square) with ``music`` muxed in."""
    from macedance.io.video import write_video
    from macedance.render.skeleton import skeleton_frames

    return write_video(out, skeleton_frames(motion, size=(HEIGHT, HEIGHT)), motion.fps, audio=_audio(music), audio_seconds=motion.duration,
                       crf=CRF)


def write_samples(made: dict[str, tuple[Any, ...]], folder: Path, root: Path, write: Callable[..., Path]) -> list[dict[str, str]]:
    """``write(out, *args)`` for the first :data:`SAMPLES` clips of ``made`` (clip id → args) into ``folder``; returns
    ``[{"clip", "file"}]`` with paths relative to ``root``. A sample that cannot be made is logged and left out."""
    out = []
    for clip in sorted(made)[:SAMPLES]:
        target = folder / f"{clip}.mp4"
        try:
            write(target, *made[clip])
        except (MaceDanceError, OSError, ValueError) as exc:
            log.warning("no sample for clip %s: %s", clip, exc)
            continue
        out.append({"clip": clip, "file": target.relative_to(root).as_posix()})
    return out
