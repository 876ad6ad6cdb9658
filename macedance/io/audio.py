"""Audio loading: any common audio file or the audio track of a video, mono, optionally resampled.

* ``.wav/.flac/.ogg/.aiff`` are read with soundfile (libsndfile); anything else — mp3, aac/m4a, and
  the audio stream of mp4/mkv/webm/mov/avi — is decoded with PyAV (bundled FFmpeg).
* Channels are averaged to mono (as ``librosa.to_mono``); resampling uses soxr ``HQ`` — the same
  pipeline as ``librosa.load(path, sr=sr)``, so results match librosa-based reference code.
* Errors name the file: not found, no audio stream, zero length, undecodable data, a sample rate, channel count
  or length out of the range of :mod:`macedance.limits` (checked from the header, before decoding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError
from macedance.limits import MAX_AUDIO_CHANNELS, MAX_AUDIO_SECONDS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES + (".mp3", ".aac", ".m4a", ".opus", ".wma")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")
MEDIA_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES


@dataclass(frozen=True)
class Audio:
    """Mono samples (float32, (N,)), their sample rate (Hz) and where they came from."""

    samples: np.ndarray
    sample_rate: int
    source: str

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.samples.shape[0] / self.sample_rate


def _check_header(path: Path, rate: float, channels: int, seconds: float | None = None) -> None:
    """Refuse what a header states before the samples are decoded: an absurd sample rate (resampling a 1 Hz file
    to 44.1 kHz would multiply its samples 44 100 times), channel count or length."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise DataFormatError(f"{path}: the audio states a sample rate of {rate:g} Hz, expected {MIN_SAMPLE_RATE} to "
                              f"{MAX_SAMPLE_RATE} Hz")
    if not 1 <= channels <= MAX_AUDIO_CHANNELS:
        raise DataFormatError(f"{path}: the audio states {channels} channels, expected 1 to {MAX_AUDIO_CHANNELS}")
    if seconds is not None and seconds > MAX_AUDIO_SECONDS:
        raise DataFormatError(f"{path}: {seconds / 3600:.1f} h of audio, more than {MAX_AUDIO_SECONDS / 3600:g} h allowed")


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    info = sf.info(str(path))
    _check_header(path, info.samplerate, info.channels, info.frames / info.samplerate if info.samplerate > 0 else None)
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data.T, int(sr)  # (channels, N)


@contextlib.contextmanager
def _audio_stream(path: Path, *, with_length: bool = False) -> Iterator[tuple[Any, Any, int]]:
    """(container, its first audio stream, sample rate), opened with FFmpeg and checked against the limits from the
    header alone (the stated length too with ``with_length``)."""
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # av.error.* subclasses
        raise DataFormatError(f"{path}: cannot open media file ({exc})") from None
    with container:
        if not container.streams.audio:
            raise DataFormatError(f"{path}: no audio stream (streams: {[s.type for s in container.streams]})")
        stream = container.streams.audio[0]
        sr = int(stream.rate or stream.codec_context.sample_rate or 0)
        seconds = float(stream.duration * stream.time_base) if with_length and stream.duration and stream.time_base else None
        _check_header(path, sr, int(stream.codec_context.channels or 1), seconds)
        yield container, stream, sr


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    with _audio_stream(path) as (container, stream, sr):
        chunks, n, limit = [], 0, MAX_AUDIO_SECONDS * sr
        try:
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                if not frame.format.is_planar:  # interleaved (1, N·C) → (C, N)
                    arr = arr.reshape(-1, len(frame.layout.channels)).T
                chunks.append(arr.astype(np.float32) * _scale(arr.dtype))
                n += arr.shape[-1]
                if n > limit:  # a length no header stated: stop before memory runs out
                    raise DataFormatError(f"{path}: more than {MAX_AUDIO_SECONDS / 3600:g} h of audio")
        except DataFormatError:
            raise
        except Exception as exc:
            raise DataFormatError(f"{path}: audio data cannot be decoded ({exc})") from None
    if not chunks:
        raise DataFormatError(f"{path}: the audio stream has no samples")
    return np.concatenate(chunks, axis=1), sr


def _scale(dtype: np.dtype) -> float:
    """Factor mapping integer PCM to [−1, 1] (1 for float formats)."""
    if np.issubdtype(dtype, np.integer):
        return 1.0 / float(2 ** (8 * np.dtype(dtype).itemsize - 1))
    return 1.0


def load_audio(path: str | Path, sample_rate: int | None = None) -> Audio:
    """Load ``path`` as mono float32, resampled to ``sample_rate`` when given.

    Raises:
        InputNotFoundError: no such file.
        DataFormatError: no audio stream, zero length, or undecodable data.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            data, sr = _read_soundfile(path)
        except DataFormatError:
            raise
        except Exception:  # libsndfile refused: let FFmpeg try before giving up
            data, sr = _read_pyav(path)
    else:
        data, sr = _read_pyav(path)
    if data.shape[-1] == 0:
        raise DataFormatError(f"{path}: audio has zero length")
    y = np.mean(data, axis=0) if data.shape[0] > 1 else data[0]
    if not np.isfinite(y).all():
        raise DataFormatError(f"{path}: audio contains NaN/Inf samples")
    audio = Audio(np.ascontiguousarray(y, dtype=np.float32), int(sr), str(path))
    return audio if sample_rate is None else resample(audio, sample_rate)


def resample(audio: Audio, sample_rate: int) -> Audio:
    """``audio`` at ``sample_rate`` (soxr ``HQ``, as ``librosa.load(sr=…)``)."""
    if sample_rate == audio.sample_rate:
        return audio
    import soxr

    y = soxr.resample(audio.samples, audio.sample_rate, sample_rate, quality="HQ")
    return Audio(np.ascontiguousarray(y, dtype=np.float32), int(sample_rate), audio.source)


def _probe(path: Path) -> None:
    """The checks :func:`load_audio` makes before decoding, from the container's header only."""
    if not path.is_file():
        raise InputNotFoundError(f"{path}: audio file not found")
    with _audio_stream(path, with_length=True):
        pass


def essentia_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("essentia") is not None


def load_audio_essentia(path: str | Path, sample_rate: int) -> Audio:
    """``path`` as Essentia's ``MonoLoader(filename, sampleRate)`` gives it (its decoder, downmix and resampler), as
    Bailando's preprocessing loads music; needs the ``essentia`` package (``pip install 'macedance[essentia]'``).
    The file's header is checked first, without decoding it (exists, an audio stream, rate, channels and length in the
    limits), with :func:`load_audio`'s errors."""
    path = Path(path)
    _probe(path)
    import essentia

    essentia.log.infoActive = essentia.log.warningActive = False  # before essentia.standard: it logs on import
    import essentia.standard as es
    try:
        y = es.MonoLoader(filename=str(path), sampleRate=float(sample_rate))()
    except RuntimeError as exc:
        raise DataFormatError(f"{path}: Essentia's MonoLoader cannot read it ({str(exc).strip()[:200]})") from None
    if y.size == 0 or not np.isfinite(y).all():
        raise DataFormatError(f"{path}: Essentia's MonoLoader returned {'no' if y.size == 0 else 'non-finite'} samples")
    return Audio(np.ascontiguousarray(y, dtype=np.float32), int(sample_rate), str(path))
