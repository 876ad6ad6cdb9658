"""Music features (the FACT/EDGE/LODGE 35-d librosa set), beats and tempo, frame-aligned with motion.

Columns of the 35-d layout: 0 onset-strength envelope, 1–20 MFCC, 21–32 chroma_cens, 33 onset peaks
(one-hot), 34 beats (one-hot). Frames are at ``preset.fps`` (sample rate fps × hop, hop 512, centred
frames: frame k ↔ time k / fps), so frame k of the music lines up with motion frame k.
"""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from macedance.determinism import single_threaded_blas
from macedance.errors import DataFormatError
from macedance.io.audio import Audio
from macedance.music.presets import MusicPreset

_AIST_MUSIC = re.compile(r"^m(BR|PO|LO|MH|LH|WA|KR|JS|JB|HO)(\d)$")


def aist_music_id(name: str) -> str | None:
    """The AIST++ music id (``mBR0`` …) among the ``_``-separated parts of ``name``, or None."""
    for part in name.split("_"):
        if _AIST_MUSIC.match(part):
            return part
    return None


def aist_start_bpm(name: str) -> int | None:
    """Tempo of an AIST++ music id found among the ``_``-separated parts of ``name`` (FACT's rule)."""
    music_id = aist_music_id(name)
    if music_id is None:
        return None
    m = _AIST_MUSIC.match(music_id)
    assert m is not None
    d = int(m.group(2))
    return 110 + 5 * d if m.group(1) == "HO" else 80 + 10 * d


@dataclass
class MusicAnalysis:
    """Features, beats and tempo of one track under a preset."""

    features: np.ndarray  # (T, 35) float32
    beat_times: np.ndarray  # (B,) seconds
    beat_frames: np.ndarray  # (B,) frame indices at fps
    tempo: float  # BPM
    fps: float
    duration: float  # seconds of audio
    start_bpm: float
    details: dict[str, Any]


def _librosa() -> Any:
    import librosa

    return librosa


def _start_bpm(preset: MusicPreset, name: str, audio: Audio) -> float:
    rule = preset.start_bpm
    if rule.startswith("aist-rule"):
        bpm = aist_start_bpm(name)
        if bpm is not None:
            return float(bpm)
        if rule == "aist-rule":
            raise DataFormatError(
                f"{audio.source}: preset {preset.name} needs an AIST++ music id (e.g. mBR0) in the file name for its "
                "start tempo; use the clean, edge or lodge preset for other music"
            )
        rule = "estimate"
    if rule == "estimate":  # EDGE/LODGE fallback: librosa.beat.tempo on the file loaded at 22050 Hz
        from librosa.feature.rhythm import tempo

        from macedance.io.audio import load_audio

        y22 = load_audio(audio.source, 22050).samples
        return float(tempo(y=y22, sr=22050)[0])
    return float(rule)


def analyze(audio: Audio, preset: MusicPreset, *, name: str = "", native: Audio | None = None) -> MusicAnalysis:
    """Features, beats and tempo of ``audio`` (already at ``preset.sample_rate``).

    ``native``: the same audio at its original rate, from which a separate beat analysis resamples
    (otherwise it resamples ``audio``).

    librosa's warnings (short signals, empty tuning estimates) are recorded in ``details["warnings"]``
    instead of being printed.
    """
    _librosa()  # loaded before the BLAS limit below is set, so that it covers scipy's BLAS too
    with warnings.catch_warnings(record=True) as caught, single_threaded_blas():  # the same bytes with any thread count
        warnings.simplefilter("always")
        result = _analyze(audio, preset, name, native)
    if caught:
        result.details["warnings"] = sorted({str(w.message) for w in caught})
    return result


def _analyze(audio: Audio, preset: MusicPreset, name: str, native: Audio | None) -> MusicAnalysis:
    lr = _librosa()
    sr, hop = preset.sample_rate, preset.hop
    if audio.sample_rate != sr:
        raise ValueError(f"audio must be at {sr} Hz for preset {preset.name}, got {audio.sample_rate}")
    y = audio.samples
    if y.size < hop:
        raise DataFormatError(f"{audio.source}: {y.size / sr:.3f} s of audio is too short to analyse")
    if preset.layout == "bailando":
        return _bailando(audio, preset)
    start_bpm = _start_bpm(preset, name, audio)
    separate = preset.beat_source != "feature-envelope"
    # The separate beat analysis runs on a second core (numpy/FFT/numba kernels release the GIL).
    with ThreadPoolExecutor(1) as pool:
        beats_job = pool.submit(track_beats, native or audio, preset, start_bpm) if separate else None
        # onset_strength(y) and mfcc(y) both start from the same default dB mel spectrogram: compute it once.
        mel_db = lr.power_to_db(lr.feature.melspectrogram(y=y, sr=sr))
        envelope = lr.onset.onset_strength(S=mel_db, sr=sr)
        mfcc = lr.feature.mfcc(S=mel_db, n_mfcc=20).T
        chroma = lr.feature.chroma_cens(y=y, sr=sr, hop_length=hop, n_chroma=12).T
        peaks = lr.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr, hop_length=hop)
        tracked = beats_job.result() if beats_job else None
    peak_onehot = np.zeros_like(envelope, dtype=np.float32)
    peak_onehot[peaks] = 1.0
    details: dict[str, Any] = {"beat_source": preset.beat_source}
    if tracked is None:
        tempo, beat_idx = lr.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=hop, start_bpm=start_bpm,
                                             tightness=preset.tightness, trim=preset.trim)
        beat_times = lr.frames_to_time(beat_idx, sr=sr, hop_length=hop)
    else:
        tempo, beat_times = tracked
        beat_idx = np.rint(np.asarray(beat_times) * preset.fps).astype(int)
        beat_idx = np.unique(beat_idx[(beat_idx >= 0) & (beat_idx < len(envelope))])
    beat_onehot = np.zeros_like(envelope, dtype=np.float32)
    beat_onehot[beat_idx] = 1.0
    features = np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)
    if preset.crop_frames is not None:
        features = features[: preset.crop_frames]
    return MusicAnalysis(features.astype(np.float32), np.asarray(beat_times, dtype=np.float64),
                         np.asarray(beat_idx, dtype=np.int64), float(np.atleast_1d(tempo)[0]), preset.fps,
                         audio.duration, start_bpm, details)


