"""Music features (the FACT/EDGE/LODGE 35-d librosa set), beats and tempo, frame-aligned with motion.

Columns of the 35-d layout: 0 onset-strength envelope, 1–20 MFCC, 21–32 chroma_cens, 33 onset peaks
(one-hot), 34 beats (one-hot). Frames are at ``preset.fps`` (sample rate fps × hop, hop 512, centred
frames: frame k ↔ time k / fps), so frame k of the music lines up with motion frame k.
"""

from __future__ import annotations

import functools
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
    n_octaves = 7 if sr == 15360 * 2 else 5
    if preset.librosa_compat == "0.8.1":
        spec = _stft_081(lr, y)
        mel_db = lr.power_to_db(lr.feature.melspectrogram(S=np.abs(spec) ** 2, sr=sr), ref=np.max)
        harmonic, percussive = _hpss_081(lr, spec, len(y), y.dtype)
        chroma = _chroma_cqt_081(lr, harmonic, sr, n_octaves)
        perc_mel = lr.feature.melspectrogram(S=np.abs(_stft_081(lr, percussive)) ** 2, sr=sr, fmax=11025.0)  # 0.8.1's default
        onset_env = lr.onset.onset_strength(S=lr.power_to_db(perc_mel), sr=sr, aggregate=np.median)
        tempo, beat_idx = _beat_track_081(lr, onset_env, sr)
    else:
        mel_db = lr.power_to_db(lr.feature.melspectrogram(y=y, sr=sr), ref=np.max)
        harmonic, percussive = lr.effects.hpss(y)
        chroma = lr.feature.chroma_cqt(y=harmonic, sr=sr, n_octaves=n_octaves)
        onset_env = lr.onset.onset_strength(y=percussive, aggregate=np.median, sr=sr)
        tempo, beat_idx = lr.beat.beat_track(onset_envelope=onset_env, sr=sr)
    mfcc = lr.feature.mfcc(S=mel_db)
    mfcc_delta = lr.feature.delta(mfcc, width=3)
    tempogram = lr.feature.tempogram(onset_envelope=onset_env, sr=sr)
    beats = np.zeros(len(onset_env))
    beats[beat_idx] = 1
    features = np.concatenate([mfcc, mfcc_delta, chroma, onset_env[None], beats[None], tempogram], axis=0).T
    details: dict[str, Any] = {"beat_source": preset.beat_source, "layout": "bailando"}
    if preset.librosa_compat != "current":
        details["librosa_compat"] = preset.librosa_compat
    return MusicAnalysis(features, lr.frames_to_time(beat_idx, sr=sr, hop_length=preset.hop).astype(np.float64),
                         np.asarray(beat_idx, dtype=np.int64), float(np.atleast_1d(tempo)[0]), preset.fps,
                         audio.duration, 120.0, details)


# --- librosa 0.8.1 behaviour where librosa >= 0.10 changed it (preset.librosa_compat == "0.8.1") ---------------

