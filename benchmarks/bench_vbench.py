"""Throughput of the consistency and cd-FVD feature networks at full size (random weights: speed does not
depend on them), as ``macedance eval video`` runs them, side by side on one device.

* DINO ViT-B/16 (subject consistency): frames/s on 224×398 inputs (a 16:9 frame with its shorter side
  at 224, as VBench feeds DINO), batches of ``--frames`` frames.
* CLIP ViT-B/32 (background consistency) and ViT-L/14 (aesthetic quality; the LAION head is one dot product):
  frames/s on 224×224 crops.
* MUSIQ (imaging quality): frames/s on 288×512 frames (16:9 at VBench's longer side 512), one frame per call as
  VBench scores them (patches at 224, 384 and the original resolution).
* AMT-S (motion smoothness): interpolated frames/s at 256×448 (a 16:9 frame padded to multiples of 16).
* VideoMAE-v2 ViT-g/14 (cd-FVD): videos/s on 16×224×224 clips, batches of ``--videos`` (``--videomae``;
  about 4 TFLOP per clip: on a 2-core CPU minutes per clip).

    .venv/bin/python benchmarks/bench_vbench.py [--device cpu|cuda] [--frames 16] [--videos 8] [--videomae] [--half]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from macedance.metrics.video.amt import AMTS
from macedance.metrics.video.musiq import MUSIQ
from macedance.metrics.video.videomae import VideoMAEv2, sinusoid_table
from macedance.metrics.video.vit import CLIP_VIT_L14, ClipVisual, DinoViT

from _timing import best_time


def _random(model: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    model = model.to_empty(device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02, generator=g)
        if isinstance(model, VideoMAEv2):  # its position table is a computed buffer
            model.pos_embed.copy_(sinusoid_table(*model.pos_embed.shape[1:]))
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--frames", type=int, default=None, help="frames per batch (default 64 on cuda, 8 on cpu)")
    ap.add_argument("--videos", type=int, default=None, help="cd-FVD clips per batch (default 16 on cuda, 1 on cpu)")
    ap.add_argument("--videomae", action="store_true", help="also time VideoMAE-v2 ViT-g (slow on a CPU)")
    ap.add_argument("--half", action="store_true", help="bfloat16 autocast on cuda")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    nf, nv = a.frames or (64 if gpu else 8), a.videos or (16 if gpu else 1)
    ctx = torch.autocast("cuda", torch.bfloat16) if a.half and gpu else torch.autocast("cpu", enabled=False)
    print(f"device {dev} ({torch.cuda.get_device_name() if gpu else f'{torch.get_num_threads()} threads'}), torch {torch.__version__}"
          f"{', bf16 autocast' if a.half and gpu else ''}")
    print(f"{'network':<28}{'input':<22}{'batch':>6}{'GFLOP/item':>12}{'s/batch':>9}{'items/s':>9}{'TFLOP/s':>9}")
    cases = [("DINO ViT-B/16", DinoViT(), (nf, 3, 224, 398), "frames"), ("CLIP ViT-B/32", ClipVisual(), (nf, 3, 224, 224), "frames"),
             ("CLIP ViT-L/14", ClipVisual(**CLIP_VIT_L14), (nf, 3, 224, 224), "frames"),
             ("AMT-S", AMTS(), (nf, 3, 256, 448), "frames"), ("MUSIQ (SPAQ)", MUSIQ(), (1, 3, 288, 512), "frames")]
    if a.videomae:
        with torch.device("meta"):
            cases.append(("VideoMAE-v2 ViT-g/14", VideoMAEv2(), (nv, 3, 16, 224, 224), "videos"))
    for name, model, shape, unit in cases:
        model = _random(model, dev)
        x = torch.rand(shape, device=dev)
        run = (lambda m=model, x=x: m(x, x, torch.full((len(x), 1, 1, 1), 0.5, device=dev))) if name == "AMT-S" else (lambda m=model, x=x: m(x))
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            (lambda m=model, x=x[:1]: m(x, x, torch.full((1, 1, 1, 1), 0.5, device=dev)) if name == "AMT-S" else m(x))()
        with torch.no_grad(), ctx:
            t = best_time(run, dev, a.repeat)
        flops = fc.get_total_flops()
        print(f"{name:<28}{'×'.join(map(str, shape[1:])):<22}{shape[0]:>6}{flops / 1e9:>12.1f}{t:>9.3f}{shape[0] / t:>9.1f}"
              f"{flops * shape[0] / t / 1e12:>9.2f}  {unit}")
        del model
        if gpu:
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
