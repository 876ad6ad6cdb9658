"""``macedance data``: import, build, render, self-check and inspect dance datasets; music and Jukebox features."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from macedance import __version__
from macedance.cli import user_errors
from macedance.cli._ui import (
    body_model,
    body_skeleton,
    build_summary_table,
    console,
    err_console,
    motion_stats_table,
    print_import_report,
    progress_bar,
    stage_progress_bars,
)
from macedance.errors import MaceDanceError

app = typer.Typer(help="Import, build and inspect dance datasets.", no_args_is_help=True)
import_app = typer.Typer(help="Import a public dance dataset into macedance's motion format.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _run_import(label: str, fn: Any, src: Path, out: Path, **kw: Any) -> None:
    with user_errors(), progress_bar(label) as progress:
        report = fn(src, out, progress=progress, **kw)
    print_import_report(report)


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


def _key_values(option: str, items: list[str]) -> dict[str, Any]:
    """``["k=v", …]`` → ``{k: json(v) or v}``."""
    import json

    from macedance.errors import ValidationError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(option, "KEY=VALUE", repr(item))
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


@app.command("build")
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
    preview: Annotated[bool, typer.Option(help="Also write previews/<clip>.mp4 (source frames beside the fitted body from the estimated camera) and a contact sheet in the card.")] = False,
    videos: Annotated[bool, typer.Option(help="Write each clip's frames with its audio as videos/<clip>.mp4 (Appearance Expert training).")] = True,
    shot_detector: Annotated[str, typer.Option(help="Cut detector: transnet (TransNet V2, the paper's; needs `macedance weights fetch transnetv2`) or histogram (fast, no weights, misses reframing cuts).")] = "transnet",
    fitter: Annotated[str, typer.Option(help="Fit stage: smplify (built-in, CPU) or an installed plug-in of the macedance.fitters entry-point group.")] = "smplify",
    fit_option: Annotated[Optional[list[str]], typer.Option(help="KEY=VALUE option of the fitter (repeatable; VALUE read as JSON, else text), e.g. physics_iterations=0.")] = None,
    check_plausibility: Annotated[bool, typer.Option(help="Reject clips whose physical diagnostics exceed the mocap-derived limits (docs/data-build.md).")] = True,
    sources: Annotated[Optional[Path], typer.Option(help="CSV of the source videos' provenance: video, url, creator, licence, consent (one row per video; into the manifest, clips.jsonl and the card).")] = None,
    dedupe: Annotated[str, typer.Option(help="Near-duplicate clips across source videos (re-uploads, mirrored or re-encoded copies): drop (reject them) or keep (keep and mark them); their sources always share a split.")] = "drop",
    executor: Annotated[str, typer.Option(help="local (this machine; --workers processes) or ray (one Ray task per video).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance.")] = None,
    task_cpus: Annotated[int, typer.Option(min=1, help="Ray: CPUs requested per video task (its pose and fit threads).")] = 2,
    task_gpus: Annotated[float, typer.Option(min=0.0, help="Ray: GPUs requested per video task.")] = 0.0,
) -> None:
    """Build a dataset from raw dance videos: shots, static and single-performer filters, 2D pose, SMPL fit,
    music, 5–10 s clips, manifest.parquet, leak-free splits and a dataset card ([italic]docs/data-build.md[/italic])."""
    from macedance.datasets.curation.dedupe import DEDUPE_MODES
    from macedance.datasets.from_video import BuildParams, build_dataset
    from macedance.datasets.from_video.shots import SHOT_DETECTORS, ShotParams
    from macedance.schema._check import choice

    with user_errors():
        model = body_model(smpl_model)
        params = BuildParams(min_clip=min_clip, max_clip=max_clip, seed=seed, fps=fps, pose_backend=pose_backend,
                             pose_weights=str(pose_weights) if pose_weights else None,
                             smpl_model=str(model) if model else None, allow_silent=allow_silent, preview=preview,
                             videos=videos, fitter=fitter, fit=_key_values("--fit-option", fit_option or []),
                             shots=ShotParams(detector=choice("--shot-detector", shot_detector, SHOT_DETECTORS)),
                             dedupe=choice("--dedupe", dedupe, DEDUPE_MODES),
                             **({} if check_plausibility else {"plausibility": {}}))
        command = _command_line("build", raw_dir, out)
        with progress_bar("build", "source frames/s", passes=2) as progress:  # two passes per source frame
            report = build_dataset(raw_dir, out, params=params, workers=workers, resume=resume, overwrite=overwrite, progress=progress, command=command,
                                   executor=executor, address=address, task_cpus=task_cpus, task_gpus=task_gpus, sources=sources)
    console.print(build_summary_table(report))


@app.command("export")
def export_cmd(
    dataset: Annotated[Path, typer.Argument(help="A dataset folder made by `data build` or `data render`.")],
    out: Annotated[Path, typer.Argument(help="Output folder (written as OUT.partial, renamed when complete).")],
    format: Annotated[str, typer.Option("--format", help="hf (Hugging Face datasets, `datasets.load_from_disk`) or webdataset (tar shards).")] = "hf",
    licence_filter: Annotated[Optional[list[str]], typer.Option("--licence-filter", help="Keep only clips whose source licence (from `data build --sources`) is this one (repeatable; comma-separated lists too).")] = None,
    blur_faces: Annotated[bool, typer.Option(help="Blur faces in the exported videos, reference frames and previews (CenterFace; `macedance weights fetch centerface`). The dataset itself is not touched.")] = False,
    shard_size: Annotated[float, typer.Option(min=1.0, help="webdataset: largest shard, MB.")] = 1000.0,
    name: Annotated[Optional[str], typer.Option(help="Dataset name in the card and the Croissant record (default: the folder's name).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUT.")] = False,
) -> None:
    """Export a dataset for publishing or for other people's training code: typed Hugging Face dataset or WebDataset
    shards, with the card, clips.parquet and a validated Croissant record ([italic]docs/data-export.md[/italic])."""
    from macedance.datasets.publish.export import export_dataset

    licences = [x for item in licence_filter or [] for x in item.split(",") if x.strip()]
    with user_errors(), progress_bar(f"export {format}") as progress:
        report = export_dataset(dataset, out, format=format, licences=licences or None, blur_faces=blur_faces,  # type: ignore[arg-type]
                                shard_bytes=int(shard_size * 1e6), name=name, overwrite=overwrite,
                                command=_command_line("export", dataset, out), progress=progress)
    t = Table(title=f"Export ({report.format}) → {out}", title_justify="left", box=box.SIMPLE_HEAVY)
    t.add_column("")
    t.add_column("clips", justify="right")
    for split, n in report.splits.items():
        t.add_row(f"split {split}", str(n))
    for lic, n in sorted(report.licences.items()):
        t.add_row(f"licence {lic}", str(n))
    for lic, n in sorted(report.left_out.items()):
        t.add_row(f"[yellow]left out[/yellow] (licence {lic})", str(n))
    console.print(t)
    if report.blur_faces:
        console.print(f"faces blurred: {report.blurred.get('frames_with_faces', 0)} video frames, "
                      f"{report.blurred.get('stills_with_faces', 0)} stills")
    console.print(f"Croissant record valid ({report.croissant_records} clips): {out / 'croissant.json'}", highlight=False)


@app.command("render")
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
        model = body_model(smpl_model)
        params = RenderParams(size=_size(size), fps=fps, character=character, smpl_model=str(model) if model else None, seed=seed,
                              min_clip=min_clip, max_clip=max_clip, background=background, allow_silent=allow_silent, device=device,
                              batch=8 if device.startswith("cuda") else 1)
        command = _command_line("render", motion_dir, out)
        with progress_bar("render", "frames/s") as progress:
            report = render_dataset(motion_dir, out, params=params, music_dir=music_dir, workers=workers, resume=resume, overwrite=overwrite, progress=progress,
                                    command=command, executor=executor, address=address, task_cpus=task_cpus, task_gpus=task_gpus)
    console.print(build_summary_table(report, "motions, clips"))


@app.command("selfcheck")
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
    from macedance.datasets.from_video.shots import ShotParams
    from macedance.datasets.selfcheck import SelfCheckParams, run_selfcheck

    with user_errors():
        model = body_model(smpl_model)
        sm = str(model) if model else None
        params = SelfCheckParams(sequences=sequences, seconds=seconds, seed=seed,
                                 render=RenderParams(size=_size(size), character=character, smpl_model=sm, seed=seed, min_clip=min_clip,
                                                     max_clip=max_clip, background=background),
                                 build=BuildParams(min_clip=min_clip, max_clip=max_clip, seed=seed, smpl_model=sm,
                                                   shots=ShotParams(detector="histogram")))  # rendered clips have no cuts
        with stage_progress_bars("frames/s") as progress:
            report = run_selfcheck(out, params=params, motions=motion_dir, music=music_dir, workers=workers, progress=progress)
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


@app.command("music")
def music_cmd(
    src: Annotated[Path, typer.Argument(help="An audio/video file or a folder of them (wav, flac, mp3, m4a, aac, mp4, mkv, webm …).")],
    out: Annotated[Path, typer.Argument(help="Output folder: one <stem>.npz per track (features, beats, tempo).")],
    preset: Annotated[str, typer.Option(help="Music preset: clean, fact, edge, lodge, bailando, mace-video2d.")] = "clean",
    fps: Annotated[Optional[float], typer.Option(help="Feature frame rate for the clean preset (30 or 60 to match motion).")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse and store results in the content-hash cache.")] = True,
) -> None:
    """Extract music features, beats and tempo, frame-aligned with motion at the preset's fps."""
    from macedance.music.analysis import analyze_files, media_files, preset_at_fps
    from macedance.music.presets import get_music_preset

    with user_errors():
        p = preset_at_fps(get_music_preset(preset), fps)
        files = media_files(src)
        with progress_bar(f"music {p.name}") as progress:
            rows, bad = analyze_files(files, out, preset=p, use_cache=cache, progress=progress)
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


