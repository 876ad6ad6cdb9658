#!/usr/bin/env bash
# GPU checks for a session that is lent a device (run through the device tool, one call):
#   pip install --no-deps -e . (the machine's torch 2.11 satisfies torch>=2.11), then one real-size
#   Appearance-Expert window (issue 24: 17.27 B transformer + VAE, random bf16 weights), the Motion Expert benchmark on CUDA with the full DDIM loop, the FVD (I3D) throughput benchmark at
#   batch 32 (fp32 and bf16), the VBench / cd-FVD feature networks (DINO ViT-B/16, CLIP ViT-B/32, AMT-S,
#   VideoMAE-v2 ViT-g/14 at full size; fp32 and bf16), the Appearance Expert on the tiny Wan-Animate pipeline
#   in bf16 (animate + one training step per stage; needs diffusers, transformers, peft, accelerate, safetensors,
#   ftfy), the 3D renderer of `data render` at 720×1280 (batch 8 and 32), the released MACE-Dance Motion Expert and EDGE
#   ports (1024 frames, 50 steps, batch 1: eager vs CUDA graph in fp32 and bf16, the selective-scan breakdown, then
#   torch.compile + CUDA graph for MACE under a 240-s limit), EDGE's Jukebox features (full-size VQ-VAE + 66 blocks
#   of the 5B prior, random fp16 weights, one 5-s slice), the video benchmark (madata-animation, tiny Wan-Animate
#   on CUDA), then the GPU-marked tests.
# Prints a short table; copy the numbers with the card's name into benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-deps -e . >/dev/null
python3 - <<'PY'
import importlib, sys
missing = [m for m in ("typer", "rich", "smplx", "librosa", "soundfile", "soxr", "av", "scipy", "matplotlib", "diffusers", "transformers",
                        "peft", "accelerate", "safetensors", "ftfy") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing on the device machine (carry their wheels): {missing}")
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# issue 24: one official Appearance-Expert window at the real size (17.27 B transformer + VAE, random bf16 weights made on
# the card, 77 control frames at 720×1280, 512×512 faces): seconds per transformer pass and VAE call, peak memory
timeout 300 python3 -u benchmarks/bench_appearance.py --full-size --measure --device cuda --time-steps 2 \
  || echo "bench_appearance --full-size --measure: stopped (300-s limit or error)"
python3 benchmarks/bench_motion_expert.py --device cuda --full-sampling --lengths 256,512,1024,2048,4096
python3 benchmarks/bench_fvd.py --device cuda --batch 32
python3 benchmarks/bench_fvd.py --device cuda --batch 32 --half
python3 benchmarks/bench_vbench.py --device cuda --videomae
python3 benchmarks/bench_vbench.py --device cuda --videomae --half
python3 benchmarks/bench_appearance.py --device cuda
python3 benchmarks/bench_render.py --device cuda --batch 8 --seconds 10
python3 benchmarks/bench_render.py --device cuda --batch 32 --seconds 10
python3 -u benchmarks/bench_official_methods.py --device cuda --methods mace,edge,bailando,bailandopp,fact,lodge --variants eager,cuda-graph --breakdown
python3 -u benchmarks/bench_official_methods.py --device cuda --methods mace --variants eager,cuda-graph --dtype bf16
timeout 240 python3 -u benchmarks/bench_official_methods.py --device cuda --methods mace --variants eager,compile:default+cuda-graph \
  || echo "bench_official_methods: torch.compile run stopped (240 s limit or error)"
python3 -u benchmarks/bench_jukebox.py --device cuda --repeat 2
python3 - <<'PY'
# the video benchmark on CUDA: madata-animation with the tiny Wan-Animate pipeline (bf16) on two generated clips
import tempfile, time
from pathlib import Path
from macedance.appearance.pipeline import AnimateConfig
from macedance.appearance.tiny import write_tiny_pipeline
from macedance.benchmark.tasks import get_task
from macedance.benchmark.video_runner import run_video_benchmark
from macedance.datasets.synthetic_video import write_appearance_dataset
from macedance.methods.video import load_video_method
root = Path(tempfile.mkdtemp())
data = write_appearance_dataset(root / "data", seconds=2.0, fps=10.0, size=(144, 256), test=2)
method = load_video_method("wan-animate", model=write_tiny_pipeline(root / "tiny"), cfg=AnimateConfig(width=144, height=256, steps=2),
                           device="cuda")
t0 = time.perf_counter()
rec, _ = run_video_benchmark(get_task("madata-animation"), method, data=data, out=root / "res", metrics=("ssim", "psnr", "l1"), device="cuda")
print(f"video bench madata-animation (tiny wan-animate, cuda): {time.perf_counter() - t0:.1f} s,",
      {k: round(v["value"], 4) for k, v in rec["scores"].items()}, rec["provenance"]["hardware"])
PY
python3 -m pytest -q -m gpu tests || true
