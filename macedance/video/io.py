"""Video probing and decoding (PyAV): frames as (T, H, W, 3) uint8 RGB, read in one pass or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _open(path: Path):
    import av

    if not path.is_file():
        raise InputNotFoundError(f"{path}: video not found")
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: zero-length file")
    try:
        return av.open(str(path))
    except Exception as exc:
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
                         aud is not None, int(aud.rate or 0) if aud else 0, int(aud.channels or 0) if aud else 0)


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is at most ``max_side`` (even numbers; unchanged if smaller)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    s = max_side / max(width, height)
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def iter_av_frames(path: str | Path, start: int = 0, max_frames: int | None = None) -> Iterator[Any]:
    """Yield PyAV ``VideoFrame`` objects of frames [start, start + max_frames) in presentation order.

    Frame k is the k-th frame the decoder outputs. With ``start > 0`` on a constant-frame-rate
    stream with timestamps, the demuxer seeks to the key frame before ``start`` and frames are
    indexed by timestamp (k = round((pts − start_time) · time_base · fps), the same index for a
    constant rate); otherwise the first ``start`` frames are decoded and skipped.
    """
    import av

    path = Path(path)
    container = _open(path)
    with container:
        if not container.streams.video:
            raise DataFormatError(f"{path}: no video stream")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        rate = vs.average_rate or vs.guessed_rate
        fps = float(rate) if rate else 0.0
        tb = float(vs.time_base) if vs.time_base else 0.0
        t0 = vs.start_time or 0
        constant = bool(rate and vs.base_rate and abs(float(vs.base_rate) - fps) < 1e-3 * fps)
        seek = start > 0 and fps > 0 and tb > 0 and constant
        if seek:
            try:
                container.seek(t0 + int((start - 0.5) / fps / tb), stream=vs, backward=True, any_frame=False)
            except av.error.FFmpegError:  # type: ignore[attr-defined]
                container.seek(0)
                seek = False
        n = i = 0
        try:
            for frame in container.decode(vs):
                if seek and frame.pts is not None:
                    k = int(round((frame.pts - t0) * tb * fps))
                else:
                    if seek:  # a frame without a timestamp: index by counting from the start instead
                        yield from _count_from_start(path, start, max_frames)
                        return
                    k = i
                i += 1
                if k < start:
                    continue
                yield frame
                n += 1
                if max_frames is not None and n >= max_frames:
                    return
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            raise DataFormatError(f"{path}: video data cannot be decoded ({exc})") from None


def _count_from_start(path: Path, start: int, max_frames: int | None) -> Iterator[Any]:
    with _open(path) as container:
        container.streams.video[0].thread_type = "AUTO"
        n = 0
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            yield frame
            n += 1
            if max_frames is not None and n >= max_frames:
                return


def to_rgb(frame: Any, max_side: int | None = None, rotate: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB array of a PyAV frame, downscaled in swscale (area) so that its longer side
    is ≤ ``max_side``, and turned by the stream's display rotation when ``rotate``."""
    if max_side and max(frame.width, frame.height) > max_side:
        w, h = scaled_size(frame.width, frame.height, max_side)
        img = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    else:
        img = frame.to_ndarray(format="rgb24")
    rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360 if rotate else 0
    return np.ascontiguousarray(np.rot90(img, rot // 90)) if rot else img


def iter_frames(path: str | Path, max_frames: int | None = None, start: int = 0, max_side: int | None = None,
                rotate: bool = False) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames [start, start + max_frames), streaming (one frame in memory at
    a time); see :func:`iter_av_frames` for the frame index and :func:`to_rgb` for the options."""
    for frame in iter_av_frames(path, start, max_frames):
        yield to_rgb(frame, max_side, rotate)


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
    except Exception:
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
