"""``macedance bench``: list the benchmark tasks and methods, and run a method on a task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from macedance.cli import user_errors
from macedance.cli._ui import console, err_console, progress_bar
from macedance.errors import ValidationError

if TYPE_CHECKING:
    from macedance.benchmark.tasks import TaskMeta

app = typer.Typer(help="Run benchmark tasks and list tasks and methods.", no_args_is_help=True)


@app.command("tasks")
def bench_tasks_cmd() -> None:
    """List the benchmark tasks."""
    from macedance.benchmark.tasks import TASKS

    table = Table("task", "kind", "version", "split", "seconds", "preset", "main score", box=box.SIMPLE_HEAD)
    for t in TASKS.values():
        table.add_row(t.name, t.kind, str(t.version), t.split, "clip" if t.seconds is None else f"{t.seconds:.2f}", t.preset, t.main_score)
    console.print(table)
    for t in TASKS.values():
        if t.video:
            assert t.size is not None
            console.print(f"[green]{t.name}[/green]: {t.description}\n  {t.fps:g} fps on a {t.size[0]}×{t.size[1]} canvas; metrics "
                          f"{', '.join(t.metrics)}\n  weights: {', '.join(t.weights())} (`macedance weights list`)", highlight=False, soft_wrap=True)


@app.command("methods")
def bench_methods_cmd() -> None:
    """List the methods (built-in, folder, and plug-ins from the macedance.methods entry points)."""
    from macedance.methods.catalog import METHODS
    from macedance.methods.registry import plugin_methods

    table = Table("method", "kind", "description", box=box.SIMPLE_HEAD)
    for m in METHODS.values():
        table.add_row(m.name, m.kind, m.description)
    table.add_row("folder", "outputs", "motions generated elsewhere, one file per test clip (--outputs DIR): <clip id>.npz|.pkl|.npy|.csv "
                  "in any published layout (EDGE, MACE-Dance, POPDG, FineDance, LODGE, AIST++, FACT, SMPL-X), or EDGE's <label>_<clip id>.pkl")
    for name in plugin_methods():
        table.add_row(name, "plug-in", "entry point macedance.methods")
    table.add_row("wan-animate", "video", "Wan-Animate as released, pose-driven (madata-animation; --model DIR, a local diffusers folder)")
    table.add_row("appearance-expert", "video", "MACE-Dance's Appearance Expert: Wan-Animate + Body Adapter and/or LoRA (--adapter, --lora: "
                  "its .7z or a `train appearance` run)")
    table.add_row("<motion>+<appearance>", "video", "a cascade for madata-music2video, e.g. mace-dance-official+appearance-expert (MACE-Dance) "
                  "or edge-official+wan-animate; --ckpt is the motion method's")
    table.add_row("folder", "video", "videos generated elsewhere on a video task: <clip id>.mp4 in --outputs (--name names the row)")
    console.print(table)
    from macedance.methods.official.released import released_specs
    from macedance.methods.official.weights import METHOD_WEIGHTS
    from macedance.weights import manifest, status

    console.print("\n[bold]Released checkpoints[/bold] (--ckpt FILE, or `macedance weights import NAME FILE` once):")
    for spec in released_specs().values():
        installed = "; ".join(f"{w}, source sha256 {manifest(w)['source_sha256']}" if status(w) == "installed" else f"{w}: {status(w)}"
                              for w in METHOD_WEIGHTS.get(spec.name, ())) or "n/a"
        rows = {"paper": spec.paper, "code": f"{spec.code} (licence: {spec.code_licence})",
                "weights": f"{spec.weights_file} from {spec.weights_origin} (licence: {spec.weights_licence}; default {spec.default_weights} weights)",
                "installed": installed, "features": spec.features, "sampling": "; ".join(f"{k} {v}" for k, v in spec.sampling.items())}
        console.print(f"  [green]{spec.name}[/green]: {spec.description}", highlight=False)
        for k, v in rows.items():
            console.print(f"    {k:<10} {v}", highlight=False, soft_wrap=True)


@app.command("run")
def bench_run_cmd(
    task: Annotated[str, typer.Option(help="Task name (see `macedance bench tasks`).")],
    method: Annotated[str, typer.Option(help="Method name (see `macedance bench methods`); on a video task: wan-animate, appearance-expert, "
                                        "<motion method>+<wan-animate|appearance-expert> or folder.")],
    data: Annotated[Path, typer.Option(help="The task's dataset folder (with clips.jsonl and a test split).")],
    out: Annotated[Path, typer.Option(help="Results folder (records and cached generations).")] = Path("results"),
    music: Annotated[Optional[Path], typer.Option(help="Music per clip id (music .npz or audio), if clips have no music_path.")] = None,
    ckpt: Annotated[Optional[Path], typer.Option(help="Run folder of a built-in method, or a released method's checkpoint (default: the weights installed by `weights import`); "
                                                 "for a cascade, its motion method's.")] = None,
    outputs: Annotated[Optional[Path], typer.Option(help="With --method folder: one file per test clip generated elsewhere, <clip id>.npz|.pkl|.npy|.csv "
                                                    "(Bailando's <clip id>.pkl.npy) or EDGE's <label>_<clip id>.pkl, in any layout that `--format` names; on a video task <clip id>.mp4.")] = None,
    motion_format: Annotated[str, typer.Option("--format", help="Layout of the --outputs files: auto (detected per file), macedance, edge "
                                               "(EDGE/MACE-Dance/POPDG .pkl), finedance (FineDance/LODGE .npy), finedance-pkl, aistpp, fact, "
                                               "smplx, bailando (NAME.pkl.npy joint positions).")] = "auto",
    name: Annotated[str, typer.Option(help="With --method folder: the method's name on the board.")] = "folder",
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95 % intervals of motion tasks (0: none).")] = 200,
    metrics: Annotated[Optional[str], typer.Option(help="Video tasks: score a comma list of the task's metrics (default: all; each needs its weights).")] = None,
    model: Annotated[Optional[Path], typer.Option(help="Video tasks: local diffusers Wan-Animate folder (never downloaded).")] = None,
    adapter: Annotated[Optional[Path], typer.Option(help="appearance-expert: Body-Adapter weights (a `train appearance` run, .safetensors or MACE-Dance's .7z).")] = None,
    lora: Annotated[Optional[Path], typer.Option(help="appearance-expert: LoRA (an aesthetic-stage run, .safetensors or MACE-Dance's .7z).")] = None,
    lora_alpha: Annotated[float, typer.Option(help="Strength the LoRA is merged at (MACE-Dance: 0.5).")] = 0.5,
    width: Annotated[Optional[int], typer.Option(help="Video tasks: generation width (multiple of 16; default: the task's canvas).")] = None,
    height: Annotated[Optional[int], typer.Option(help="Video tasks: generation height (multiple of 16, the canvas's aspect ratio).")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Video tasks: denoising steps per segment.")] = 20,
    segment_frames: Annotated[int, typer.Option(help="Video tasks: frames per relay segment (4n + 1; 77 = Wan-Animate's 81-frame window).")] = 77,
    offload: Annotated[str, typer.Option(help="Video tasks: none, model or sequential CPU offload.")] = "none",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Generate the task's test clips (cached, resumable), score them, write a versioned result record."""
    from macedance.benchmark.tasks import get_task
    from macedance.leaderboard.build import build_boards
    from macedance.leaderboard.render import terminal_table

    with user_errors():
        t = get_task(task)
        if motion_format != "auto" and not (method == "folder" and not t.video):
            raise ValidationError("motion_format", "auto unless --method folder on a motion task (it names the layout of --outputs files)", motion_format)
        if t.video:
            record, path = _run_video(t, method, data=data, out=out, music=music, ckpt=ckpt, outputs=outputs, name=name, metrics=metrics,
                                      model=model, adapter=adapter, lora=lora, lora_alpha=lora_alpha, width=width, height=height, steps=steps,
                                      segment_frames=segment_frames, offload=offload, device=device)
        else:
            if metrics is not None:
                raise ValidationError("metrics", "nothing on a motion task (it scores all of its metrics)", metrics)
            record, path = _run_motion(t, method, data=data, out=out, music=music, ckpt=ckpt, outputs=outputs, name=name,
                                       motion_format=motion_format, bootstrap=bootstrap, device=device)
    console.print(terminal_table(build_boards([record])[0]))
    console.print(f"record → {path}")
    for s in record["dataset"]["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s.get('clip', s.get('file', s.get('video')))}: {s['reason']}", highlight=False)
    for f in record["dataset"].get("extra_outputs", []):
        err_console.print(f"[yellow]not used[/yellow] {f}: no {t.split} clip has this name", highlight=False)


