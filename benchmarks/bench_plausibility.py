"""Physical plausibility of fitted motion: AIST++ mocap, the shared real dance videos, and ``data selfcheck``.

Three parts (each prints a table; numbers go to benchmarks/RESULTS.md "Plausibility of fitted motion"):

1. **mocap** — the diagnostics of :mod:`macedance.motion.plausibility` on the 7 AIST++ ground-truth clips
   of ``shared/data/aistpp-joints`` (z-up → y-up; no camera, so the depth drift is the worse horizontal
   axis): what real dance looks like, the source of :data:`~macedance.motion.plausibility.PLAUSIBLE`.
2. **real** — ``data build`` of the two shared real dance videos twice into fresh folders that share one
   cache (the pose pass runs once): the fit without the physical refinement (``physics_iterations=0,
   level_floor=False``: the fit before this stage existed) and with the defaults, the plausibility
   check off so that every fitted clip is listed; per clip and median: reprojection error and every
   diagnostic; the build's per-stage seconds.
3. **selfcheck** (``--selfcheck``) — ``data selfcheck`` (rendered generated dances → build → compare)
   with and without the refinement: MPJPE, PA-MPJPE, world MPJPE.

    .venv/bin/python benchmarks/bench_plausibility.py [--parts mocap,real,selfcheck] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from _timing import share_installed_weights

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OFF = {"physics_iterations": 0, "level_floor": False}
COLS = ("skate_ms", "float_cm", "penetration_cm", "root_jitter_mm", "depth_drift_ms", "floor_tilt_deg", "contact_frac")


def _line(name: str, values: dict[str, float], reproj: float | None = None) -> str:
    r = "" if reproj is None else f"{reproj:7.3f} "
    return f"{name:34s} {r}" + " ".join(f"{values[c]:8.3g}" for c in COLS)


def mocap() -> None:
    from macedance.motion.plausibility import diagnose

    files = sorted((SHARED / "aistpp-joints" / "gt").glob("*.csv"))
    if not files:
        print("mocap: shared/data/aistpp-joints absent, skipped")
        return
    print(f"{'AIST++ clip (30 fps, 5 s)':34s} " + " ".join(f"{c[:8]:>8s}" for c in COLS))
    for f in files:
        a = np.loadtxt(f, delimiter=",").reshape(-1, 24, 3)
        J = np.stack([a[..., 0], a[..., 2], -a[..., 1]], -1)
        print(_line(f.stem[:34], diagnose(J, 30.0, view=None).__dict__))


def real(work: Path) -> None:
    from macedance.datasets.curation.manifest import read_manifest
    from macedance.datasets.from_video import BuildParams, build_dataset

    videos = sorted((SHARED / "real-dance").glob("*.mp4"))
    if not videos:
        print("real: shared/data/real-dance absent, skipped")
        return
    raw = work / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for v in videos:
        if not (raw / v.name).exists():
            (raw / v.name).symlink_to(v)
    share_installed_weights(work / "cache")  # TransNet V2, the default cut detector
    os.environ["MACEDANCE_CACHE_DIR"] = str(work / "cache")
    for name, fit in (("without refinement", OFF), ("with refinement (default)", {})):
        out = work / name.split()[0]
        t = time.perf_counter()
        report = build_dataset(raw, out, params=BuildParams(fit=fit, plausibility={}), overwrite=True, command="bench_plausibility")
        wall = time.perf_counter() - t
        rows = [r for r in read_manifest(out / "manifest.parquet") if r["status"] == "kept"]
        print(f"\n{name}: {len(rows)} fitted clips, build {wall:.1f} s, stages " +
              ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.stage_seconds.items())))
        print(f"{'clip':34s} {'reproj':>7s} " + " ".join(f"{c[:8]:>8s}" for c in COLS))
        for r in rows:
            print(_line(r["candidate_id"][-34:], {c: r[f"phys_{c}"] for c in COLS}, r["reproj_rel"]))
        if rows:
            med = {c: float(np.median([r[f"phys_{c}"] for r in rows])) for c in COLS}
            print(_line("MEDIAN", med, float(np.median([r["reproj_rel"] for r in rows]))))


def selfcheck(work: Path) -> None:
    from macedance.datasets.from_video import BuildParams
    from macedance.datasets.from_video.shots import ShotParams
    from macedance.datasets.selfcheck import SelfCheckParams, run_selfcheck

    for name, fit in (("without refinement", OFF), ("with refinement (default)", {})):
        os.environ["MACEDANCE_CACHE_DIR"] = str(work / f"cache-selfcheck-{name.split()[0]}")
        t = time.perf_counter()
        rep = run_selfcheck(work / f"selfcheck-{name.split()[0]}", params=SelfCheckParams(build=BuildParams(fit=fit, plausibility={},
                                                                                                     shots=ShotParams(detector="histogram"))))
        print(f"selfcheck {name}: MPJPE {rep['mpjpe_mm']:.1f} mm, PA-MPJPE {rep['pa_mpjpe_mm']:.1f} mm, "
              f"world MPJPE {rep['world_mpjpe_mm']:.1f} mm ({time.perf_counter() - t:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="mocap,real")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    a = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        parts = a.parts.split(",")
        if "mocap" in parts:
            mocap()
        if "real" in parts:
            real(work)
        if "selfcheck" in parts:
            selfcheck(work)


if __name__ == "__main__":
    main()
