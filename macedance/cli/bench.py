"""``macedance bench``: list the benchmark tasks and methods, and run a method on a task."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from macedance.cli import user_errors
from macedance.cli._ui import console, err_console, progress_bar
from macedance.errors import ValidationError

app = typer.Typer(help="Run benchmark tasks and list tasks and methods.", no_args_is_help=True)


@app.command("tasks")
def bench_tasks_cmd() -> None:
    """List the benchmark tasks."""
    from macedance.benchmark.tasks import TASKS

    table = Table("task", "version", "split", "seconds", "preset", "main score", box=box.SIMPLE_HEAD)
    for t in TASKS.values():
        table.add_row(t.name, str(t.version), t.split, "clip" if t.seconds is None else f"{t.seconds:.2f}", t.preset, t.main_score)
    console.print(table)


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
    console.print(table)
    from macedance.methods.official.released import released_specs
    from macedance.methods.official.weights import METHOD_WEIGHTS
    from macedance.weights import manifest, status

    console.print("\n[bold]Released checkpoints[/bold] (--ckpt FILE, or `macedance weights import NAME FILE` once):")
    for spec in released_specs().values():
        wname = METHOD_WEIGHTS.get(spec.name, "")
        state = status(wname) if wname else "n/a"
        installed = f"{wname}, source sha256 {manifest(wname)['source_sha256']}" if state == "installed" else f"{wname}: {state}"
        rows = {"paper": spec.paper, "code": f"{spec.code} (licence: {spec.code_licence})",
                "weights": f"{spec.weights_file} from {spec.weights_origin} (licence: {spec.weights_licence}; default {spec.default_weights} weights)",
                "installed": installed, "features": spec.features, "sampling": "; ".join(f"{k} {v}" for k, v in spec.sampling.items())}
        console.print(f"  [green]{spec.name}[/green]: {spec.description}", highlight=False)
        for k, v in rows.items():
            console.print(f"    {k:<10} {v}", highlight=False, soft_wrap=True)


@app.command("run")
def bench_run_cmd(
    task: Annotated[str, typer.Option(help="Task name (see `macedance bench tasks`).")],
    method: Annotated[str, typer.Option(help="Method name (see `macedance bench methods`).")],
    data: Annotated[Path, typer.Option(help="The task's dataset folder (with clips.jsonl and a test split).")],
    out: Annotated[Path, typer.Option(help="Results folder (records and cached generations).")] = Path("results"),
    music: Annotated[Optional[Path], typer.Option(help="Music per clip id (music .npz or audio), if clips have no music_path.")] = None,
    ckpt: Annotated[Optional[Path], typer.Option(help="Run folder of a built-in method, or a released method's checkpoint (default: the weights installed by `weights import`).")] = None,
    outputs: Annotated[Optional[Path], typer.Option(help="With --method folder: one file per test clip generated elsewhere, <clip id>.npz|.pkl|.npy|.csv "
                                                    "or EDGE's <label>_<clip id>.pkl, in any layout that `--format` names.")] = None,
    motion_format: Annotated[str, typer.Option("--format", help="Layout of the --outputs files: auto (detected per file), macedance, edge "
                                               "(EDGE/MACE-Dance/POPDG .pkl), finedance (FineDance/LODGE .npy), finedance-pkl, aistpp, fact, "
                                               "smplx.")] = "auto",
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95 % intervals (0: none).")] = 200,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Generate the task's test clips (cached, resumable), score them, write a versioned result record."""
    from macedance.benchmark.runner import run_benchmark
    from macedance.benchmark.tasks import get_task
    from macedance.leaderboard.build import build_boards
    from macedance.leaderboard.render import terminal_table
    from macedance.methods.registry import load_method

    with user_errors():
        t = get_task(task)
        if method == "folder" and outputs is not None:
            from macedance.methods.registry import FolderMethod

            m = FolderMethod(outputs, motion_format=motion_format)
        else:
            if motion_format != "auto":
                raise ValidationError("motion_format", "auto unless --method folder (it names the layout of --outputs files)", motion_format)
            m = load_method(method, ckpt=ckpt, outputs=outputs, device=device)
        with progress_bar(f"{t.name} · {method}") as progress:
            record, path = run_benchmark(t, m, data=data, out=out, music=music, bootstrap=bootstrap, device=device, progress=progress)
    console.print(terminal_table(build_boards([record])[0]))
    console.print(f"record → {path}")
    for s in record["dataset"]["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s.get('clip', s.get('file'))}: {s['reason']}", highlight=False)
