"""Music analysis: loading every container, features and frame alignment, beat accuracy, preset
parity with the reference scripts, the cache, and the CLI."""

from __future__ import annotations

import dataclasses
import fractions
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from macedance.cli import app
from macedance.errors import DataFormatError, InputNotFoundError, ValidationError
from macedance.io.audio import Audio, load_audio
from macedance.music.analysis import analyze_file, load_music
from macedance.music.features import aist_start_bpm, analyze
from macedance.music.presets import MUSIC_PRESETS, get_music_preset
from macedance.music.synth import beat_times, click_track, drum_track, f_measure

from conftest import SHARED_DATA

PARITY = Path(__file__).parent / "parity"
CLICK_WAV = SHARED_DATA / "aistpp-keypoints2d" / "music" / "gBR_sBM_cAll_d04_mBR0_ch02_slice0.wav"
SR = 44100


def _tone(seconds: float = 2.0, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _encode(path: Path, fmt: str, codec: str, y: np.ndarray, sr: int, video: str | None = None) -> Path:
    """Write ``y`` with PyAV (and an optional black video stream) — real containers for the tests."""
    import av

    with av.open(str(path), "w", format=fmt) as c:
        v = None
        if video:
            v = c.add_stream(video, rate=25)
            v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = c.add_stream(codec, rate=sr)
        a.layout = "mono"
        for i in range(0, len(y), 1024):
            frame = av.AudioFrame.from_ndarray(y[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = sr, i, fractions.Fraction(1, sr)
            for pkt in a.encode(frame):
                c.mux(pkt)
        for pkt in a.encode():
            c.mux(pkt)
        if v is not None:
            for _ in range(int(len(y) / sr * 25)):
                for pkt in v.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                    c.mux(pkt)
            for pkt in v.encode():
                c.mux(pkt)
    return path


def _dominant_hz(a) -> float:
    spec = np.abs(np.fft.rfft(a.samples))
    return float(np.fft.rfftfreq(len(a.samples), 1 / a.sample_rate)[np.argmax(spec)])


@pytest.mark.parametrize("name, fmt, codec, video, rate", [
    ("x.mp3", "mp3", "libmp3lame", None, SR), ("x.m4a", "ipod", "aac", None, SR), ("x.aac", "adts", "aac", None, SR),
    ("x.mp4", "mp4", "aac", "libx264", SR), ("x.mkv", "matroska", "aac", "libx264", SR),
    ("x.webm", "webm", "libopus", "libvpx-vp9", 48000),
])
def test_load_compressed_and_video_containers(tmp_path, name, fmt, codec, video, rate):
    y = _tone(2.0, sr=rate)
    a = load_audio(_encode(tmp_path / name, fmt, codec, y, rate, video))
    assert a.sample_rate == rate and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert abs(a.duration - 2.0) < 0.06  # encoder padding only (whole codec frames; not round-off)
    assert abs(_dominant_hz(a) - 440) < 2  # 440 Hz sits on a 0.5 Hz FFT bin and dominates by far: no near-tie argmax
    assert abs(load_audio(tmp_path / name, 16000).duration - a.duration) < 1e-3  # integer sample counts: ≤ 1/16000 s


def test_wav_flac_stereo_mixdown_and_resampling_match_librosa(tmp_path):
    import librosa

    left, right = _tone(1.0, 440), _tone(1.0, 660)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), SR, subtype="PCM_16")
    sf.write(tmp_path / "s.flac", np.stack([left, right], 1), SR)
    for name in ("s.wav", "s.flac"):
        for sr in (None, 30720, 22050):
            ours = load_audio(tmp_path / name, sr)
            ref, ref_sr = librosa.load(tmp_path / name, sr=sr)
            assert ours.sample_rate == ref_sr
            # exact: the same decoder, the same 2-channel mean and the same soxr HQ call as librosa.load, in one
            # process (whatever kernels soxr picks on this CPU, both sides run the same ones)
            np.testing.assert_array_equal(ours.samples, ref)


def test_audio_errors(tmp_path):
    with pytest.raises(InputNotFoundError, match="audio file not found"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty file"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.mp3").write_bytes(b"\x00\x01not audio at all" * 20)
    with pytest.raises(DataFormatError, match="junk.mp3"):
        load_audio(tmp_path / "junk.mp3")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1)), SR)
    with pytest.raises(DataFormatError, match="zero length|no samples|cannot"):
        load_audio(tmp_path / "zero.wav")
    import av

    with av.open(str(tmp_path / "silent.mp4"), "w") as c:  # a video with no audio stream
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        for _ in range(10):
            for pkt in v.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in v.encode():
            c.mux(pkt)
    with pytest.raises(DataFormatError, match="no audio stream"):
        load_audio(tmp_path / "silent.mp4")


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_features_are_frame_aligned_with_motion(tmp_path, fps):
    preset = get_music_preset("clean").__class__(**{**get_music_preset("clean").to_dict(), "fps": fps})
    ref = beat_times(120, 8.0)
    sf.write(tmp_path / "d.wav", drum_track(ref, 8.0, sr=22050), 22050)
    r, _ = analyze_file(tmp_path / "d.wav", preset, use_cache=False)
    assert r.features.shape == (int(8.0 * fps) + 1, 35) and r.features.dtype == np.float32
    assert r.fps == fps
    # the library's own rounding of the same float64 beat times (same expression): exact on any CPU
    np.testing.assert_array_equal(r.beat_frames, np.unique(np.rint(r.beat_times * fps).astype(int)))
    assert r.features[r.beat_frames, 34].all() and r.features[:, 34].sum() == len(r.beat_frames)  # 0/1 column: exact sum
    assert f_measure(r.beat_frames / fps, ref) >= 0.95  # frame-quantised beats still within ±70 ms


