"""``macedance train``: the Motion Expert and the other music-to-motion methods, and the Appearance Expert."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from macedance.cli import user_errors
from macedance.cli._ui import console, err_console, progress_bar

app = typer.Typer(help="Train music-to-dance methods.", no_args_is_help=True)


def _main_process() -> bool:
    """False in the non-zero ranks of an `accelerate launch` / `torchrun` job (they print nothing)."""
    return os.environ.get("RANK", "0") == "0"


@app.command("motion")
def train_motion_cmd(
    data: Annotated[Path, typer.Option(help="Dataset folder: motion .npz files (an imported dataset or any folder).")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoint.pt, loss.csv, loss.png, config.json).")],
    music: Annotated[Optional[Path], typer.Option(help="Music per motion stem: music .npz (30 fps) or audio files.")] = None,
    method: Annotated[str, typer.Option(help="mace-dance, edge (the released module trees), mace-dance-v0, ablation-transformer, ablation-mamba, ablation-cfg, retrieval, random-clip, mean-pose.")] = "mace-dance",
    config: Annotated[Optional[Path], typer.Option(help="JSON with 'expert', 'diffusion' and 'train' overrides.")] = None,
    steps: Annotated[Optional[int], typer.Option(min=1, help="Training steps (overrides the config).")] = None,
    tiny: Annotated[bool, typer.Option(help="Tiny network sizes (tests, demos, CPU).")] = False,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    grad_accum: Annotated[Optional[int], typer.Option(min=1, help="Gradient-accumulation micro-steps per optimiser step (overrides the config).")] = None,
) -> None:
    """Train a music-to-motion method; resumable; loss curves as CSV and PNG. Under `accelerate launch`
    or `torchrun` it trains data-parallel (the batch is the global batch of one step)."""
    from macedance.methods.catalog import get_method
    from macedance.training.motion import motion_configs, read_train_config, train_motion

    with user_errors():
        info = get_method(method)
        if info.kind == "reference":
            from macedance.methods.reference import build_reference

            summary = build_reference(method, data, out, music_dir=music)
            console.print(f"[green]{method}[/green]: indexed {summary['sequences']} sequences → {out}")
            return
        expert, diffusion, train = motion_configs(method, overrides=read_train_config(config), tiny=tiny, train={
            **({"steps": steps} if steps else {}), **({"grad_accum": grad_accum} if grad_accum else {}), "device": device})
        with progress_bar(f"train {method}") as progress:
            summary = train_motion(data, out, expert=expert, diffusion_cfg=diffusion, train=train, music_dir=music, resume=resume,
                                   progress=lambda s, n, loss: progress(s, n, f"loss {loss:.4f}"), method=method)
    if summary.get("processes", 1) > 1 and not _main_process():
        return
    console.print(f"[green]{method}[/green]: {summary['step']} steps on {summary['sequences']} sequences "
                  f"({summary['windows']} windows) in {summary['seconds']:.1f} s; last loss "
                  f"{summary['last_loss'].get('loss', float('nan')):.4f} → {out}")
    for s in summary["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['file']}: {s['reason']}", highlight=False)


@app.command("appearance")
def train_appearance_cmd(
    stage: Annotated[str, typer.Option(help="kinematic (Body Adapter only) or aesthetic (LoRA rank 32, adapter frozen).")],
    data: Annotated[Path, typer.Option(help="Dataset folder from `macedance data build` (needs videos/<clip>.mp4).")],
    model: Annotated[Path, typer.Option(help="Local diffusers Wan-Animate folder.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoint.pt, adapter/LoRA .safetensors, loss.csv, loss.png, config.json).")],
    init: Annotated[Optional[Path], typer.Option(help="aesthetic: the kinematic run (or adapter .safetensors) to start from.")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Training steps.")] = 50_000,
    lr: Annotated[float, typer.Option(help="Learning rate (0 = the paper's: 1e-5 kinematic, 5e-5 aesthetic).")] = 0.0,
    batch: Annotated[int, typer.Option(min=1, help="Clips per optimiser step, over all processes and micro-steps.")] = 1,
    grad_accum: Annotated[int, typer.Option(min=1, help="Gradient-accumulation micro-steps per optimiser step.")] = 1,
    width: Annotated[int, typer.Option(help="Training width (multiple of 16).")] = 720,
    height: Annotated[int, typer.Option(help="Training height (multiple of 16).")] = 1280,
    frames: Annotated[int, typer.Option(help="Frames per sample (4n + 1).")] = 77,
    fps: Annotated[float, typer.Option(help="Frame rate the clips are sampled at.")] = 16.0,
    rank: Annotated[int, typer.Option(min=1, help="LoRA rank (aesthetic).")] = 32,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 500,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Recompute activations in the backward pass (less memory).")] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="cpu or cuda (bf16 model, float32 trainable weights on cuda).")] = "cpu",
    offload: Annotated[str, typer.Option(help="none, model or sequential CPU offload of the frozen components.")] = "none",
) -> None:
    """Fine-tune the Appearance Expert (Wan-Animate): kinematic stage, then aesthetic stage; resumable."""
    from macedance.training.appearance import AppearanceTrainConfig, train_appearance

    with user_errors():
        cfg = AppearanceTrainConfig(stage=stage, steps=steps, lr=lr, batch=batch, width=width, height=height, frames=frames, fps=fps,
                                    rank=rank, checkpoint_every=checkpoint_every, gradient_checkpointing=gradient_checkpointing,
                                    seed=seed, device=device, grad_accum=grad_accum)
        cfg.check()
        with progress_bar(f"train appearance ({stage})") as progress:
            summary = train_appearance(data, model, out, cfg=cfg, init=init, resume=resume, progress=lambda s, n, loss: progress(s, n, f"loss {loss:.4f}"),
                                       offload=offload)
    if summary.get("processes", 1) > 1 and not _main_process():
        return
    console.print(f"[green]{stage}[/green]: {summary['step']} steps on {summary['clips']} clips, {summary['trainable_parameters']:,} "
                  f"trainable parameters, {summary['seconds']:.1f} s; last loss {summary['last_loss']:.4f} → {out}")
    for s in summary["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['clip']}: {s['reason']}", highlight=False)
