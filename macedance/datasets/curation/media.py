"""Per-clip media shared by ``data build`` and ``data render``: the music analysis of a whole track and its
cut to one clip, the clip's audio (WAV) and its reference frame (JPEG), all written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from macedance.datasets.curation.segment import sample_span
from macedance.errors import MaceDanceError
from macedance.fileio import atomic_write


def analyze_music(path: Path, music_preset: str, fps: float) -> tuple[Any, tuple[Any, str]]:
    """``(preset, (analysis, sha256))`` of the audio of ``path`` with the named preset at ``fps`` feature frames/s."""
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    preset = get_music_preset(music_preset)
    if abs(preset.fps - fps) > 1e-9:
        from dataclasses import replace

        preset = replace(preset, fps=fps)
    return preset, analyze_file(path, preset)


def clip_music(analysis: Any, t0: float, t1: float, frames: int) -> Any:
    """The ``MusicAnalysis`` of the span [t0, t1) s of a track: ``frames`` feature rows (the last row
    repeated when the audio ends early) and the beats inside the span, relative to ``t0``."""
    from macedance.music.features import MusicAnalysis

    a = int(round(t0 * analysis.fps))
    feats = analysis.features[a : a + frames]
    if len(feats) < frames:  # audio a little shorter than the video: repeat its last row
        pad = np.repeat(feats[-1:] if len(feats) else np.zeros((1, analysis.features.shape[1]), np.float32), frames - len(feats), 0)
        feats = np.concatenate([feats, pad])
    sel = (analysis.beat_times >= t0) & (analysis.beat_times < t1)
    beats = analysis.beat_times[sel] - t0
    return MusicAnalysis(feats.astype(np.float32), beats, np.rint(beats * analysis.fps).astype(np.int64), analysis.tempo,
                         analysis.fps, t1 - t0, analysis.start_bpm, dict(analysis.details))


def write_clip_audio(path: Path, audio: Any, start_frame: int, end_frame: int, fps: float) -> None:
    """The audio of frames [start_frame, end_frame) at ``fps`` (see :func:`sample_span`; zero-padded when
    the audio ends early) as 16-bit WAV."""
    import soundfile as sf

    s0, s1 = sample_span(start_frame, end_frame, fps, audio.sample_rate)
    y = audio.samples[s0:s1]
    if len(y) < s1 - s0:
        y = np.pad(y, (0, s1 - s0 - len(y)))
    buf = io.BytesIO()  # encoded in memory: libsndfile's write callbacks would print (not raise) a full disk's error
    sf.write(buf, y, audio.sample_rate, format="WAV", subtype="PCM_16")
    with atomic_write(path) as f:
        f.write(buf.getvalue())


def write_jpeg(path: Path, frame: np.ndarray, quality: int = 95) -> None:
    """An (H, W, 3) uint8 RGB frame as a JPEG."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MaceDanceError(f"{path}: JPEG encoding failed")
    with atomic_write(path) as f:
        f.write(buf.tobytes())