def _run_motion(t: TaskMeta, method: str, *, data: Path, out: Path, music: Path | None, ckpt: Path | None, outputs: Path | None, name: str,
                motion_format: str, bootstrap: int, device: str) -> tuple[dict[str, Any], Path]:
    from macedance.benchmark.runner import run_benchmark
    from macedance.methods.registry import FolderMethod, load_method

    if method == "folder" and outputs is not None:
        m = FolderMethod(outputs, name, motion_format=motion_format)
    else:
        m = load_method(method, ckpt=ckpt, outputs=outputs, device=device)
    with progress_bar(f"{t.name} · {m.meta.name}") as progress:
        return run_benchmark(t, m, data=data, out=out, music=music, bootstrap=bootstrap, device=device, progress=progress)


def _run_video(t: TaskMeta, method: str, *, data: Path, out: Path, music: Path | None, ckpt: Path | None, outputs: Path | None, name: str,
               metrics: str | None, model: Path | None, adapter: Path | None, lora: Path | None, lora_alpha: float, width: int | None,
               height: int | None, steps: int, segment_frames: int, offload: str, device: str) -> tuple[dict[str, Any], Path]:
    from macedance.appearance.pipeline import AnimateConfig
    from macedance.benchmark.video_runner import run_video_benchmark
    from macedance.methods.video import load_video_method

    chosen = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics is not None else None
    t.check_weights(t.check_metrics(chosen))  # before a model is hashed or loaded
    assert t.size is not None
    cfg = AnimateConfig(width=width or t.size[0], height=height or t.size[1], steps=steps, segment_frames=segment_frames)
    m = load_video_method(method, model=model, adapter=adapter, lora=lora, lora_alpha=lora_alpha, cfg=cfg, ckpt=ckpt, outputs=outputs,
                          motion_outputs=outputs, device=device, offload=offload, folder_name=name)
    with progress_bar(f"{t.name} · {m.meta.name}") as progress:
        return run_video_benchmark(t, m, data=data, out=out, music=music, metrics=chosen, device=device, progress=progress)