@app.command("jukebox")
def jukebox_cmd(
    src: Annotated[Path, typer.Argument(help="An audio/video file or a folder of them.")],
    out: Annotated[Path, typer.Argument(help="Output folder: <stem>/<stem>_slice<i>.npy, (150, 4800) each (EDGE's feature cache).")],
    device: Annotated[str, typer.Option(help="cpu or cuda (the 5B prior wants a GPU: ~1 min per 5-s window on 2 CPU cores).")] = "cpu",
) -> None:
    """Jukebox features for EDGE's released checkpoint: 5-s windows every 2.5 s, jukemirlib layer 66 at 30 fps."""
    from macedance.methods.official.edge import write_feature_cache
    from macedance.music.analysis import media_files

    with user_errors():
        files = media_files(src)
        with progress_bar("jukebox features") as progress:
            done, bad = write_feature_cache(files, out, device=device, progress=progress)
    for stem, n in done:
        console.print(f"{stem}: {n} windows → {out / stem}", highlight=False)
    console.print(f"[green]{len(done)} written[/green] to {out}" + (f", [red]{len(bad)} failed[/red]" if bad else ""))
    for f, reason in bad:
        err_console.print(f"[yellow]failed[/yellow] {f}: {reason}", highlight=False)
    if not done and bad:
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


