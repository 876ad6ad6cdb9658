"""Synthetic test music with known beat times: click tracks and drum patterns (kick, snare, hi-hat),
optionally swung or with a tempo change. Used by tests, benchmarks and the demo; deterministic."""

from __future__ import annotations

import numpy as np


def beat_times(bpm: float, seconds: float, *, start: float = 0.5, bpm_after: float | None = None,
               change_at: float | None = None) -> np.ndarray:
    """Beat times (s) at ``bpm`` from ``start``; after ``change_at`` seconds the tempo is ``bpm_after``."""
    times, t = [], start
    while t < seconds - 1e-9:
        times.append(t)
        tempo = bpm_after if (bpm_after and change_at is not None and t >= change_at) else bpm
        t += 60.0 / tempo
    return np.asarray(times)


def _place(y: np.ndarray, sound: np.ndarray, t: float, sr: int, gain: float = 1.0) -> None:
    i = int(round(t * sr))
    n = min(len(sound), len(y) - i)
    if n > 0 and i >= 0:
        y[i : i + n] += gain * sound[:n]


def click_track(beats: np.ndarray, seconds: float, sr: int = 22050) -> np.ndarray:
    """1 kHz decaying clicks (100 ms) at ``beats``; float32 in [−1, 1]."""
    n = int(0.1 * sr)
    t = np.arange(n) / sr
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 60)
    y = np.zeros(int(seconds * sr))
    for b in beats:
        _place(y, click, b, sr, 0.5)
    return y.astype(np.float32)


def drum_track(beats: np.ndarray, seconds: float, *, sr: int = 22050, swing: float = 0.0, seed: int = 0) -> np.ndarray:
    """Kick on every beat, snare on beats 2 and 4, hi-hats on eighths (delayed by ``swing`` of an eighth).

    Args:
        beats: beat times (s).
        seconds: length.
        sr: sample rate.
        swing: 0 = straight eighths; 1/3 ≈ triplet swing (off-beat hat moved by swing × half a beat).
        seed: noise seed.
    """
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr))
    tk = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-tk * 30)) * tk) * np.exp(-tk * 12)
    ts = np.arange(int(0.18 * sr)) / sr
    snare = (0.6 * rng.normal(size=ts.size) + 0.5 * np.sin(2 * np.pi * 190 * ts)) * np.exp(-ts * 25)
    th = np.arange(int(0.05 * sr)) / sr
    hat_noise = rng.normal(size=th.size)
    hat = np.diff(hat_noise, prepend=0.0) * np.exp(-th * 90) * 0.25
    for k, b in enumerate(beats):
        _place(y, kick, b, sr, 0.8)
        if k % 2 == 1:
            _place(y, snare, b, sr, 0.5)
        _place(y, hat, b, sr)
        nxt = beats[k + 1] if k + 1 < len(beats) else b + (b - beats[k - 1] if k else 0.5)
        _place(y, hat, b + (nxt - b) * (0.5 + swing / 2), sr)
    peak = np.abs(y).max() or 1.0
    return (0.9 * y / peak).astype(np.float32)


def f_measure(estimated: np.ndarray, reference: np.ndarray, tolerance: float = 0.07) -> float:
    """Beat-tracking F-measure: one-to-one matches within ±``tolerance`` seconds (greedy by distance)."""
    est, ref = np.asarray(estimated, float), np.asarray(reference, float)
    if len(est) == 0 or len(ref) == 0:
        return 0.0
    d = np.abs(est[:, None] - ref[None, :])
    pairs = np.argwhere(d <= tolerance)
    order = np.argsort(d[pairs[:, 0], pairs[:, 1]])
    used_e, used_r, hits = set(), set(), 0
    for i, j in pairs[order]:
        if i not in used_e and j not in used_r:
            used_e.add(int(i))
            used_r.add(int(j))
            hits += 1
    p, r = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)
