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


def sample_indices(n: int, k: int) -> np.ndarray:
    """``k`` evenly spaced frame indices of ``n`` (all when n ≤ k)."""
    return np.arange(n) if n <= k else np.unique(np.linspace(0, n - 1, k).round().astype(int))


def sample_frames(path: str | Path, k: int) -> np.ndarray:
    """Up to ``k`` evenly spaced frames (k, H, W, 3), decoded in one streaming pass that keeps only
    those frames when the container states its frame count (otherwise every frame is read first)."""
    import av

    try:
        with av.open(str(path)) as c:
            n = int(c.streams.video[0].frames) if c.streams.video else 0
    except Exception:  # noqa: BLE001 - iter_frames below reports unreadable files properly
        n = 0
    if n > 0:
        want = set(sample_indices(n, k).tolist())
        kept = [f for i, f in enumerate(iter_frames(path, n)) if i in want]
        if kept:
            return np.stack(kept)
    frames = list(iter_frames(path))
    if not frames:
        raise DataFormatError(f"{path}: the video has no frames")
    return np.stack([frames[i] for i in sample_indices(len(frames), k)])
