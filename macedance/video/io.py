"""Video probing and decoding (PyAV): frames as (T, H, W, 3) uint8 RGB, read in one pass or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".gif")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` finds in a video file (sizes after the display rotation)."""

    path: str
    fps: float
    width: int
    height: int
    frames: int
    duration: float  # seconds (frames / fps)
    rotation: int  # display rotation, degrees counter-clockwise (0, 90, 180, 270)
    codec: str
    has_audio: bool
    audio_rate: int
    audio_channels: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _open(path: Path):  # noqa: ANN202 - av.container.InputContainer
    import av

    if not path.is_file():
        raise InputNotFoundError(f"{path}: video not found")
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: zero-length file")
    try:
        return av.open(str(path))
    except Exception as exc:  # noqa: BLE001 - any FFmpeg open error is a format problem of this file
        raise DataFormatError(f"{path}: cannot open as a video ({type(exc).__name__}: {exc})") from None


def probe_video(path: str | Path) -> VideoInfo:
    """Frame rate, size, frame count (counted from the packets), rotation and audio stream of a video.

    Raises:
        DataFormatError: zero-length, unreadable, no video stream, no decodable frame, unknown rate.
    """
    import av

    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise DataFormatError(f"{path}: no video stream")
        vs = c.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate
        if not rate or float(rate) <= 0:
            raise DataFormatError(f"{path}: the video stream states no frame rate")
        rotation, size = 0, (0, 0)
        try:
            for frame in c.decode(video=0):
                rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
                size = (frame.width, frame.height)
                break
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            raise DataFormatError(f"{path}: video data cannot be decoded ({exc})") from None
        if size == (0, 0):
            raise DataFormatError(f"{path}: the video has no decodable frame")
        c.seek(0)
        n = sum(1 for p in c.demux(video=0) if p.size)
        aud = c.streams.audio[0] if c.streams.audio else None
        w, h = size if rotation in (0, 180) else size[::-1]
        return VideoInfo(str(path), float(rate), int(w), int(h), n, n / float(rate), rotation, vs.codec_context.name,
                         aud is not None, int(aud.rate or 0) if aud else 0, int(aud.channels or 0) if aud else 0)  # fmt: skip


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is at most ``max_side`` (even numbers; unchanged if smaller)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    s = max_side / max(width, height)
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def iter_frames(path: str | Path, max_frames: int | None = None, start: int = 0, max_side: int | None = None,
                rotate: bool = False) -> Iterator[np.ndarray]:  # fmt: skip
    """Yield (H, W, 3) uint8 RGB frames in decode order, streaming (one frame in memory at a time).

    Args:
        max_frames: stop after this many yielded frames.
        start: skip the first ``start`` frames (decoded, not converted).
        max_side: downscale in the decoder (swscale, area) so that the longer side is ≤ this.
        rotate: apply the stream's display rotation (sizes as :func:`probe_video` reports them).
    """
    import av

    path = Path(path)
    container = _open(path)
    with container:
        if not container.streams.video:
            raise DataFormatError(f"{path}: no video stream")
        container.streams.video[0].thread_type = "AUTO"
        n = i = 0
        try:
            for frame in container.decode(video=0):
                i += 1
                if i <= start:
                    continue
                rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360 if rotate else 0
                if max_side:
                    w, h = scaled_size(frame.width, frame.height, max_side)
                    img = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
                else:
                    img = frame.to_ndarray(format="rgb24")
                yield np.ascontiguousarray(np.rot90(img, rot // 90)) if rot else img
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