# Beat F-measures and latencies below are discrete functions of float32 spectra (BLAS kernels differ between
# AVX2 and AVX-512). Checked: all F-measures (min 0.964: the misses are structural, not near-ties) and the
# chosen beats are unchanged with the mel spectra perturbed by ±1 % relative, ~1e4× their cross-CPU difference.


def _clean_f(kind: str, bpm: float, seconds: float = 20.0, **kw) -> tuple[float, float]:
    sr = 22050
    ref = beat_times(bpm, seconds, **kw)
    y = click_track(ref, seconds, sr) if kind == "click" else drum_track(ref, seconds, sr=sr)
    from macedance.io.audio import Audio
    from macedance.music.features import track_beats

    tempo, est = track_beats(Audio(y, sr, "synthetic"), get_music_preset("clean"))
    return f_measure(est, ref), tempo


@pytest.mark.parametrize("kind", ["click", "drum"])
def test_beat_f_measure_on_steady_tempi_80_to_160(kind):
    scores = {bpm: _clean_f(kind, bpm)[0] for bpm in (80, 90, 100, 110, 120, 128, 140, 150, 160)}
    print(f"\n{kind} F-measure (±70 ms): " + ", ".join(f"{b}: {f:.3f}" for b, f in scores.items()))
    assert min(scores.values()) >= 0.95, scores


def test_beat_latency_is_compensated():
    from macedance.io.audio import Audio
    from macedance.music.features import track_beats

    ref = beat_times(128, 20.0)
    _, est = track_beats(Audio(click_track(ref, 20.0, 22050), 22050, "c"), get_music_preset("clean"))
    offsets = [b - ref[np.argmin(np.abs(ref - b))] for b in est]
    assert abs(np.median(offsets)) < 0.012  # plain beat_track at hop 512 is ≈ 20 ms late; measured 2.2 ms


def test_beat_report_octaves_swing_and_tempo_change():
    """Not targets: recorded for the documentation (slow/fast tempi may lock to another octave)."""
    from macedance.io.audio import Audio
    from macedance.music.features import track_beats

    sr, rows = 22050, []
    for bpm in (60, 70, 170, 180, 200):
        rows.append((f"click {bpm}", _clean_f("click", bpm)))
    ref = beat_times(110, 20.0)
    _, est = track_beats(Audio(drum_track(ref, 20.0, sr=sr, swing=1 / 3), sr, "s"), get_music_preset("clean"))
    rows.append(("drums swing 110", (f_measure(est, ref), 0)))
    ref = beat_times(110, 20.0, bpm_after=130, change_at=10.0)
    _, est = track_beats(Audio(drum_track(ref, 20.0, sr=sr), sr, "t"), get_music_preset("clean"))
    rows.append(("drums 110→130", (f_measure(est, ref), 0)))
    print("\n" + "\n".join(f"{name}: F={f:.3f}" for name, (f, _) in rows))
    assert all(0.0 <= f <= 1.0 for _, (f, _) in rows)