@app.command("info")
def info_cmd(
    path: Annotated[Path, typer.Argument(help="A dataset folder made by `data build` / `data render`, a motion .npz, or a folder of them (an imported dataset).")],
    smpl_model: Annotated[Optional[Path], typer.Option(help="Use your SMPL model (file or folder) for FK instead of the built-in skeleton; default: $MACEDANCE_SMPL_DIR.")] = None,
    gender: Annotated[str, typer.Option(help="SMPL model gender with --smpl-model.")] = "neutral",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the statistics as JSON.")] = None,
    plots: Annotated[Optional[Path], typer.Option(help="A dataset folder: write the PNG plots here (default: DATASET/stats, as the card links them).")] = None,
) -> None:
    """Print statistics: of a dataset (clips per split and genre; tempo, duration and motion energy, with PNG
    histograms), or of motion files (duration, travel, joint speeds, foot contacts, height)."""
    from macedance.fileio import write_json

    if (path / "manifest.parquet").is_file() and (path / "clips.jsonl").is_file():
        with user_errors():
            _dataset_info(path, plots or path / "stats", json_out)
        return
    from macedance.schema import load_motion
    from macedance.schema.stats import motion_statistics

    rows: list[tuple[str, dict[str, Any]]] = []
    bad: list[tuple[str, str]] = []
    with user_errors():
        files = _motion_files(path)
        skel = body_skeleton(body_model(smpl_model, gender), gender)
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


def _dataset_info(root: Path, plots: Path, json_out: Path | None) -> None:
    """``data info DATASET``: split × genre counts, the summary of tempo, duration and motion energy, the plots."""
    from collections import Counter

    from macedance.datasets.curation.plots import dataset_stats, summary_rows, write_plots
    from macedance.fileio import write_json
    from macedance.schema import SPLITS

    stats = dataset_stats(root)
    splits = [s for s in (*SPLITS, None) if any(c.split == s for c in stats)]
    counts = Counter((c.genre or "unknown", c.split) for c in stats)
    t = Table(title=f"{root}: {len(stats)} clips, {sum(c.duration for c in stats) / 60:.1f} min", title_justify="left", box=box.SIMPLE_HEAVY)
    t.add_column("genre")
    for s in splits:
        t.add_column(s or "no split", justify="right")
    t.add_column("all", justify="right")
    for g in sorted({c.genre or "unknown" for c in stats}):
        t.add_row(g, *[str(counts[(g, s)]) for s in splits], str(sum(counts[(g, s)] for s in splits)))
    t.add_row("[bold]all[/bold]", *[str(sum(1 for c in stats if c.split == s)) for s in splits], str(len(stats)))
    console.print(t)
    q = Table(box=box.SIMPLE_HEAD)
    for col, just in (("quantity", "left"), ("clips", "right"), ("min", "right"), ("median", "right"), ("max", "right")):
        q.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in summary_rows(stats):
        q.add_row(*row)
    console.print(q)
    written = write_plots(plots, stats)
    console.print(f"plots: {', '.join(p.name for p in written)} in {plots}", highlight=False)
    if json_out:
        write_json(json_out, {"clips": [c.__dict__ for c in stats], "macedance_version": __version__})
