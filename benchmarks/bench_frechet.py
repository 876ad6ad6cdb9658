"""Fréchet distance at FID's 2,048 dimensions: ``scipy.linalg.sqrtm`` (the references, ``disco-legacy``)
against the exact eigendecomposition form (``clean``), side by side on the same statistics.

Two cases: full-rank covariances (5,000 rows per set) and rank-deficient ones (12 rows per set, as a
frame FID over a few short videos). Prints seconds per call, the speed-up and the relative difference.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_frechet.py [--dim 2048]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from macedance.metrics.motion.frechet import frechet_distance, gaussian_stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=2048)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'rows per set':>12} {'sqrtm s':>9} {'eigh s':>8} {'speed-up':>9} {'FD sqrtm':>14} {'FD eigh':>14} {'rel. diff':>10}")
    for n in (5000, 12):
        x = rng.standard_normal((n, a.dim))
        y = rng.standard_normal((n, a.dim)) @ np.diag(rng.uniform(0.5, 1.5, a.dim)) + 0.1
        s1, s2 = gaussian_stats(x), gaussian_stats(y)
        out = {}
        for method in ("sqrtm", "eigh"):
            t0 = time.perf_counter()
            out[method] = (frechet_distance(*s1, *s2, method=method).value, time.perf_counter() - t0)
        (v0, t0), (v1, t1) = out["sqrtm"], out["eigh"]
        print(f"{n:>12} {t0:>9.2f} {t1:>8.2f} {t0 / t1:>8.1f}× {v0:>14.6f} {v1:>14.6f} {abs(v1 - v0) / abs(v0):>10.1e}")


if __name__ == "__main__":
    main()