def assert_float32_parity(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to the reference up to float32 round-off: ≤ 1e-6 relative in norm over the whole array and
    ≤ 1e-5 of each column's scale element-wise.

    Element-wise, float32 mel/MFCC/chroma values depend on the CPU's BLAS kernels (AVX2 vs AVX-512
    summation order): the reference scripts themselves differ by up to 6e-5 absolute (2.7e-8 relative in
    norm) between the machine the expected arrays came from and an AVX2-only one, where our features
    are bit-identical to the reference script's (checked with EDGE@17c3428's baseline_features.py).
    Measured against every stored reference with numpy's AVX2 and AVX-512 loops × OpenBLAS's SkylakeX, Haswell,
    Zen and Sandybridge kernels: ≤ 0.03 of the norm bound and ≤ 0.42 of the element-wise bound (worst: an MFCC
    delta of the bailando set, where dB and differencing amplify the float32 round-off). The thread count
    changes nothing: the analysis runs with one BLAS thread."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    assert np.linalg.norm(actual - expected) <= 1e-6 * np.linalg.norm(expected)
    scale = np.maximum(np.abs(expected).max(axis=0), 1.0)
    np.testing.assert_array_less(np.abs(actual - expected), np.broadcast_to(1e-5 * scale + 1e-12, expected.shape))


@pytest.mark.skipif(not CLICK_WAV.is_file(), reason="shared click-track fixture not available")
@pytest.mark.parametrize("preset, key", [("fact", "fact_60fps"), ("edge", "edge_30fps"), ("lodge", "lodge_30fps")])
def test_35d_presets_equal_the_reference_scripts(preset, key):
    """Expected arrays: mint@d40065a tools/preprocessing.py, EDGE@17c3428 baseline_features.py,
    LODGE@a898e59 extract_musicfea35.py, run on the shared click track (librosa 0.11.0)."""
    expected = np.load(PARITY / "music35_expected.npz")[key]
    r, _ = analyze_file(CLICK_WAV, get_music_preset(preset), use_cache=False)
    assert r.features.shape == expected.shape
    assert_float32_parity(r.features, expected)
    # Onset peaks, beats and tempo are discrete functions of the float32 features above, compared exactly: they
    # are unchanged with the mel and CQT spectra perturbed by ±1 % relative (checked), ~1e4× the cross-CPU
    # difference, so no peak-picking or tracking decision is near a tie. start_bpm is FACT's rule on the name.
    np.testing.assert_array_equal(r.features[:, 33:], expected[:, 33:])  # onset peaks and beats: exact
    assert r.start_bpm == 80 and r.tempo == 120.0


def test_bailando_preset_equals_reference_on_identical_samples():
    """Expected: Bailando@cc90b98 extract_acoustic_feature on Essentia-loaded samples (sr 30720)."""
    from macedance.io.audio import Audio

    ref = np.load(PARITY / "bailando_music_sr30720.npz")
    r = analyze(Audio(ref["audio"], 30720, "fixture"), get_music_preset("bailando"))
    assert r.features.shape == (301, 438)
    assert_float32_parity(r.features, ref["features"])
    np.testing.assert_array_equal(r.beat_frames, ref["beat_frames"])  # discrete, unchanged under ±1 % spectra (as above)


def test_bailando_gpt_preset_equals_reference_on_identical_samples():
    """Expected: Bailando@cc90b98 _prepro_aistpp_music.py at its default --sampling_rate (3840 Hz, the 7.5-fps
    features its GPT reads), run on Essentia MonoLoader(sampleRate=3840) samples of the shared click track, librosa
    0.11.0 (its positional onset_strength/peak_pick calls passed by keyword, as librosa ≥ 0.10 requires).
    ``features_librosa081``: the same run under the librosa 0.8.1 the repo pins (see the preset's description)."""
    from macedance.io.audio import Audio

    ref = np.load(PARITY / "bailando_music_sr3840.npz")
    preset = get_music_preset("bailando-gpt")
    assert preset.sample_rate == 3840 and preset.fps * 8 == 60.0  # one row per 8-frame motion token at 60 fps
    r = analyze(Audio(ref["audio"], 3840, "fixture"), preset)
    assert r.features.shape == (38, 438)
    # Bit-equal to the float64 reference where it was made (max 3e-8 = its float32 storage); with numpy's baseline loops
    # and OpenBLAS's Haswell, Zen, Sandybridge and Prescott kernels: ≤ 0.034 of the norm bound, ≤ 0.33 of the element one.
    assert_float32_parity(r.features, ref["features"])  # ≤1e-6 rel. norm, ≤1e-5·col scale: CPUs differ only in SIMD/BLAS order; 1 thread
    # beats: discrete, unchanged with the onset envelope perturbed by ±20 % (checked), far above any CPU difference
    np.testing.assert_array_equal(r.beat_frames, ref["beat_frames"])
    np.testing.assert_array_equal(np.flatnonzero(r.features[:, 53]), ref["beat_frames"])
    assert not ref["features_librosa081"][:, 52:].any()  # librosa < 0.10: onset fmax 11025 Hz > Nyquist, all zero


