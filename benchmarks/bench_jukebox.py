"""Cost of EDGE's Jukebox features (:mod:`macedance.music.jukebox`): one 5-s slice (220,500 samples at 44.1 kHz →
1,722 tokens → 150 frames) through the full-size VQ-VAE top-level encoder and the full-size 5B prior's blocks, with
random weights (speed does not depend on them; Conv1D weights in float16 as released, computed in float32 as the
original does).

The prior's blocks are all the same size, so ``--blocks N`` (default: 2 on a CPU, 66 on a GPU) are built and timed
and the 66 blocks EDGE reads are extrapolated from the time per block when N < 66 (labelled so). Side by side: the
time per block, the VQ-VAE, and the whole slice; per song: the slices of a 3-minute track at EDGE's 2.5-s stride.

    .venv/bin/python benchmarks/bench_jukebox.py [--device cpu|cuda] [--blocks N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from macedance.models.official.jukebox import JukeboxTopPrior, JukeboxVQVAE
from macedance.music.jukebox import EDGE_LAYER

from _timing import best_time


def randomised(module: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    """``module`` (built on the meta device) materialised on ``dev`` with random weights; Conv1D ``w`` in float16."""
    module = module.to_empty(device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith(".w"):
                p.data = (torch.randn(p.shape, generator=g, device=dev) / math.sqrt(p.shape[0])).half()
            elif name.endswith(("ln_0.weight", "ln_1.weight")):
                p.fill_(1.0)
            else:
                p.normal_(0, 0.02, generator=g)
        for b in module.buffers():
            b.normal_(0, 1, generator=g)
    return module.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--blocks", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    dev = torch.device(args.device)
    blocks = args.blocks or (EDGE_LAYER if dev.type == "cuda" else 2)
    t0 = time.perf_counter()
    with torch.device("meta"):
        vq, prior = JukeboxVQVAE(), JukeboxTopPrior(layers=blocks)
    vq, prior = randomised(vq, dev), randomised(prior, dev)
    setup = time.perf_counter() - t0
    audio = (torch.rand(1, 220500, device=dev) * 2 - 1)
    tokens = vq.encode_top(audio)
    t_vq = best_time(lambda: vq.encode_top(audio), dev, args.repeat)
    t_prior = best_time(lambda: prior.activations(tokens), dev, args.repeat)
    per_block = t_prior / blocks
    slice_s = t_vq + per_block * EDGE_LAYER
    label = "measured" if blocks >= EDGE_LAYER else f"extrapolated from {blocks} blocks"
    gflop = 2 * tokens.shape[1] * sum(p.numel() for n, p in prior.named_parameters() if n.endswith(".w")) / blocks / 1e9
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"Jukebox features, one 5-s slice ({tokens.shape[1]} tokens), {name}, torch threads {torch.get_num_threads()}; "
          f"setup {setup:.1f} s")
    print("| part | time (s) | note |")
    print("|---|---:|---|")
    print(f"| VQ-VAE top-level encoder (220,500 samples) | {t_vq:.3f} | measured |")
    print(f"| one prior block ({gflop:.0f} GFLOP of matmuls) | {per_block:.3f} | measured over {blocks} blocks ({gflop / per_block:.0f} GFLOP/s) |")
    print(f"| one slice: VQ-VAE + {EDGE_LAYER} blocks | {slice_s:.2f} | {label} |")
    print(f"| a 3-minute song: 71 slices | {71 * slice_s / 60:.1f} min | {label} |")
    if dev.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
