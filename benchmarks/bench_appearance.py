"""Appearance Expert on the tiny offline Wan-Animate pipeline: load, animate (relay segments), one
training step of each stage — wall time and peak memory, on the CPU (float32) or CUDA (bf16).

    .venv/bin/python benchmarks/bench_appearance.py [--device cpu|cuda] [--frames 33] [--size 64x64] [--steps 4]
    .venv/bin/python benchmarks/bench_appearance.py --full-size [--peak-tflops 989] [--measure --device cuda]

The tiny pipeline is written to a temporary folder and loaded through the project's loader; the
training steps run on a generated one-clip dataset (``write_appearance_dataset``). Timings of the
tiny model measure the plumbing (VAE encodes, conditioning, relay, LoRA/peft, checkpoints), not the
14B model's speed.

``--full-size`` counts, without weights or a GPU, what one official MACE-Dance window costs with the real sizes: each
diffusers component built at the released Wan2.2-Animate-14B configuration on the meta device and run once under
torch's ``FlopCounterMode`` at the official settings (77 control frames + the reference = 21 latent frames ↔ 81 frames,
720×1280 (width×height), 512×512 faces, 20 steps, cfg 1.0 so one transformer pass per step). It prints parameters, bf16 weight size
and FLOPs per window per component, and the time the FLOPs need at a card's dense bf16 peak (a lower bound: real
kernels reach a fraction of it). ``--measure --device cuda`` also times the transformer and the VAE at those shapes
with random bf16 weights made on the card (34.5 GB; no checkpoint needed) and reports peak memory: seconds per window
without offload transfers. ``--blocks 5 --size 32x32 --frames 5 --measure --device cpu`` runs the same code on a CPU.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def full_size(peak_tflops: float, *, measure: str | None, size: tuple[int, int], frames: int, blocks: int, time_steps: int,
              dtype: str | None = None) -> None:
    """One window of the real-size components (``blocks`` transformer blocks, 40 released): FLOPs counted on the meta
    device; with ``measure`` (a device) also timed there with random weights made there (bf16 on CUDA; no checkpoint)."""
    import resource

    import torch
    from diffusers import AutoencoderKLWan, WanAnimateTransformer3DModel
    from diffusers.utils import logging as diffusers_logging
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel
    from transformers.utils import logging as hf_logging

    from macedance.appearance.wan_keys import WAN22_ANIMATE_14B

    hf_logging.set_verbosity_error()
    diffusers_logging.set_verbosity_error()  # the float32-module advice for casting: no weights are loaded here
    bf16 = torch.bfloat16
    (W, H), F = size, frames
    LAT = (F - 1) // 4 + 1  # latent frames of the control frames (+1 for the reference)
    cfg = {**WAN22_ANIMATE_14B, "num_layers": blocks}

    # bf16 on the card; float32 on a CPU by default (bf16 convolutions without AVX-512 BF16 take minutes there)
    run_dtype = {"bf16": bf16, "fp32": torch.float32}[dtype or ("bf16" if measure is None or measure.startswith("cuda") else "fp32")]

    def build(cls, *args, device: str = "meta", **kw):
        torch.set_default_dtype(run_dtype)  # parameters made in that dtype where they are made (the 14B model in fp32 is 69 GB)
        try:
            with torch.device(device):
                return cls(*args, **kw).eval()
        finally:
            torch.set_default_dtype(torch.float32)

    vae = functools.cache(lambda d: build(AutoencoderKLWan, device=d))  # one VAE per device for its three calls
    # name, model, one call (given a tensor maker), calls per window
    parts = [
        ("transformer (DiT + Animate adapter, LoRA fused)", lambda d: build(WanAnimateTransformer3DModel, device=d, **cfg),
         lambda t, m: t(m(1, 36, LAT + 1, H // 8, W // 8), m(1, dtype=torch.long), m(1, 512, 4096), m(1, 257, 1280),
                        m(1, 16, LAT, H // 8, W // 8), m(1, 3, F, 512, 512), return_dict=False), 20),
        (f"VAE encode (conditioning video, pose video: {F} frames)", vae,
         lambda v, m: v.encode(m(1, 3, F, H, W)), 2),
        ("VAE encode (reference image)", vae, lambda v, m: v.encode(m(1, 3, 1, H, W)), 1),
        (f"VAE decode ({LAT + 1} latent frames → {4 * LAT + 1} frames)", vae,
         lambda v, m: v.decode(m(1, 16, LAT + 1, H // 8, W // 8)), 1),
        ("text encoder (UMT5-XXL encoder, 512 tokens)",
         lambda d: build(UMT5EncoderModel, UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                                                      feed_forward_proj="gated-gelu"), device=d),
         lambda e, m: e(input_ids=m(1, 512, dtype=torch.long)), 1),
        ("image encoder (CLIP ViT-H/14, reference)",
         lambda d: build(CLIPVisionModel, CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                                                           num_attention_heads=16, patch_size=14, image_size=224), device=d),
         lambda c, m: c(m(1, 3, 224, 224), output_hidden_states=True), 1),
    ]
    print(f"one window: {F} control frames + reference ({4 * LAT + 1} frames), {W}×{H} (width×height), 512×512 faces, "
          f"20 steps, cfg 1.0, {blocks} transformer blocks\n")
    print(f"| {'component':<56} | parameters | bf16 weights GiB | calls | TFLOP per window |")
    total = 0.0
    meta = lambda *shape, dtype=run_dtype: torch.zeros(shape, device="meta", dtype=dtype)
    for name, make, call, calls in parts:
        model = make("meta")
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            call(model, meta)
        flops = fc.get_total_flops() * calls
        total += flops
        n = sum(p.numel() for p in model.parameters())
        print(f"| {name:<56} | {n / 1e9:8.3f} B | {n * 2 / 2**30:16.2f} | {calls:5d} | {flops / 1e12:16,.1f} |")
    print(f"| {'total':<56} | {'':10} | {'':16} | {'':5} | {total / 1e12:16,.1f} |")
    print(f"\nat {peak_tflops:g} TFLOP/s (dense bf16 peak): ≥ {total / (peak_tflops * 1e12):.1f} s per window")
    if measure is None:
        return
    # Timed on the device with random weights: the transformer and the VAE (the text and image encoders run once per
    # video). One call each as a warm-up, then the mean of ``time_steps`` calls (the VAE: one).
    cuda = measure.startswith("cuda")
    g = torch.Generator(device=measure).manual_seed(0)
    rand = lambda *shape, dtype=run_dtype: (torch.randint(0, 1000, shape, device=measure, generator=g) if dtype == torch.long
                                        else torch.randn(shape, device=measure, generator=g, dtype=dtype))
    rows, window = [], 0.0
    for name, make, call, calls in parts[:4]:
        model = make(measure)
        with torch.no_grad():
            call(model, rand)  # warm-up (kernels chosen, memory pools grown)
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            reps = time_steps if calls > 1 and name.startswith("transformer") else 1
            t = time.perf_counter()
            for _ in range(reps):
                call(model, rand)
            if cuda:
                torch.cuda.synchronize()
        sec = (time.perf_counter() - t) / reps
        mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        rows.append((name, sec, calls, mem))
        window += sec * calls
        del model
        if cuda:
            torch.cuda.empty_cache()
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    print(f"\nmeasured on {device_name} (random {str(run_dtype).removeprefix('torch.')} weights, torch {torch.__version__}):\n")
    print(f"| {'component':<56} | seconds per call | calls | peak GiB ({'CUDA allocated' if cuda else 'process RSS'}) |")
    for name, sec, calls, mem in rows:
        print(f"| {name:<56} | {sec:16.2f} | {calls:5d} | {mem:8.1f} |")
    print(f"\none window (transformer and VAE, no offload transfers): {window:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-size", action="store_true", help="count the real-size window's FLOPs on the meta device (no weights)")
    ap.add_argument("--measure", action="store_true", help="--full-size: also time the transformer and VAE on --device (random bf16 weights)")
    ap.add_argument("--blocks", type=int, default=40, help="--full-size: transformer blocks (a multiple of 5; released: 40)")
    ap.add_argument("--time-steps", type=int, default=2, help="--full-size --measure: timed transformer passes after the warm-up")
    ap.add_argument("--dtype", choices=("bf16", "fp32"), default=None, help="--full-size --measure: default bf16 on CUDA, fp32 on a CPU")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak for the time bound (H100/H200 SXM: 989)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=None, help="control frames (default: 33; --full-size: 77)")
    ap.add_argument("--size", default=None, help="WxH (default: 64x64; --full-size: 720x1280)")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    if a.full_size:
        full_size(a.peak_tflops, measure=a.device if a.measure else None, size=tuple(int(v) for v in (a.size or "720x1280").split("x")),
                  frames=a.frames or 77, blocks=a.blocks, time_steps=a.time_steps, dtype=a.dtype)
        return
    a.frames, a.size = a.frames or 33, a.size or "64x64"
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