def test_bailando_gpt_081_preset_equals_librosa081_reference_on_identical_samples():
    """Expected: ``features_librosa081`` — the run above under the librosa 0.8.1 Bailando pins (the features its released
    GPT was trained on), reproduced on the installed librosa by ``librosa_compat="0.8.1"``. Measured (this AVX2 CPU, numpy's
    baseline loops, OpenBLAS Haswell/Zen/Sandybridge/Prescott, 1 or 2 threads): MFCC ≤ 6.1e-5, ΔMFCC ≤ 7.6e-5,
    chroma ≤ 1.4e-6, onset/beats/tempogram exact."""
    from macedance.io.audio import Audio

    ref = np.load(PARITY / "bailando_music_sr3840.npz")
    preset = get_music_preset("bailando-gpt-0.8.1")
    assert preset.sample_rate == 3840 and preset.librosa_compat == "0.8.1"
    r = analyze(Audio(ref["audio"], 3840, "fixture"), preset)
    f, e = r.features, ref["features_librosa081"]
    assert f.shape == e.shape == (38, 438)
    # The reference ran on numpy 1.23 / pocketfft C / another BLAS: what separates us is float32 round-off, as between CPUs.
    np.testing.assert_allclose(f[:, :20], e[:, :20], rtol=0, atol=1e-3)  # MFCC (|x| ≤ 747, float32 ulp 6.1e-5): measured ≤ 1 ulp under every kernel; 16× margin for SIMD/BLAS order, 1 thread
    np.testing.assert_allclose(f[:, 20:40], e[:, 20:40], rtol=0, atol=1e-3)  # ΔMFCC: (x[t+1] − x[t−1]) / 2 of the MFCC, so within the MFCC's bound
    np.testing.assert_allclose(f[:, 40:52], e[:, 40:52], rtol=0, atol=1e-5)  # chroma ∈ [0, 1]: per-frame ∞-norm lifts quiet frames' float32 HPSS/CQT noise ~45× (measured ≤ 1.4e-6); 7× margin
    np.testing.assert_array_equal(f[:, 52:], e[:, 52:])  # onset, beats, tempogram: exact zeros on any CPU, see below
    # Exact because at 3840 Hz 64 of the 128 mel bands up to 0.8.1's fmax 11025 Hz are empty (constant dB rows: differences
    # exactly 0) and in every frame ≥ 2 more do not rise, by a margin (> 1 dB under the 80-dB floor in both frames, or
    # falling by > 1e-3 dB; checked): so ≥ 65 of 128 clipped differences are exactly 0 and so is their median, whatever
    # the float32 rounding. An all-zero envelope has no beats (tempo 0) and an all-zero tempogram.
    assert r.beat_frames.size == 0 and r.tempo == 0.0
    with pytest.raises(ValidationError, match="librosa_compat"):  # only the bailando layout has a 0.8.1 mode
        dataclasses.replace(get_music_preset("clean"), librosa_compat="0.8.1")


