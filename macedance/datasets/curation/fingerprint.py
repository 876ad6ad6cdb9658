"""Perceptual fingerprints of clips: what :mod:`~macedance.datasets.curation.dedupe` compares to find the same dance
uploaded twice (re-encoded, at another resolution or frame rate, mirrored, cropped a little, cut at another start).

A frame's **motion hash** is the 64-bit DCT hash (pHash) of how its picture changed over the last :data:`MOTION_LAG`
seconds: the difference between its 32 × 32 grey thumbnail (area-averaged, aspect ratio ignored) and that of the frame
``round(MOTION_LAG · fps)`` frames earlier, transformed by an 8 × 8 DCT-II block of vertical and horizontal frequencies
1–8 (the zero-frequency row and column left out, as pHash does), one bit per coefficient: above the block's median.
The hash of the picture itself (plain pHash) is dominated by what does not move — the studio, the floor, the framing
— so different dances filmed in one place match it: with the matcher's settings, parts of the shared real flamenco
video (a fixed camera in a hall) 20 s apart matched at up to 38 % of their sampled frames, and generated cartoon
dances (one layout) at up to 68 %; the motion hash matched none of them (0 %, and at most 17 % among twelve generated
dances at one tempo) while copies still match at 82–100 % (tests/test_dedupe.py, docs/data-build.md).

A horizontal mirror flips the sign of every coefficient of odd horizontal frequency, so the hash of the mirrored frame
(``mirror``) comes from the same transform. A frame whose difference thumbnail varies by less than :data:`MIN_MOTION`
grey levels (standard deviation) has no hash: nothing moves (a still, a black frame, a title card), and such frames
would match each other anywhere; nor have the frames of the first :data:`MOTION_LAG` seconds of a video.

A **clip fingerprint** holds the hash of every frame of the clip (copies are compared frame-accurately) and the
mirrored hashes of the frames at every multiple of :data:`HASH_STEP` seconds of source time (the first frame at or
after it) — the frames a clip is compared by. The builder hashes every frame in its scan decode (the 128 px grey frames
it already makes; cached with the scan); a kept clip's fingerprint (about 3.6 kB of JSON per 10 s at 30 fps) is recorded
in its source's resume state.
"""

from __future__ import annotations

import base64
import math
from collections import deque
from typing import Any

import numpy as np

HASH_SIDE = 32  # thumbnail side, px
MOTION_LAG = 0.25  # seconds between the two frames whose difference is hashed
MIN_MOTION = 2.0  # grey levels: a difference thumbnail with a smaller standard deviation has no hash
HASH_STEP = 0.25  # seconds between the sampled frames of a clip fingerprint
_ODD = np.where(np.arange(1, 9) % 2 == 1, -1.0, 1.0).astype(np.float32)  # sign of horizontal frequencies 1–8 under a mirror


