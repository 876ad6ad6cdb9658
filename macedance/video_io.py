"""Writing videos: H.264 frames with an optional music track muxed in (PyAV, bundled FFmpeg)."""

from __future__ import annotations

import fractions
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance.fileio import atomic_write

#: libx264 frame threads of every video macedance writes (fixed: the bitstream depends on the thread count).
ENCODER_THREADS = 4


def write_video(path: str | Path, frames: Iterable[np.ndarray | Any], fps: float, audio: str | Path | None = None,
                audio_seconds: float | None = None) -> Path:
    """Encode frames to an mp4 (H.264, yuv420p), atomically.

    Args:
        path: output ``.mp4``.
        frames: iterable of (H, W, 3) uint8 RGB arrays, or of decoded PyAV ``VideoFrame`` objects
            (passed to the encoder in their own pixel format, converted only if not yuv420p: no
            round trip through RGB); even width and height.
        fps: frame rate.
        audio: a music file to mux in (AAC, 44.1 kHz stereo-compatible mono), trimmed to
            ``audio_seconds`` (default: the video's length).
    """
    import av

    from macedance.music.audio import load_audio

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
                vs.options = {"crf": "20", "preset": "veryfast", "x264-params": "cpu-independent=1"}
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


def write_clip(src: str | Path, out: str | Path, start: int, end: int, fps: float, audio: str | Path | None = None,
               draw: Callable[[int, np.ndarray], np.ndarray] | None = None) -> Path:
    """Re-encode frames [start, end) of the video ``src`` (display rotation applied, cropped to even
    sizes) as an mp4 at ``fps``, each frame passed through ``draw(i, frame)`` when given, with
    ``audio`` (the clip's own audio file) muxed in, trimmed to the clip's length.

    Without ``draw``, frames that need neither rotation nor cropping go to the encoder as decoded
    (YUV), which skips two colour conversions per frame (at 720p more than half the cost)."""
    from macedance.video.io import iter_av_frames, to_rgb

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