def test_bailando_081_preset_equals_librosa081_reference_at_60fps():
    """Expected: the same run as ``bailando_music_sr30720.npz`` (Bailando@cc90b98 ``_prepro_aistpp_music.py
    --sampling_rate 30720`` on Essentia's samples) under librosa 0.8.1 — Bailando++'s 60-fps music — its columns 0–54
    (what Bailando++'s music Transformer reads) in ``bailando_music_sr30720_librosa081.npz`` (oracle:
    /work/oracle/bailando_music, README step 1 with ``--sampling_rate 30720``). Measured (this AVX2 CPU): MFCC ≤ 6.1e-5
    (1 float32 ulp at |x| ≤ 905), ΔMFCC ≤ 9.0e-5, onset ≤ 3.8e-6 (1 ulp at ≤ 35.6), chroma/beats exact, tempogram
    row 0 ≤ 2.9e-8."""
    from macedance.io.audio import Audio

    audio = np.load(PARITY / "bailando_music_sr30720.npz")["audio"]
    ref = np.load(PARITY / "bailando_music_sr30720_librosa081.npz")
    preset = get_music_preset("bailando-0.8.1")
    assert preset.sample_rate == 30720 and preset.librosa_compat == "0.8.1"
    r = analyze(Audio(audio, 30720, "fixture"), preset)
    f, e = r.features[:, :55], ref["features_librosa081"]
    assert f.shape == e.shape == (301, 55)
    np.testing.assert_allclose(f[:, :40], e[:, :40], rtol=0, atol=2e-3)  # MFCC, ΔMFCC (|x| ≤ 905): measured ≤ 1.5 ulp; 22× margin for SIMD/BLAS summation order
    np.testing.assert_allclose(f[:, 40:52], e[:, 40:52], rtol=0, atol=1e-5)  # chroma: as at 3840 Hz (zero here: no harmonic energy)
    np.testing.assert_allclose(f[:, 52], e[:, 52], rtol=0, atol=1e-4)  # onset (≤ 35.6): measured 1 ulp; 26× margin
    np.testing.assert_array_equal(np.flatnonzero(f[:, 53]), ref["beat_frames"])  # discrete: 30-frame spacing, unchanged by ulps
    np.testing.assert_allclose(f[:, 54], e[:, 54], rtol=0, atol=1e-6)  # tempogram lag 0 (≈ 1, normalised): measured 2.9e-8


@pytest.mark.skipif(not CLICK_WAV.is_file(), reason="shared click-track fixture not available")
@pytest.mark.skipif(importlib.util.find_spec("essentia") is None, reason="the essentia extra is not installed")
@pytest.mark.parametrize("preset_name,fixture,sr", [("bailando-gpt-0.8.1", "bailando_music_sr3840.npz", 3840),
                                                    ("bailando-0.8.1", "bailando_music_sr30720.npz", 30720)])
def test_bailando_presets_read_files_with_essentia_as_the_original(preset_name, fixture, sr, tmp_path, monkeypatch):
    """The fixtures' ``audio`` is what Essentia's MonoLoader gave the original script (essentia 2.1b6.dev1110 with
    numpy 1.23 in the oracle venv); the project's essentia 2.1b6.dev1389 (numpy 2) reads the shared file to the same
    bits, so from the file itself the official presets see exactly the original's samples."""
    from macedance.io.audio import load_audio_essentia
    from macedance.music.analysis import analyze_file

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    expected = np.load(PARITY / fixture)["audio"]
    assert np.array_equal(load_audio_essentia(CLICK_WAV, sr).samples, expected)
    preset = get_music_preset(preset_name)
    result = analyze_file(CLICK_WAV, preset)[0]
    assert result.details["audio_loader"] == "essentia"
    np.testing.assert_array_equal(result.features, analyze(Audio(expected, sr, "fixture"), preset).features)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\0" * 60)
    with pytest.raises(DataFormatError, match="bad.wav: cannot open media file"):  # our checks run before Essentia's decoder
        load_audio_essentia(bad, sr)