def _bits(coef: np.ndarray) -> np.uint64:
    """8 × 8 coefficients → one bit per coefficient above their median, the first coefficient in the highest bit."""
    flat = coef.ravel()
    low = np.partition(flat, (31, 32))
    return np.packbits(flat > 0.5 * (low[31] + low[32])).view(">u8")[0].astype(np.uint64)


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """A (H, W) grey frame (levels 0–255) → its (32, 32) float32 thumbnail."""
    import cv2

    return cv2.resize(np.asarray(grey, np.float32), (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA)


def image_hashes(image: np.ndarray) -> tuple[np.uint64, np.uint64, np.float32]:
    """The pHash of a (32, 32) float image, that of its horizontal mirror image, and the image's standard deviation."""
    import cv2

    coef = cv2.dct(np.ascontiguousarray(image, np.float32))[1:9, 1:9]
    _, sd = cv2.meanStdDev(image)
    return _bits(coef), _bits(coef * _ODD), np.float32(sd[0, 0])


class MotionHasher:
    """Motion hashes of a stream of grey frames at ``fps``: :meth:`push` each frame in order."""

    def __init__(self, fps: float):
        self.lag = max(1, int(round(MOTION_LAG * fps)))
        self._recent: deque[np.ndarray] = deque(maxlen=self.lag + 1)

    def push(self, grey: np.ndarray) -> tuple[np.uint64, np.uint64, np.float32]:
        """(``hash``, ``mirror``, ``motion``) of the next frame: the motion hash, the mirrored frame's, and the standard
        deviation of the difference thumbnail (0 for the first ``lag`` frames, which have no earlier frame)."""
        self._recent.append(thumbnail(grey))
        if len(self._recent) <= self.lag:
            return np.uint64(0), np.uint64(0), np.float32(0.0)
        return image_hashes(self._recent[-1] - self._recent[0])


def motion_hashes(frames: Any, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:class:`MotionHasher` over grey frames ((N, H, W) or an iterable of (H, W)): (N,) uint64 ``hash`` and
    ``mirror``, (N,) float32 ``motion``."""
    hasher = MotionHasher(fps)
    out = [hasher.push(f) for f in frames]
    return (np.array([o[0] for o in out], np.uint64), np.array([o[1] for o in out], np.uint64),
            np.array([o[2] for o in out], np.float32))


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between uint64 hashes (broadcast), as int64."""
    x = np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))
    if hasattr(np, "bitwise_count"):  # numpy ≥ 2
        return np.bitwise_count(x).astype(np.int64)
    return np.unpackbits(np.ascontiguousarray(x)[..., None].view(np.uint8), axis=-1).sum(axis=-1).astype(np.int64)


def sample_frames(start: int, end: int, fps: float, step: float = HASH_STEP) -> np.ndarray:
    """Frame indices in [start, end) sampled by a clip fingerprint: the first frame at or after every multiple of
    ``step`` seconds of source time."""
    first, last = math.floor(start / (fps * step)), math.ceil(end / (fps * step))
    idx = np.ceil(np.arange(first, last + 1) * step * fps - 1e-6).astype(np.int64)
    return np.unique(idx[(idx >= start) & (idx < end)])


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<u8").tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    """A fingerprint's base64 field → (N,) uint64 (0: a frame without a hash)."""
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


def fingerprint_clip(hashes: np.ndarray, mirror: np.ndarray, motion: np.ndarray, *, start: int, end: int, fps: float) -> dict[str, Any]:
    """The fingerprint of source frames [start, end) from the per-frame ``hashes``, ``mirror`` and ``motion`` of a
    video (:func:`motion_hashes`), JSON-ready: ``start``, ``end``, ``hash`` — every frame's hash — and ``mirror`` — the
    mirrored hashes of the frames of :func:`sample_frames` — as base64 of little-endian uint64, 0 for a frame without
    a hash (motion below :data:`MIN_MOTION`)."""
    h, m, s = (np.asarray(x)[start:end] for x in (hashes, mirror, motion))
    valid = s >= MIN_MOTION
    idx = sample_frames(start, start + len(h), fps) - start
    return {"start": int(start), "end": int(start + len(h)), "hash": _b64(np.where(valid, h, 0)),
            "mirror": _b64(np.where(valid[idx], m[idx], 0))}


def fingerprint_source(sig: dict[str, np.ndarray], clips: list[tuple[str, int, int]], *, fps: float, seconds: float, width: int,
                        height: int) -> dict[str, Any]:
    """A source's record for :mod:`~macedance.datasets.curation.dedupe` (``SourceOutcome.fingerprints``): its frame rate,
    length (s) and size, and the fingerprint of every kept clip (id, first and end frame) from the scan's
    ``motion_hash``, ``motion_mirror`` and ``motion_std``; empty without kept clips (or a scan without hashes)."""
    if not clips or "motion_hash" not in sig:
        return {}
    h, m, s = sig["motion_hash"], sig["motion_mirror"], sig["motion_std"]
    return {"fps": float(fps), "seconds": float(seconds), "width": int(width), "height": int(height),
            "clips": {cid: fingerprint_clip(h, m, s, start=a, end=b, fps=fps) for cid, a, b in clips}}
