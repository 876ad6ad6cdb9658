"""Cutting shots (or whole motions) into 5–10 s clips: seeded random offsets and lengths, whole frames and samples."""

from __future__ import annotations

import math

import numpy as np


def segment_shot(start: int, end: int, fps: float, min_seconds: float, max_seconds: float,
                 rng: np.random.Generator) -> list[tuple[int, int]]:
    """Consecutive, non-overlapping [start, end) frame windows of ``min_seconds``–``max_seconds``.

    The first window begins at a random offset of up to one second (never so late that no window
    fits); every length is drawn uniformly in whole frames; the tail shorter than ``min_seconds``
    is dropped. The same ``rng`` state gives the same windows.
    """
    min_f = math.ceil(min_seconds * fps - 1e-9)
    max_f = max(min_f, math.floor(max_seconds * fps + 1e-9))
    n = end - start
    if n < min_f or min_f <= 0:
        return []
    pos = start + int(rng.integers(0, min(n - min_f, int(round(fps))) + 1))
    out = []
    while end - pos >= min_f:
        length = int(rng.integers(min_f, min(max_f, end - pos) + 1))
        out.append((pos, pos + length))
        pos += length
    return out


def sample_span(start_frame: int, end_frame: int, fps: float, sample_rate: int) -> tuple[int, int]:
    """The audio samples [a, b) of frames [start_frame, end_frame): a = round(start/fps·sr), and
    b − a = round(frames/fps·sr), so every clip's audio lasts exactly its frames' duration."""
    a = int(round(start_frame / fps * sample_rate))
    return a, a + int(round((end_frame - start_frame) / fps * sample_rate))