def _stft_081(lr: Any, y: np.ndarray, n_fft: int = 2048, hop: int = 512, window: str = "hann") -> np.ndarray:
    """0.8.1 stft(center=True, pad_mode="reflect"): the whole signal reflect-padded, framed, FFT'd in float64 (librosa
    ≥ 0.10 pads the edge frames apart, and for some lengths and hops its last reflect-padded frame differs)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2, mode="reflect"), n_fft)[::hop]
    win = lr.filters.get_window(window, n_fft, fftbins=True)
    out = np.empty((n_fft // 2 + 1, len(frames)), dtype=np.complex64)
    for b in range(0, len(frames), 1024):
        out[:, b : b + 1024] = np.fft.rfft(frames[b : b + 1024] * win, axis=1).T
    return out


def _hpss_081(lr: Any, spec: np.ndarray, n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """0.8.1 effects.hpss from its STFT ``spec``: the inverse STFTs end at the last full hop, the rest is zero-filled."""
    harm, perc = lr.decompose.hpss(spec)
    return lr.util.fix_length(lr.istft(harm, dtype=dtype), size=n), lr.util.fix_length(lr.istft(perc, dtype=dtype), size=n)


def _chroma_cqt_081(lr: Any, y: np.ndarray, sr: float, n_octaves: int, bpo: int = 36) -> np.ndarray:
    """0.8.1 feature.chroma_cqt(y, sr, n_octaves) with its defaults (tuning estimated, C1, ∞-norm)."""
    tuning = lr.estimate_tuning(S=np.abs(_stft_081(lr, y)), sr=sr, bins_per_octave=bpo)
    c = _cqt_081(lr, y, float(sr), lr.note_to_hz("C1") * 2.0 ** (tuning / bpo), n_octaves * bpo, bpo)
    chroma = lr.filters.cq_to_chroma(len(c), bins_per_octave=bpo, n_chroma=12).dot(c)
    chroma[chroma < 0.0] = 0.0
    return lr.util.normalize(chroma, norm=np.inf, axis=0)


# resampy 0.4.3's 'kaiser_fast' (what 0.8.1's CQT resamples octaves with): zero crossings, table entries per crossing,
# Kaiser β and roll-off — rebuilds resampy's stored table to ≤ 8e-16, so resampy itself is not needed.
_KF_ZEROS, _KF_PREC, _KF_BETA, _KF_ROLL = 24, 512, 9.903224416455254, 0.8682120388377784


@functools.cache
def _kaiser_fast() -> np.ndarray:
    import scipy.signal

    n = _KF_ZEROS * _KF_PREC
    sinc = _KF_ROLL * np.sinc(_KF_ROLL * np.linspace(0, _KF_ZEROS, num=n + 1, endpoint=True))
    return scipy.signal.get_window(("kaiser", _KF_BETA), 2 * n + 1, fftbins=False)[n:] * sinc


def _downsample_081(y: np.ndarray, factor: int) -> np.ndarray:
    """0.8.1 ``resample(y, sr, sr / factor, res_type="kaiser_fast", scale=True)``, ``factor`` a power of two:
    resampy's filter loop, accumulated in float32 one tap at a time as its numba kernel does (bit-equal)."""
    win, step = _kaiser_fast() * (1.0 / factor), _KF_PREC // factor
    n_left, n_right = len(win) // step, (len(win) - step) // step
    x = np.concatenate([np.zeros(n_left), y.astype(np.float64), np.zeros(n_right + 1)])
    centre = np.arange(len(y) // factor) * factor + n_left
    acc = np.zeros(len(centre), np.float32)
    for i in range(n_left):
        acc = (acc + win[i * step] * x[centre - i]).astype(np.float32)
    for k in range(n_right):
        acc = (acc + win[(k + 1) * step] * x[centre + k + 1]).astype(np.float32)
    out = np.zeros(-(-len(y) // factor), np.float32)
    out[: len(acc)] = acc
    return out / np.float32(np.sqrt(1.0 / factor))  # numpy 1.x divided float32 by a float64 scalar in float32


def _two_factors(x: int) -> int:
    n = 0
    while x > 0 and x % 2 == 0:
        n, x = n + 1, x // 2
    return n


def _cqt_081(lr: Any, y: np.ndarray, sr: float, fmin: float, n_bins: int, bpo: int, hop: int = 512) -> np.ndarray:
    """|0.8.1 cqt| (``fmin`` already tuned): Q = 1 / (2^(1/bpo) − 1), octave by octave with kaiser_fast halving."""
    n_octaves, n_filters, q = int(np.ceil(n_bins / bpo)), min(bpo, n_bins), 1.0 / (2.0 ** (1.0 / bpo) - 1)
    top = fmin * 2.0 ** (np.arange(n_bins - n_filters, n_bins, dtype=float) / bpo)
    widen = 1 + 0.5 * lr.filters.window_bandwidth("hann") / q
    cutoff, nyquist = top[-1] * widen, sr / 2.0
    if cutoff > nyquist:
        raise DataFormatError(f"a {n_octaves}-octave CQT from {fmin:.2f} Hz reaches beyond Nyquist at {sr:g} Hz")
    fmin_t, resp = top[0], []
    if cutoff < _KF_ROLL * nyquist:  # 0.8.1 chose kaiser_fast and may first halve the whole signal
        count = min(max(0, int(np.ceil(np.log2(_KF_ROLL * nyquist / cutoff)) - 1) - 1), max(0, _two_factors(hop) - n_octaves + 1))
        if count > 0:
            y, sr, hop = _downsample_081(y, 2**count), sr / 2**count, hop // 2**count
    else:  # 'kaiser_best': the top octave at the full rate, then the rest as above
        resp.append(_octave_081(lr, y, sr, fmin_t, n_filters, bpo, hop, 1.0))
        fmin_t, n_octaves = fmin_t / 2, n_octaves - 1
    if _two_factors(hop) < n_octaves - 1:
        raise DataFormatError(f"hop {hop} is not a multiple of 2^{n_octaves - 1}, as a {n_octaves}-octave CQT needs")
    for i in range(n_octaves):
        if i > 0:
            y, hop = _downsample_081(y, 2), hop // 2
        resp.append(_octave_081(lr, y, sr / 2**i, fmin_t * 2.0**-i, n_filters, bpo, hop, np.sqrt(2**i)))
    n_cols = min(r.shape[-1] for r in resp)
    v = np.concatenate([r[:, :n_cols] for r in resp[::-1]])[-n_bins:]
    v /= np.sqrt(q * sr / (fmin * 2.0 ** (np.arange(n_bins, dtype=float) / bpo)))[:, None]
    return np.abs(v)


def _octave_081(lr: Any, y: np.ndarray, sr: float, fmin: float, n_filters: int, bpo: int, hop: int, gain: float) -> np.ndarray:
    """One octave of 0.8.1's CQT: its constant_q filters, FFT'd in float64 and sparsified, on a reflect-padded STFT."""
    q = 1.0 / (2.0 ** (1.0 / bpo) - 1.0)
    freqs = fmin * (2.0 ** (np.arange(n_filters, dtype=float) / bpo))
    lengths = q * sr / freqs
    n_fft = int(2.0 ** np.ceil(np.log2(max(lengths))))
    basis = []
    for ilen, freq in zip(lengths, freqs, strict=True):
        sig = np.exp(np.arange(-ilen // 2, ilen // 2, dtype=float) * 1j * 2 * np.pi * freq / sr)
        sig = sig * lr.filters.get_window("hann", len(sig))
        basis.append(lr.util.pad_center(sig / np.sum(np.abs(sig)), size=n_fft))
    b = np.asarray(basis, dtype=np.complex64)
    b *= lengths[:, None] / float(n_fft)
    fft_basis = lr.util.sparsify_rows(np.fft.fft(b.astype(np.complex128), n=n_fft, axis=1)[:, : n_fft // 2 + 1],
                                      quantile=0.01, dtype=np.complex64)
    fft_basis[:] *= gain
    return fft_basis.dot(_stft_081(lr, y, n_fft, hop, "ones"))


def _beat_track_081(lr: Any, env: np.ndarray, sr: float, hop: int = 512) -> tuple[float, np.ndarray]:
    """0.8.1 beat.beat_track(onset_envelope=env, sr) with its defaults (start_bpm 120, tightness 100, trim)."""
    import scipy.signal

    if not env.any():
        return 0.0, np.array([], dtype=int)
    bpm = lr.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop, start_bpm=120.0)[0]
    fft_res = float(sr) / hop
    period = round(60.0 * fft_res / bpm)
    norm = env.std(ddof=1)
    local = scipy.signal.convolve(env / norm if norm > 0 else env,
                                  np.exp(-0.5 * (np.arange(-period, period + 1) * 32.0 / period) ** 2), "same")
    backlink, cumscore = np.zeros(len(local), dtype=int), np.zeros_like(local)
    window = np.arange(-2 * period, -np.round(period / 2) + 1, dtype=int)
    txwt = -100.0 * (np.log(-window / period) ** 2)
    first = True
    for i, score in enumerate(local):
        z_pad = np.maximum(0, min(-window[0], len(window)))
        cand = txwt.copy()
        cand[z_pad:] = cand[z_pad:] + cumscore[window[z_pad:]]
        best = np.argmax(cand)
        cumscore[i] = score + cand[best]
        if first and score < 0.01 * local.max():
            backlink[i] = -1
        else:
            backlink[i], first = window[best], False
        window = window + 1
    maxes = lr.util.localmax(cumscore)
    beats = [np.argwhere(cumscore * maxes * 2 > np.median(cumscore[np.argwhere(maxes)])).max()]
    while backlink[beats[-1]] >= 0:
        beats.append(backlink[beats[-1]])
    beats_arr = np.array(beats[::-1], dtype=int)
    smooth = scipy.signal.convolve(local[beats_arr], scipy.signal.windows.hann(5), "same")
    valid = np.argwhere(smooth > 0.5 * (smooth**2).mean() ** 0.5)
    return float(bpm), beats_arr[valid.min() : valid.max()]  # 0.8.1 drops the last valid beat too


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
