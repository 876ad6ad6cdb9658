"""Shot-cut detectors against ground truth: precision, recall and F1 of detected cut frames.

A detector is one entry of ``DETECTORS``: ``fn(path) -> (K,) int array`` of the frames where a new shot starts
(the index of :func:`macedance.io.video.iter_frames`). A detection matches a hard cut at F when within
±``--tolerance`` (2) frames of F, and a gradual transition [A, B] when inside [A − 2, B + 2]; matching is
one-to-one and greedy (closest pairs first), so TP + FN = annotated boundaries and TP + FP = detections. Sets:

* ``real``: the two shared real dance videos, annotated by eye in ``tests/data/real_dance_cuts.json`` (neither
  has a shot boundary: every detection there is a false positive); skipped when ``../shared/data/real-dance``
  is absent;
* ``reframed``: ``REFRAMED_CUTS`` reframing cuts per real video made by
  :func:`~macedance.datasets.synthetic_video.write_reframed_video` from one long span of its single shot
  (``REFRAMED``: full frame ↔ 1.3–1.8× crops of the same shot), the cuts a phone edit makes; skipped likewise;
* ``synthetic``: generated cartoon-dancer videos (:func:`~macedance.datasets.synthetic_video.write_dance_video`)
  with hard cuts between shots of their own background colours (dance, static, two dancers, empty).

Prints one row per detector × set (TP, FP, FN, precision, recall, F1, FP@neg: false positives within ±2 frames
of an annotated hard negative, detector seconds) and the machine line; ``-v`` also prints each video's detections.

    .venv/bin/python benchmarks/bench_shot_detection.py [--detectors histogram] [--sets real,reframed,synthetic] [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from macedance.datasets.synthetic_video import Reframe

ROOT = Path(__file__).resolve().parents[1]
REAL_DANCE = ROOT.parent / "shared" / "data" / "real-dance"
TRUTH = ROOT / "tests" / "data" / "real_dance_cuts.json"
TOLERANCE = 2


def histogram_cuts(path: str | Path) -> np.ndarray:
    """The builder's detector: HSV-histogram distance with an adaptive threshold (``shots.detect_cuts``)."""
    from macedance.datasets.from_video.shots import detect_cuts, scan_video

    return detect_cuts(scan_video(path)["hist"])


def transnet_cuts(path: str | Path) -> np.ndarray:
    """TransNet V2 as the builder runs it (one scan decode, :func:`~macedance.datasets.from_video.shots.shot_ranges`):
    the first frame of every shot after the first — after a gradual transition, the first frame past it."""
    from macedance.datasets.from_video.shots import ShotParams, scan_video, shot_ranges
    from macedance.datasets.from_video.transnet import load_transnet

    sig = scan_video(path, transnet=load_transnet())
    shots = shot_ranges(sig, len(sig["hist"]) + 1, ShotParams(detector="transnet"))
    return np.array([a for a, _ in shots[1:]], dtype=np.int64)


DETECTORS: dict[str, Callable[[str | Path], np.ndarray]] = {"histogram": histogram_cuts, "transnet": transnet_cuts}


def _cycle(lengths: Sequence[int], framings: Sequence[tuple[float, float, float]]) -> list[Reframe]:
    return [Reframe(n, *framings[k % len(framings)]) for k, n in enumerate(lengths)]


# Per real video: (first source frame, segments). Spans chosen from the annotation: cxk 340–921 is the wide dance
# shot without captions (camera pans and slow zooms only); demo 1100–1699 keeps the dancer in the middle of the
# fixed frame (no exits, no exposure flash). Framings (zoom, cx, cy) alternate wide and tight around the dancer.
_CXK_FRAMINGS = ((1.0, 0.5, 0.5), (1.6, 0.5, 0.42), (1.3, 0.38, 0.5), (1.0, 0.5, 0.5), (1.8, 0.55, 0.4), (1.4, 0.62, 0.55))
_DEMO_FRAMINGS = ((1.0, 0.5, 0.5), (1.7, 0.55, 0.55), (1.3, 0.42, 0.5), (1.0, 0.5, 0.5), (1.5, 0.6, 0.6), (1.8, 0.52, 0.5))
REFRAMED: dict[str, tuple[int, list[Reframe]]] = {
    "mmdeploytd_cxk.mp4": (340, _cycle([72, 60, 84, 66, 78, 60, 90, 72], _CXK_FRAMINGS)),
    "demo_dancer_dance.mp4": (1100, _cycle([75, 66, 90, 60, 84, 72, 81, 72], _DEMO_FRAMINGS)),
}
REFRAMED_CUTS = 7


@dataclass
class Truth:
    """Annotated boundaries of one video: hard-cut frames, gradual [A, B] ranges and hard negatives (frames of
    captions, flashes, fast zooms … that are not cuts)."""

    hard: list[int] = field(default_factory=list)
    gradual: list[tuple[int, int]] = field(default_factory=list)
    negatives: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.hard) + len(self.gradual)


