"""Motion Expert speed: sampling FPS (1024 frames, 50 DDIM steps, batch 1), GFT (one network pass
per step) vs CFG (two), training-step time, and cost vs sequence length for the BiMamba, Mamba and
Transformer mixers. Runs on CUDA when available (``--device cuda``), else CPU.

On CPU a full-size (paper) model takes minutes per sample, so ``--forwards`` measures single
network evaluations and reports sampling FPS as 1024 / (50 × passes × forward time); on a GPU pass
``--full-sampling`` to time the whole DDIM loop.

    .venv/bin/python benchmarks/bench_motion_expert.py [--device cpu|cuda] [--size paper|tiny] [--full-sampling]
"""

from __future__ import annotations

import argparse

import torch

from macedance.models.diffusion import Diffusion, DiffusionConfig
from macedance.models.motion_expert import ExpertConfig, MotionExpert
from macedance.models.representation import Normalizer

from _timing import best_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", default="paper", choices=["paper", "tiny"])
    ap.add_argument("--full-sampling", action="store_true")
    ap.add_argument("--lengths", default="256,512,1024,2048,4096")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--skip", default="", help="comma list of sections to skip: sampling,train,lengths")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; model size: {args.size}; torch {torch.__version__}")
    make = ExpertConfig.tiny if args.size == "tiny" else ExpertConfig
    norm = Normalizer(-torch.ones(151), torch.ones(151))
    skip = set(filter(None, args.skip.split(",")))
    if "sampling" not in skip:
        sampling(make, norm, dev, args.full_sampling)
    if "train" not in skip:
        train_step(make, norm, dev, args.train_batch)
    if "lengths" not in skip:
        lengths(make, dev, [int(v) for v in args.lengths.split(",")])


def sampling(make, norm, dev, full) -> None:
    T = 1024
    print("\nsampling 1024 frames, 50 DDIM steps, batch 1")
    print(f"{'method':<22}{'passes/step':>12}{'forward s':>12}{'sampling s':>12}{'frames/s':>10}")
    for label, kw in (("mace-dance (GFT)", {}), ("ablation-cfg (CFG)", {"guidance": "cfg"})):
        model = MotionExpert(make(dropout=0.0, **kw)).to(dev).eval()
        diff = Diffusion(DiffusionConfig(), norm)
        m, g = torch.randn(1, T, 35, device=dev), torch.tensor([16], device=dev)
        x, t = torch.randn(1, T, 151, device=dev), torch.tensor([500], device=dev)
        with torch.no_grad():
            fwd = best_time(lambda: diff.predict_x0(model, x, t, m, g), dev, repeat=2)  # noqa: B023 (called at once)
            passes = 1 if model.cfg.guidance == "gft" else 2
            if full:
                total = best_time(lambda: diff.sample(model, m, g, torch.Generator().manual_seed(0)), dev, repeat=1)  # noqa: B023
            else:
                total = 50 * fwd
        print(f"{label:<22}{passes:>12}{fwd / passes:>12.3f}{total:>12.2f}{T / total:>10.1f}")


def train_step(make, norm, dev, batch) -> None:
    print(f"\ntraining step (batch {batch}, 240-frame windows, GFT with its extra no-grad pass, all losses, backward, AdamW)")
    model = MotionExpert(make(dropout=0.0)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    diff = Diffusion(DiffusionConfig(), norm)
    x0 = torch.rand(batch, 240, 151, device=dev) * 2 - 1
    mm, gg = torch.randn(batch, 240, 35, device=dev), torch.zeros(batch, dtype=torch.long, device=dev)

    def step() -> None:
        loss = diff.losses(model, x0, mm, gg)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    print(f"  {best_time(step, dev, repeat=1):.3f} s/step")


def lengths(make, dev, lengths) -> None:
    print("\ncost of one denoiser forward vs sequence length (batch 1)")
    print(f"{'mixer':<14}" + "".join(f"{L:>10}" for L in lengths))
    for mixer in ("bimamba", "mamba", "transformer"):
        model = MotionExpert(make(dropout=0.0, mixer=mixer)).to(dev).eval()
        row = []
        for L in lengths:
            x, m = torch.randn(1, L, 151, device=dev), torch.randn(1, L, 35, device=dev)
            t, g = torch.tensor([500], device=dev), torch.tensor([16], device=dev)
            with torch.no_grad():
                row.append(best_time(lambda: model(x, t, m, g, torch.tensor([0.75], device=dev)), dev, repeat=1))  # noqa: B023
        print(f"{mixer:<14}" + "".join(f"{v:>10.3f}" for v in row) + "   (seconds)")


if __name__ == "__main__":
    main()
