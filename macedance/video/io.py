"""Video decoding (PyAV): frames as (T, H, W, 3) uint8 RGB, read in one pass or streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".gif")


def iter_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames in decode order (``max_frames`` at most)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: video not found")
    try:
        container = av.open(str(path))
    except Exception as exc:
        raise DataFormatError(f"{path}: cannot open video ({exc})") from None
    with container:
        if not container.streams.video:
            raise DataFormatError(f"{path}: no video stream")
        n = 0
        try:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
                n += 1
                if max_frames is not None and n >= max_frames:
                    return
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            raise DataFormatError(f"{path}: video data cannot be decoded ({exc})") from None


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """All (or the first ``max_frames``) frames as (T, H, W, 3) uint8, and the stream's frame rate."""
    import av

    frames = list(iter_frames(path, max_frames))
    if not frames:
        raise DataFormatError(f"{path}: the video has no frames")
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate or c.streams.video[0].guessed_rate
    return np.stack(frames), float(rate) if rate else 0.0
