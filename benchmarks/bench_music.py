"""Music analysis speed (1 hour of audio → 35-d features + beats) and beat-tracking accuracy.

Speed: a generated drum track (tempo changing every minute between 90 and 150 BPM) is written as a
22.05 kHz WAV and analysed with the ``clean`` preset without the cache: once in a fresh process
(cold: imports + numba JIT) and once after a warm-up in this process. Accuracy: F-measure (±70 ms)
of the ``clean`` beat tracker against the known beats of click tracks and drum patterns, including
slow/fast tempi (octave errors), swing and a tempo change; plain ``librosa.beat.beat_track`` at
hop 512 is shown side by side.

    .venv/bin/python benchmarks/bench_music.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from macedance.io.audio import Audio
from macedance.music.analysis import analyze_file
from macedance.music.features import track_beats
from macedance.music.presets import get_music_preset
from macedance.music.synth import beat_times, click_track, drum_track, f_measure

SR = 22050


def long_track(minutes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ys, refs = [], []
    for m in range(minutes):
        bpm = float(rng.uniform(90, 150))
        ref = beat_times(bpm, 60.0, start=0.25)
        ys.append(drum_track(ref, 60.0, sr=SR, seed=m))
        refs.append(ref + 60.0 * m)
    return np.concatenate(ys), np.concatenate(refs)


def plain_librosa(y: np.ndarray) -> np.ndarray:
    import librosa

    _, frames = librosa.beat.beat_track(y=y, sr=SR)
    return librosa.frames_to_time(frames, sr=SR)


def accuracy_table() -> None:
    clean = get_music_preset("clean")
    print(f"{'signal':<22}{'clean F':>9}{'clean Δ ms':>12}{'plain F':>9}{'plain Δ ms':>12}")
    cases = [(f"click {b} BPM", "click", b, {}) for b in (60, 70, 80, 100, 120, 128, 140, 160, 180, 200)]
    cases += [(f"drums {b} BPM", "drum", b, {}) for b in (60, 70, 80, 100, 120, 128, 140, 160, 180, 200)]
    cases += [("drums 110 swing 1/3", "drum", 110, {"swing": 1 / 3}), ("drums 110→130 BPM", "drum", 110, {"change": 130})]
    for name, kind, bpm, kw in cases:
        ref = beat_times(bpm, 30.0, bpm_after=kw.get("change"), change_at=15.0 if "change" in kw else None)
        y = click_track(ref, 30.0, SR) if kind == "click" else drum_track(ref, 30.0, sr=SR, swing=kw.get("swing", 0.0))
        _, est = track_beats(Audio(y, SR, name), clean)
        plain = plain_librosa(y)

        def off(e: np.ndarray, ref: np.ndarray = ref) -> float:
            return 1000 * float(np.median([b - ref[np.argmin(np.abs(ref - b))] for b in e])) if len(e) else float("nan")

        print(f"{name:<22}{f_measure(est, ref):9.3f}{off(est):12.1f}{f_measure(plain, ref):9.3f}{off(plain):12.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=int, default=60)
    args = ap.parse_args()
    accuracy_table()
    y, ref = long_track(args.minutes)
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "long.wav"
        sf.write(wav, y, SR)
        code = ("import time; t=time.perf_counter(); from macedance.music.analysis import analyze_file; "
                "from macedance.music.presets import get_music_preset; "
                f"r,_=analyze_file({str(wav)!r}, get_music_preset('clean'), use_cache=False); "
                "print(time.perf_counter()-t)")
        cold = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])
        sf.write(Path(d) / "short.wav", y[: SR * 10], SR)
        analyze_file(Path(d) / "short.wav", get_music_preset("clean"), use_cache=False)  # warm-up (JIT)
        t0 = time.perf_counter()
        result, _ = analyze_file(wav, get_music_preset("clean"), use_cache=False)
        warm = time.perf_counter() - t0
    print(f"\n{args.minutes} min of audio ({os.cpu_count()} CPUs): cold {cold:.1f} s (incl. imports and JIT), "
          f"warm {warm:.1f} s; {result.features.shape[0]} feature frames, {len(result.beat_times)} beats, "
          f"F-measure {f_measure(result.beat_times, ref):.3f} against the known beats")


if __name__ == "__main__":
    main()