def match(detected: Sequence[int], truth: Truth, tolerance: int = TOLERANCE) -> tuple[int, int, int]:
    """(TP, FP, FN) of ``detected`` cut frames against ``truth``: one-to-one greedy matching, closest pairs first."""
    targets = [(f, f) for f in truth.hard] + [(a, b) for a, b in truth.gradual]
    pairs = []
    for i, d in enumerate(detected):
        for j, (a, b) in enumerate(targets):
            dist = max(a - d, d - b, 0)
            if dist <= tolerance:
                pairs.append((dist, i, j))
    used_d, used_t = set(), set()
    for _, i, j in sorted(pairs):
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
    tp = len(used_d)
    return tp, len(detected) - tp, len(targets) - tp


def on_negatives(detected: Sequence[int], truth: Truth, tolerance: int = TOLERANCE) -> int:
    """How many detections lie within ±``tolerance`` of an annotated hard negative and of no boundary."""
    near = [(f, f) for f in truth.hard] + list(truth.gradual)
    return sum(1 for d in detected if any(abs(d - n) <= tolerance for n in truth.negatives)
               and not any(a - tolerance <= d <= b + tolerance for a, b in near))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def scores(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1 (None where undefined: no detections, no annotated boundaries)."""
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn) if (tp + fp + fn) else None
    return p, r, f1


def real_set() -> list[tuple[str, Path, Truth]]:
    data = json.loads(TRUTH.read_text())
    return [(name, REAL_DANCE / name, Truth(list(v["hard"]), [tuple(g) for g in v["gradual"]], [f for f, _ in v["not_cuts"]]))
            for name, v in data.items() if name != "method"]


def reframed_set(tmp: Path) -> list[tuple[str, Path, Truth]]:
    from macedance.datasets.synthetic_video import write_reframed_video

    out = []
    for name, (start, segments) in REFRAMED.items():
        path = tmp / f"reframed_{Path(name).stem}.mp4"
        cuts = write_reframed_video(REAL_DANCE / name, path, segments=segments, start=start)
        assert len(cuts) == REFRAMED_CUTS, cuts
        out.append((f"reframed {name}", path, Truth(cuts)))
    return out


def synthetic_set(tmp: Path) -> list[tuple[str, Path, Truth]]:
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

    videos = {
        "synthetic dance×6": [ShotSpec(2.0, bpm=96 + 8 * k) for k in range(6)],
        "synthetic mixed kinds": [ShotSpec(2.0), ShotSpec(1.5, "static"), ShotSpec(2.0, "two"), ShotSpec(1.0, "empty"),
                                  ShotSpec(2.5, bpm=140), ShotSpec(0.5)],
    }
    out = []
    for k, (name, shots) in enumerate(videos.items()):
        path = tmp / f"synthetic{k}.mp4"
        rep = write_dance_video(path, shots, fps=30.0, size=(320, 180), seed=k, audio=False)
        out.append((name, path, Truth(list(rep["cuts"]))))
    return out


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detectors", default=",".join(DETECTORS), help=f"comma-separated, of {sorted(DETECTORS)}")
    ap.add_argument("--sets", default="real,reframed,synthetic")
    ap.add_argument("--tolerance", type=int, default=TOLERANCE)
    ap.add_argument("-v", "--verbose", action="store_true", help="print each video's detections")
    a = ap.parse_args()
    names = [d for d in a.detectors.split(",") if d]
    unknown = set(names) - set(DETECTORS)
    if unknown:
        ap.error(f"unknown detectors {sorted(unknown)}; known: {sorted(DETECTORS)}")
    wanted = [s for s in a.sets.split(",") if s]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sets: dict[str, list[tuple[str, Path, Truth]]] = {}
        have_real = REAL_DANCE.is_dir() and all((REAL_DANCE / n).is_file() for n in REFRAMED)
        for s in wanted:
            if s in ("real", "reframed") and not have_real:
                print(f"skipping set {s!r}: shared videos not found in {REAL_DANCE}")
                continue
            builder = {"real": lambda _t: real_set(), "reframed": reframed_set, "synthetic": synthetic_set}.get(s)
            if builder is None:
                ap.error(f"unknown set {s!r}")
            sets[s] = builder(tmp)
        print(f"tolerance ±{a.tolerance} frames; boundaries per set: " + ", ".join(f"{s} {sum(t.count for *_, t in v)}" for s, v in sets.items()))
        print(f"\n{'detector':<12} {'set':<10} {'TP':>4} {'FP':>4} {'FN':>4} {'P':>6} {'R':>6} {'F1':>6} {'FP@neg':>6} {'seconds':>8}")
        for det in names:
            for s, videos in sets.items():
                tp = fp = fn = neg = 0
                secs = 0.0
                for label, path, truth in videos:
                    t0 = time.perf_counter()
                    found = [int(f) for f in np.asarray(DETECTORS[det](path)).ravel()]
                    secs += time.perf_counter() - t0
                    m = match(found, truth, a.tolerance)
                    tp, fp, fn, neg = tp + m[0], fp + m[1], fn + m[2], neg + on_negatives(found, truth, a.tolerance)
                    if a.verbose:
                        print(f"  {det} / {label}: detected {found}; truth hard {truth.hard} gradual {truth.gradual}; TP/FP/FN {m}")
                p, r, f1 = scores(tp, fp, fn)
                print(f"{det:<12} {s:<10} {tp:4d} {fp:4d} {fn:4d} {_fmt(p)} {_fmt(r)} {_fmt(f1)} {neg:6d} {secs:8.1f}")


if __name__ == "__main__":
    main()