def _drums_3840(seconds: float = 8.0, sr: int = 3840) -> np.ndarray:
    """Deterministic tones + kick/noise hits at 112 BPM, generated at 3840 Hz (RandomState: numpy's frozen stream)."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 261.6 * t) + 0.1 * np.sin(2 * np.pi * 392.0 * t + 0.3 * np.sin(2 * np.pi * 5 * t))
    noise = np.random.RandomState(0).randn(len(t))
    for b in np.arange(0.3, seconds, 60 / 112):
        n, k = int(b * sr), np.arange(int(0.12 * sr))
        seg = np.exp(-k / (0.03 * sr)) * (0.6 * np.sin(2 * np.pi * 60 * k / sr) + 0.3 * noise[k])
        y[n : n + len(k)] += seg[: len(y) - n]
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def test_bailando_gpt_081_onset_and_beats_where_librosa081_has_them():
    """At 3840 Hz broadband hits still raise the onset envelope under 0.8.1's fmax (every non-empty mel band rises), so its
    envelope, beat tracker (trimming drops the last beat) and tempogram are exercised. Expected values: librosa 0.8.1
    (Bailando's extractor.py calls) on these samples."""
    from macedance.io.audio import Audio

    f = analyze(Audio(_drums_3840(), 3840, "drums"), get_music_preset("bailando-gpt-0.8.1"))
    # beats and tempo: discrete, unchanged with the envelope perturbed by ±20 % (checked), far above any CPU difference
    np.testing.assert_array_equal(f.beat_frames, np.arange(8, 57, 4))
    assert f.tempo == 112.5
    x = f.features
    # sums/max of float32 columns: measured ≤ 1.5e-7 relative from the 0.8.1 run; ≥ 60× margin for SIMD/BLAS order, 1 thread
    assert x[:, 52].sum() == pytest.approx(79.19243622, rel=1e-5) and x[:, 52].max() == pytest.approx(6.3707428, rel=1e-5)
    assert x[:, 54:].sum() == pytest.approx(2940.2546238, rel=1e-5)  # tempogram
    assert x[:, 40:52].sum() == pytest.approx(136.93335, rel=1e-5)  # chroma
    cur = analyze(Audio(_drums_3840(), 3840, "drums"), get_music_preset("bailando-gpt")).features
    assert cur[:, 52].sum() > 3 * x[:, 52].sum()  # the modes really differ: librosa ≥ 0.10's envelope uses all bands (271 vs 79)


def test_aist_tempo_rule_and_presets():
    assert aist_start_bpm("gBR_sBM_cAll_d04_mBR3_ch02") == 110
    assert aist_start_bpm("mHO4") == 130
    assert aist_start_bpm("song") is None
    assert len({p.hash for p in MUSIC_PRESETS.values()}) == len(MUSIC_PRESETS)


def test_fact_needs_an_aist_music_id(tmp_path):
    sf.write(tmp_path / "song.wav", _tone(2.0, sr=22050), 22050)
    with pytest.raises(DataFormatError, match="needs an AIST\\+\\+ music id"):
        analyze_file(tmp_path / "song.wav", get_music_preset("fact"), use_cache=False)


def test_cache_second_run_is_free(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    sf.write(tmp_path / "d.wav", drum_track(beat_times(100, 6.0), 6.0, sr=22050), 22050)
    first, digest = analyze_file(tmp_path / "d.wav", get_music_preset("clean"))
    import macedance.music.analysis as analysis

    def boom(*a, **k):
        raise AssertionError("analysis ran although the result is cached")

    monkeypatch.setattr(analysis, "analyze", boom)
    second, digest2 = analyze_file(tmp_path / "d.wav", get_music_preset("clean"))
    assert digest == digest2
    np.testing.assert_array_equal(first.features, second.features)  # read back from the cache file: exact
    np.testing.assert_array_equal(first.beat_times, second.beat_times)
    with pytest.raises(AssertionError, match="analysis ran"):  # another preset is another key
        analyze_file(tmp_path / "d.wav", get_music_preset("edge"))
    for entry in (tmp_path / "cache").rglob("*.npz"):  # a corrupt entry is a miss, not a crash
        entry.write_bytes(b"garbage")
    monkeypatch.undo()
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    third, _ = analyze_file(tmp_path / "d.wav", get_music_preset("clean"))
    # recomputed in this process: the analysis runs with one BLAS thread (single_threaded_blas), so the same
    # bytes whatever the thread count
    np.testing.assert_array_equal(first.features, third.features)


def test_data_music_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", drum_track(beat_times(120, 5.0), 5.0, sr=22050), 22050)
    _encode(src / "b.mp4", "mp4", "aac", _tone(3.0), SR, "libx264")
    (src / "broken.mp3").write_bytes(b"nope" * 10)
    result = CliRunner().invoke(app, ["data", "music", str(src), str(tmp_path / "out"), "--fps", "60"])
    assert result.exit_code == 0, result.output
    assert "2 written" in result.output and "1 failed" in result.output and "broken.mp3" in result.output
    m = load_music(tmp_path / "out" / "a.npz")
    assert m["features"].shape == (301, 35) and float(m["fps"]) == 60.0 and len(m["beats"]) >= 8  # fps: a stored constant
    bad = CliRunner().invoke(app, ["data", "music", str(src), str(tmp_path / "o2"), "--preset", "fact", "--fps", "30"])
    assert bad.exit_code == 2 and "fixes its frame rate" in bad.stderr and "--fps" in bad.stderr and "--preset clean" in bad.stderr
