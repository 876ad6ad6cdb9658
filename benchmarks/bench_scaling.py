"""Scale-out speed-up: ``data build --executor ray`` with 1 and with 2 local Ray workers, side by side
(and, with ``--local``, the local executor with ``--workers 1`` and ``2`` on the same input).

Generates ``--videos`` raw dance videos (default 4 × 20 s, 1280×720, 30 fps, H.264 + AAC drum track),
starts a local Ray instance with all cores, and builds the folder twice from empty caches: once with
one video task at a time (``--task-cpus`` = all cores: each task runs its pose/fit threads on every
core) and once with two tasks at a time (``--task-cpus`` = cores / 2). Prints the wall times, the
speed-ups, and checks that every build made the same clips.

    .venv/bin/python benchmarks/bench_scaling.py [--videos 4] [--seconds 20] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import tempfile
import time
from pathlib import Path


def _digest(out: Path) -> str:
    """Digest of the manifest's decisions (candidate, status, code, split): the same clips were made.
    (Clip files can differ in the last float bits: the SMPL fit's torch thread count differs.)"""
    from macedance.datasets.curation.manifest import read_manifest

    rows = [(r["candidate_id"], r["status"], r["code"], r["split"]) for r in read_manifest(out / "manifest.parquet")]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--local", action="store_true", help="also time the local executor with 1 and 2 workers")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        import ray

        from macedance.datasets.from_video import BuildParams, build_dataset
        from macedance.datasets.synthetic_video import ShotSpec, write_dance_video

        raw = tmp / "raw"
        raw.mkdir()
        for v in range(a.videos):
            write_dance_video(raw / f"dance{v}.mp4", [ShotSpec(a.seconds / 2, bpm=96 + 8 * k) for k in range(2)], fps=a.fps, size=(w, h), seed=v)
        print(f"{a.videos} videos × {a.seconds:g} s {w}×{h} @ {a.fps:g} fps; machine: {platform.processor() or platform.machine()}, "
              f"{cores} cores, Python {platform.python_version()}, Ray {ray.__version__}")
        walls, digests = {}, {}
        for workers in (1, 2):
            cache = tmp / f"cache-{workers}"
            os.environ["MACEDANCE_CACHE_DIR"] = str(cache)
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": {"MACEDANCE_CACHE_DIR": str(cache)}})
            try:
                ray.get(ray.remote(lambda: None).remote())  # workers up before the clock starts
                t0 = time.perf_counter()
                rep = build_dataset(raw, tmp / f"out-{workers}", params=BuildParams(), executor="ray", task_cpus=max(1, cores // workers))
                walls[workers] = time.perf_counter() - t0
            finally:
                ray.shutdown()
            digests[workers] = _digest(tmp / f"out-{workers}")
            print(f"{workers} Ray worker(s) × {max(1, cores // workers)} CPUs: {rep.clips} clips, wall {walls[workers]:.1f} s, "
                  f"real-time factor {a.videos * a.seconds / walls[workers]:.2f}×, dataset digest {digests[workers]}")
        print(f"Ray: speed-up 2 workers vs 1: {walls[1] / walls[2]:.2f}×; same clips: {digests[1] == digests[2]}")
        if a.local:
            local = {}
            for workers in (1, 2):
                os.environ["MACEDANCE_CACHE_DIR"] = str(tmp / f"cache-local-{workers}")
                t0 = time.perf_counter()
                rep = build_dataset(raw, tmp / f"local-{workers}", params=BuildParams(), workers=workers)
                local[workers] = time.perf_counter() - t0
                same = _digest(tmp / f"local-{workers}") == digests[1]
                print(f"local --workers {workers}: {rep.clips} clips, wall {local[workers]:.1f} s, real-time factor "
                      f"{a.videos * a.seconds / local[workers]:.2f}×, same clips as Ray: {same}")
            print(f"local: speed-up 2 workers vs 1: {local[1] / local[2]:.2f}×; Ray vs local, 1 worker: {local[1] / walls[1]:.2f}×, "
                  f"2 workers: {local[2] / walls[2]:.2f}×")


if __name__ == "__main__":
    main()
