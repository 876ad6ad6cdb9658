"""Appearance Expert on the tiny offline Wan-Animate pipeline: load, animate (relay segments), one
training step of each stage — wall time and peak memory, on the CPU (float32) or CUDA (bf16).

    .venv/bin/python benchmarks/bench_appearance.py [--device cpu|cuda] [--frames 33] [--size 64x64] [--steps 4]

The tiny pipeline is written to a temporary folder and loaded through the project's loader; the
training steps run on a generated one-clip dataset (``write_appearance_dataset``). Timings of the
tiny model measure the plumbing (VAE encodes, conditioning, relay, LoRA/peft, checkpoints), not the
14B model's speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    import numpy as np
    import torch

    from macedance.appearance.pipeline import AnimateConfig, animate, load_pipeline
    from macedance.appearance.tiny import write_tiny_pipeline
    from macedance.datasets.synthetic_video import write_appearance_dataset
    from macedance.training.appearance import AppearanceTrainConfig, train_appearance

    cuda = a.device.startswith("cuda")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}" + (f", {torch.cuda.get_device_name()}" if cuda else ""))
    rows = []

    def timed(name: str, fn):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        out = fn()
        if cuda:
            torch.cuda.synchronize()
        mem = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, time.perf_counter() - t, mem))
        return out

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = write_tiny_pipeline(tmp / "wan")
        data = write_appearance_dataset(tmp / "data")
        pipe = timed("load pipeline", lambda: load_pipeline(model, device=a.device))
        rng = np.random.default_rng(0)
        pose = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(a.frames)]
        face = [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(a.frames)]
        ref = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        for seg in (a.frames, 9):  # one segment, then relay segments of 9 frames
            cfg = AnimateConfig(width=w, height=h, steps=a.steps, segment_frames=seg)
            v = timed(f"animate {a.frames} frames {w}×{h}, {a.steps} steps, segments of {seg}", lambda cfg=cfg: animate(pipe, ref, pose, face, cfg=cfg))
            assert v.shape == (a.frames, h, w, 3)
        common = dict(width=w, height=h, frames=9, fps=8.0, checkpoint_every=1000, device=a.device)
        for stage, init in (("kinematic", None), ("aesthetic", tmp / "k")):
            run = tmp / stage[0]
            train_appearance(data, model, run, cfg=AppearanceTrainConfig(stage=stage, steps=1, **common), init=init,
                             pipe=load_pipeline(model, device=a.device))  # first step (warm-up) and the run's files
            p = load_pipeline(model, device=a.device)
            s = timed(f"train {stage}: resume + 1 step (9 frames {w}×{h}, grad. ckpt, checkpoint write)",
                      lambda run=run, stage=stage, p=p: train_appearance(data, model, run, cfg=AppearanceTrainConfig(stage=stage, steps=2, **common), resume=True, pipe=p))
            rows[-1] = (rows[-1][0] + f", {s['trainable_parameters']:,} trainable", *rows[-1][1:])
    print(f"\n| {'step':<70} | seconds | peak memory MiB ({'CUDA allocated' if cuda else 'process RSS'}) |")
    for name, sec, mem in rows:
        print(f"| {name:<70} | {sec:7.3f} | {mem:8.0f} |")


if __name__ == "__main__":
    main()