def _bailando(audio: Audio, preset: MusicPreset) -> MusicAnalysis:
    """Bailando's acoustic feature (438 columns; see the preset) with its beats."""
    lr = _librosa()
    y, sr = audio.samples, audio.sample_rate
    mel_db = lr.power_to_db(lr.feature.melspectrogram(y=y, sr=sr), ref=np.max)
    mfcc = lr.feature.mfcc(S=mel_db)
    mfcc_delta = lr.feature.delta(mfcc, width=3)
    harmonic, percussive = lr.effects.hpss(y)
    chroma = lr.feature.chroma_cqt(y=harmonic, sr=sr, n_octaves=7 if sr == 15360 * 2 else 5)
    onset_env = lr.onset.onset_strength(y=percussive, aggregate=np.median, sr=sr)
    tempogram = lr.feature.tempogram(onset_envelope=onset_env, sr=sr)
    tempo, beat_idx = lr.beat.beat_track(onset_envelope=onset_env, sr=sr)
    beats = np.zeros(len(onset_env))
    beats[beat_idx] = 1
    features = np.concatenate([mfcc, mfcc_delta, chroma, onset_env[None], beats[None], tempogram], axis=0).T
    return MusicAnalysis(features, lr.frames_to_time(beat_idx, sr=sr, hop_length=preset.hop).astype(np.float64),
                         np.asarray(beat_idx, dtype=np.int64), float(np.atleast_1d(tempo)[0]), preset.fps,
                         audio.duration, 120.0, {"beat_source": preset.beat_source, "layout": "bailando"})


def track_beats(audio: Audio, preset: MusicPreset, start_bpm: float = 120.0) -> tuple[float, np.ndarray]:
    """Tempo (BPM) and beat times (s) with the preset's separate beat analysis (``audio`` at any rate).

    ``librosa-default``: ``beat_track(y, sr)`` with defaults at ``beat_sr`` (MACE-Dance).
    ``refined``: onset envelope on mel bands up to ``beat_fmax`` at (``beat_sr``, ``beat_hop``),
    ``beat_track`` with the preset's prior and tightness, then every beat moved to the strongest peak of
    a hop-64, 1024-point onset envelope within ±``refine_window`` s — removing the frame latency of the tracker
    (≈ 20 ms at hop 512, ≈ 60 ms at 8 kHz) without changing which beats are chosen.
    """
    from macedance.io.audio import resample

    lr = _librosa()
    sr = preset.beat_sr or preset.sample_rate
    y = resample(audio, sr).samples
    if preset.beat_source == "librosa-default":
        tempo, frames = lr.beat.beat_track(y=y, sr=sr)
        return float(np.atleast_1d(tempo)[0]), lr.frames_to_time(frames, sr=sr)
    kw = {"fmax": preset.beat_fmax} if preset.beat_fmax else {}
    env = lr.onset.onset_strength(y=y, sr=sr, hop_length=preset.beat_hop, **kw)
    tempo, frames = lr.beat.beat_track(onset_envelope=env, sr=sr, hop_length=preset.beat_hop, start_bpm=start_bpm,
                                       tightness=preset.tightness, trim=preset.trim)
    times = lr.frames_to_time(frames, sr=sr, hop_length=preset.beat_hop)
    if preset.beat_source == "refined" and len(times):
        fine_hop = 64
        fine = lr.onset.onset_strength(y=y, sr=sr, hop_length=fine_hop, n_fft=1024, **kw)
        w = int(round(preset.refine_window * sr / fine_hop))
        centre = np.rint(times * sr / fine_hop).astype(int)
        offsets = np.arange(-w, w + 1)
        idx = np.clip(centre[:, None] + offsets[None, :], 0, len(fine) - 1)
        best = idx[np.arange(len(idx)), np.argmax(fine[idx], axis=1)]
        times = best * fine_hop / sr
    return float(np.atleast_1d(tempo)[0]), np.asarray(times, dtype=np.float64)
