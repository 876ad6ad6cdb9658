"""Writing videos: H.264 frames with an optional music track muxed in (PyAV, bundled FFmpeg)."""

from __future__ import annotations

import fractions
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from macedance.fileio import atomic_write


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, audio: str | Path | None = None,
                audio_seconds: float | None = None) -> Path:  # fmt: skip
    """Encode (H, W, 3) uint8 RGB frames to an mp4 (H.264, yuv420p), atomically.

    Args:
        path: output ``.mp4``.
        frames: iterable of frames (even width and height).
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
                h, w = frame.shape[:2]
                vs = out.add_stream("libx264", rate=rate)
                vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
                vs.options = {"crf": "20", "preset": "veryfast"}
                if audio is not None:
                    aus = out.add_stream("aac", rate=44100)
                    aus.layout = "mono"
            for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
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
               draw: Callable[[int, np.ndarray], np.ndarray] | None = None) -> Path:  # fmt: skip
    """Re-encode frames [start, end) of the video ``src`` (display rotation applied, cropped to even
    sizes) as an mp4 at ``fps``, each frame passed through ``draw(i, frame)`` when given, with
    ``audio`` (the clip's own audio file) muxed in, trimmed to the clip's length."""
    from macedance.video.io import iter_frames

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(iter_frames(src, start=start, max_frames=end - start, rotate=True)):
            img = draw(i, frame) if draw is not None else frame
            h, w = img.shape[:2]
            yield img[: h - h % 2, : w - w % 2]

    return write_video(out, frames(), fps, audio=audio, audio_seconds=(end - start) / fps)
