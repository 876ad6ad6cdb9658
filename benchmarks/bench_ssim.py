"""SSIM (``clean``: Gaussian 11×11 on RGB, float64) of two videos on the video tasks' 720×1280 canvas: frames scored
one after another (the way before the thread pool) against the pool of torch's thread count, side by side on the same
frames. Prints seconds per frame, the speed-up and the largest difference (0: each frame is scored by the same code).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ssim.py [--frames 16] [--size 720x1280]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from macedance.metrics.video import frame_metrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="720x1280")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (a.frames, h, w, 3), dtype=np.uint8)
    pred = np.clip(gt.astype(np.int16) + rng.integers(-30, 31, gt.shape), 0, 255).astype(np.uint8)
    t0 = time.perf_counter()
    serial = float(np.mean([frame_metrics._frame_ssim(p, g, "clean") for p, g in zip(pred, gt, strict=True)]))
    t_serial = (time.perf_counter() - t0) / a.frames
    t0 = time.perf_counter()
    pooled = frame_metrics.ssim(pred, gt)
    t_pool = (time.perf_counter() - t0) / a.frames
    print(f"{a.frames} frames {w}×{h}, torch threads {torch.get_num_threads()}")
    print(f"{'serial s/frame':>15} {'pool s/frame':>13} {'speed-up':>9} {'|Δ|':>9}")
    print(f"{t_serial:15.4f} {t_pool:13.4f} {t_serial / t_pool:8.2f}× {abs(serial - pooled):9.2e}")


if __name__ == "__main__":
    main()
