"""FVD feature throughput: I3D videos/s against the I3D forward compute bound, side by side.

The compute bound is I3D's forward FLOPs (counted by ``torch.utils.flop_counter``) divided by the
best throughput the same device reaches on the network's own largest 3D convolution run alone (a
dense-kernel ceiling measured in the same run, not a datasheet number). Reported: the ratio of the
measured I3D time to that bound (target ≤ 2 at batch 32 on a GPU), and end-to-end videos/s of
``i3d_features`` including decoding of real 16×224×224 clips when the shared fvd-clips exist.
Weights are randomly initialised (speed does not depend on them).

    .venv/bin/python benchmarks/bench_fvd.py [--device cpu|cuda] [--batch 8] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from macedance.io.video import read_video
from macedance.metrics.video.fvd import i3d_features
from macedance.metrics.video.i3d import InceptionI3d

from _timing import best_time, sync

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-media" / "fvd-clips"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=None, help="default 32 on cuda, 4 on cpu")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--half", action="store_true", help="bfloat16 autocast on cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    batch = a.batch or (32 if dev.type == "cuda" else 4)
    torch.manual_seed(0)
    model = InceptionI3d().eval().to(dev)
    x = torch.rand(batch, 16, 224, 224, 3, device=dev) * 2 - 1
    ctx = torch.autocast("cuda", torch.bfloat16) if a.half and dev.type == "cuda" else torch.autocast("cpu", enabled=False)

    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x[:1])
    flops_clip = fc.get_total_flops()

    # ceiling: the heaviest single conv of I3D (Conv3d_2c_3x3: 64→192, 3×3×3 on 8×56×56) run alone
    w = torch.randn(192, 64, 3, 3, 3, device=dev)
    z = torch.randn(batch, 64, 10, 58, 58, device=dev)
    with torch.no_grad(), FlopCounterMode(display=False) as fc2:
        F.conv3d(z, w)
    with torch.no_grad(), ctx:
        t_conv = best_time(lambda: F.conv3d(z, w), dev, a.repeat + 1)
        t_i3d = best_time(lambda: model(x), dev, a.repeat)
    peak = fc2.get_total_flops() / t_conv
    bound = flops_clip * batch / peak
    print(f"device {dev} ({torch.cuda.get_device_name() if dev.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"batch {batch}, torch {torch.__version__}{', bf16' if a.half else ''}")
    print(f"I3D forward: {flops_clip / 1e9:.1f} GFLOP per 16×224×224 clip")
    print(f"dense conv3d ceiling: {peak / 1e9:.1f} GFLOP/s")
    print(f"I3D forward: {t_i3d:.3f} s per batch = {batch / t_i3d:.2f} videos/s ({flops_clip * batch / t_i3d / 1e9:.1f} GFLOP/s)")
    print(f"compute bound: {bound:.3f} s per batch = {batch / bound:.2f} videos/s")
    print(f"ratio measured / bound: {t_i3d / bound:.2f}  (target ≤ 2)")
    if CLIPS.is_dir():
        files = sorted(CLIPS.rglob("*.mp4"))
        t0 = time.perf_counter()
        feats = i3d_features(model, (read_video(f, 16)[0] for f in files), batch=batch, device=a.device)
        sync(dev)
        dt = time.perf_counter() - t0
        print(f"end to end (decode + resize + I3D) on {len(files)} real clips: {len(feats) / dt:.2f} videos/s")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
