"""Video files (PyAV, bundled FFmpeg): probing, decoding frames as (T, H, W, 3) uint8 RGB in one pass or
streamed, and writing H.264 with an optional music track muxed in — every video read or written by macedance."""

from __future__ import annotations

import fractions
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError
from macedance.fileio import atomic_write
from macedance.limits import MAX_FPS, MAX_FRAME_PIXELS, MIN_FPS

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


def _check_stream(path: Path, vs: Any) -> None:
    """Refuse a video stream whose header states an absurd frame size or rate, before a frame is decoded (the
    decoder would allocate the stated size; durations and frame indices derive from the rate)."""
    cc = vs.codec_context
    w, h = int(cc.width or vs.width or 0), int(cc.height or vs.height or 0)
    if w * h > MAX_FRAME_PIXELS:
        raise DataFormatError(f"{path}: the video stream states {w}×{h} frames ({w * h / 1e6:.0f} megapixels), "
                              f"more than {MAX_FRAME_PIXELS / 1e6:.1f} allowed (8K)")
    rate = vs.average_rate or vs.guessed_rate
    if rate and not MIN_FPS <= float(rate) <= MAX_FPS:
        raise DataFormatError(f"{path}: the video stream states {float(rate):.6g} frames per second, "
                              f"expected {MIN_FPS:g} to {MAX_FPS:g}")


def _check_frame(path: Path, frame: Any) -> None:
    if frame.width * frame.height > MAX_FRAME_PIXELS:  # a size change inside the stream
        raise DataFormatError(f"{path}: a frame of {frame.width}×{frame.height}, more than {MAX_FRAME_PIXELS / 1e6:.1f} "
                              "megapixels allowed (8K)")


def count_packets(path: str | Path) -> int:
    """Frames of the first video stream, counted from its packets (demuxed, not decoded): what the file holds, whatever
    its container states (a hostile or broken header may state any count or duration)."""
    path = Path(path)
    with _open(path) as c:
        if not c.streams.video:
            raise DataFormatError(f"{path}: no video stream")
        return sum(1 for p in c.demux(video=0) if p.size)


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
        _check_stream(path, vs)
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
        n = sum(1 for p in c.demux(video=0) if p.size)  # as count_packets: not what the container states
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
        _check_stream(path, vs)
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
                _check_frame(path, frame)
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
            _check_frame(path, frame)
            if i < start:
                continue
            yield frame
            n += 1
            if max_frames is not None and n >= max_frames:
                return


