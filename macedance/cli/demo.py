"""``macedance demo``: the embedded end-to-end job (the pipeline is ``macedance.demo.run_demo``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from macedance.cli import user_errors
from macedance.cli._ui import build_summary_table, console, motion_stats_table, print_import_report, progress_bar


def demo_cmd(
    out: Annotated[Path, typer.Option(help="Working folder for the demo's files.")] = Path("demo-output"),
    sequences: Annotated[int, typer.Option(min=6, max=100, help="Generated dance sequences (a third form the test split).")] = 12,
    steps: Annotated[int, typer.Option(min=1, help="Training steps of each tiny diffusion method.")] = 150,
    seed: Annotated[int, typer.Option(help="Random seed of the generated data.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Start over: delete the demo's earlier files in --out first.")] = False,
    video: Annotated[bool, typer.Option(help="Also the video boards (a tiny random Wan-Animate pipeline: a few minutes on a CPU).")] = True,
) -> None:
    """The embedded end-to-end job: import → render → dataset build → training → benchmark → leaderboard.

    1. generates dances in the exact AIST++ file format (procedural, one tempo each) with official-style
       split files, a drum track per dance, and one truncated file (rejected with its reason); imports them (30 fps);
    2. renders them with their music (`data render`, capsule character, 180×320): the embedded default
       dataset, an MA-Data-style 3D-rendered subset (videos, exact motion, music features, official splits);
    3. builds a dataset (`data build`) from raw videos: two of the rendered clips, a generated static shot,
       a two-dancer shot and a silent video (every filter shows up): shots, filters, pose, SMPL fit, clips;
    4. trains tiny MACE-Dance, EDGE-style and unidirectional-Mamba models on the rendered subset for a few
       seconds each and indexes the reference methods (retrieval, random clip, mean pose);
    5. runs the madata-motion task on the rendered subset for every method (FID_k/g, Div, BAS, PFC, FSR with
       bootstrap intervals);
    6. runs the video tasks on it (not with --no-video): madata-animation with a tiny random Wan-Animate pipeline and a
       folder of still videos, madata-music2video with two trained motion methods cascaded into the tiny pipeline,
       scored with metrics that need no weights; and builds the leaderboard: terminal table, Markdown, CSV and an HTML
       page with sample clips of every method.

    Re-runnable: a second run reuses every finished stage (resumed renders and builds, trained models, cached
    generations) and prints the same board; a run after an interrupted one finishes the job. Changing
    --sequences or --seed starts over, changing --steps retrains; --fresh starts over.
    """
    from macedance.demo import run_demo
    from macedance.leaderboard.render import terminal_table

    t0 = time.perf_counter()
    with user_errors():
        result = run_demo(out, sequences=sequences, steps=steps, seed=seed, fresh=fresh, video=video, bar=progress_bar,
                          frames_bar=lambda label: progress_bar(label, "frames/s"),
                          on_clear=lambda note: console.print(f"[yellow]demo: starting over for {note}[/yellow]"))
    console.print("[bold]Imported[/bold]: ", end="")
    print_import_report(result.imported)
    console.print(build_summary_table(result.rendered, "motions, clips"))
    console.print(build_summary_table(result.built))
    console.print(motion_stats_table(result.stats, f"First {len(result.stats)} imported dances (30 fps, built-in SMPL skeleton)"))
    for method, s in result.trained:
        what = f"{s['steps_trained']} steps in {s['seconds']:.1f} s" if s["steps_trained"] else "already trained"
        console.print(f"trained [bold]{method}[/bold]: {s['step']} steps ({what}; {s['train_seconds']:.1f} s in all), "
                      f"last loss {s['last_loss']['loss']:.3f}")
    for b in result.boards:
        console.print(terminal_table(b))
    files = result.site
    console.print(f"Leaderboard page → {files['html']}  (Markdown: {files['markdown']}); total {time.perf_counter() - t0:.0f} s")