def to_rgb(frame: Any, max_side: int | None = None, rotate: bool = False, *, size: tuple[int, int] | None = None,
           interpolation: str = "AREA") -> np.ndarray:
    """(H, W, 3) uint8 RGB array of a PyAV frame, downscaled in swscale (``interpolation``, area by default) so
    that its longer side is ≤ ``max_side`` — or scaled to exactly ``size`` = (width, height) of the output,
    aspect ratio ignored — and turned by the stream's display rotation when ``rotate``."""
    rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360 if rotate else 0
    if size is not None:
        w, h = size if rot in (0, 180) else size[::-1]  # scaled before the turn
        img = frame.reformat(width=w, height=h, format="rgb24", interpolation=interpolation).to_ndarray()
    elif max_side and max(frame.width, frame.height) > max_side:
        w, h = scaled_size(frame.width, frame.height, max_side)
        img = frame.reformat(width=w, height=h, format="rgb24", interpolation=interpolation).to_ndarray()
    else:
        img = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(img, rot // 90)) if rot else img


def iter_frames(path: str | Path, *, max_frames: int | None = None, start: int = 0, max_side: int | None = None,
                rotate: bool = False) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames [start, start + max_frames), streaming (one frame in memory at
    a time); see :func:`iter_av_frames` for the frame index and :func:`to_rgb` for the options."""
    for frame in iter_av_frames(path, start, max_frames):
        yield to_rgb(frame, max_side, rotate)


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """All (or the first ``max_frames``) frames as (T, H, W, 3) uint8, and the stream's frame rate."""
    import av

    frames = list(iter_frames(path, max_frames=max_frames))
    if not frames:
        raise DataFormatError(f"{path}: the video has no frames")
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate or c.streams.video[0].guessed_rate
    return np.stack(frames), float(rate) if rate else 0.0


def sample_indices(n: int, k: int) -> np.ndarray:
    """``k`` evenly spaced frame indices of ``n`` (all when n ≤ k)."""
    return np.arange(n) if n <= k else np.unique(np.linspace(0, n - 1, k).round().astype(int))


def sample_frames(path: str | Path, k: int) -> np.ndarray:
    """Up to ``k`` evenly spaced frames (k, H, W, 3), decoded in one streaming pass that keeps only those frames. The
    frames are counted from the packets first (:func:`count_packets`): a container that states another frame count
    would otherwise give fewer frames, or frames from its start only."""
    try:
        n = count_packets(path)
    except DataFormatError:
        n = 0
    if n > 0:
        want = set(sample_indices(n, k).tolist())
        kept = [f for i, f in enumerate(iter_frames(path, max_frames=n)) if i in want]
        if kept:
            return np.stack(kept)
    frames = list(iter_frames(path))
    if not frames:
        raise DataFormatError(f"{path}: the video has no frames")
    return np.stack([frames[i] for i in sample_indices(len(frames), k)])


#: libx264 frame threads of every video macedance writes (fixed: the bitstream depends on the thread count).
ENCODER_THREADS = 4


def write_video(path: str | Path, frames: Iterable[np.ndarray | Any], fps: float, *, audio: str | Path | None = None,
                audio_seconds: float | None = None, crf: int = 20) -> Path:
    """Encode frames to an mp4 (H.264, yuv420p), atomically.

    Args:
        path: output ``.mp4``.
        frames: iterable of (H, W, 3) uint8 RGB arrays, or of decoded PyAV ``VideoFrame`` objects
            (passed to the encoder in their own pixel format, converted only if not yuv420p: no
            round trip through RGB); even width and height.
        fps: frame rate.
        audio: a music file to mux in (AAC, 44.1 kHz stereo-compatible mono), trimmed to
            ``audio_seconds`` (default: the video's length).
        crf: x264's constant rate factor (20: watchable files; the benchmark's evaluation videos use 10).
    """
    import av

    from macedance.io.audio import load_audio

    path = Path(path)
    with atomic_write(path) as f, av.open(f, "w", format="mp4") as out:
        vs = None
        n = 0
        rate = fractions.Fraction(fps).limit_denominator(1000)
        for frame in frames:
            if vs is None:
                h, w = (frame.shape[:2]) if isinstance(frame, np.ndarray) else (frame.height, frame.width)
                vs = out.add_stream("libx264", rate=rate)
                vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
                # Same frames → same bytes on any machine, executor and worker count: a fixed number of frame
                # threads (libx264's default, slice threads with a count from the CPU count, is not even
                # repeatable within one process) and x264's cpu-independent mode (C code where SIMD could round
                # differently: its float lookahead/mbtree functions).
                vs.thread_type, vs.thread_count = "FRAME", ENCODER_THREADS
                vs.options = {"crf": str(int(crf)), "preset": "veryfast", "x264-params": "cpu-independent=1"}
                if audio is not None:
                    aus = out.add_stream("aac", rate=44100)
                    aus.layout = "mono"
            if isinstance(frame, np.ndarray):
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            else:
                vf = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
                vf.pict_type = 0  # NONE: libx264 would otherwise copy the source's I/P/B frame types
                if n == 0:  # the source's colour description (matrix, range, primaries, transfer) stays with its YUV values
                    for tag in ("colorspace", "color_range", "color_primaries", "color_trc"):
                        setattr(vs.codec_context, tag, getattr(vf, tag))
            vf.pts, vf.time_base = n, 1 / rate
            for pkt in vs.encode(vf):
                out.mux(pkt)
            n += 1
        if vs is None:
            raise ValueError("no frames to write")
        for pkt in vs.encode():
            out.mux(pkt)
        if audio is not None:
            seconds = audio_seconds if audio_seconds is not None else n / fps
            y = load_audio(audio, 44100).samples[: int(round(seconds * 44100))]
            for i in range(0, len(y), 1024):
                af = av.AudioFrame.from_ndarray(y[None, i : i + 1024].astype(np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, i, fractions.Fraction(1, 44100)
                for pkt in aus.encode(af):
                    out.mux(pkt)
            for pkt in aus.encode():
                out.mux(pkt)
    return path


def write_clip(src: str | Path, out: str | Path, *, start: int, end: int, fps: float, audio: str | Path | None = None,
               draw: Callable[[int, np.ndarray], np.ndarray] | None = None) -> Path:
    """Re-encode frames [start, end) of the video ``src`` (display rotation applied, cropped to even
    sizes) as an mp4 at ``fps``, each frame passed through ``draw(i, frame)`` when given, with
    ``audio`` (the clip's own audio file) muxed in, trimmed to the clip's length.

    Without ``draw``, frames that need neither rotation nor cropping go to the encoder as decoded
    (YUV), which skips two colour conversions per frame (at 720p more than half the cost)."""

    def frames() -> Iterator[np.ndarray | Any]:
        for i, frame in enumerate(iter_av_frames(src, start, end - start)):
            rotated = int(round(getattr(frame, "rotation", 0) or 0)) % 360 != 0
            if draw is None and not rotated and frame.width % 2 == 0 and frame.height % 2 == 0:
                yield frame
                continue
            img = to_rgb(frame, rotate=True)
            img = draw(i, img) if draw is not None else img
            h, w = img.shape[:2]
            yield img[: h - h % 2, : w - w % 2]

    return write_video(out, frames(), fps, audio=audio, audio_seconds=(end - start) / fps)
