"""The embedded end-to-end job of ``macedance demo``: import → render → dataset build → training → benchmark →
leaderboard, in one working folder.

Re-runnable: a second run reuses every finished stage (resumed renders and builds, trained models, cached
generations) and gives the same board; a run after an interrupted one finishes the job. The options of the last
run are kept in ``demo.json``: changing ``sequences`` or ``seed`` starts over, changing ``steps`` retrains, and
``fresh`` starts over (see ``prepare_demo_folder``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from macedance.appearance.pipeline import AnimateConfig
from macedance.benchmark.runner import run_benchmark
from macedance.benchmark.tasks import get_task
from macedance.benchmark.video_runner import run_video_benchmark
from macedance.datasets import ImportReport, import_aistpp
from macedance.datasets.from_motion import RenderParams, render_dataset
from macedance.datasets.from_video import BuildParams, BuildReport, build_dataset
from macedance.datasets.from_video.shots import ShotParams
from macedance.datasets.importers.aistpp import GENRES
from macedance.datasets.synthetic import synthetic_motion, write_aistpp_pkl
from macedance.datasets.synthetic_video import ShotSpec, write_dance_video
from macedance.fileio import write_json
from macedance.leaderboard.build import Board, build_boards
from macedance.leaderboard.render import write_site
from macedance.methods.reference import build_reference
from macedance.methods.registry import load_method
from macedance.music.synth import beat_times, drum_track
from macedance.schema import load_motion
from macedance.schema.stats import motion_statistics
from macedance.training.motion import CHECKPOINT, OFFICIAL_CHECKPOINT, motion_configs, train_motion

logger = logging.getLogger(__name__)

DEMO_VERSION = "5"  # bump when the demo's job changes (a re-run then starts over)
_DEMO_DATA = ("raw", "music", "data", "rendered", "raw-videos", "built", "runs", "results", "site", "models", "external")
TRAINED = ("mace-dance", "edge", "mace-dance-v0")  # tiny diffusion methods trained by the demo
# released-checkpoint methods, run on the official.pt the demo's own training writes (no published weights offline)
RELEASED = (("mace-dance-official", "mace-dance"), ("edge-official", "edge"))
REFERENCE = ("retrieval", "random-clip", "mean-pose")  # reference methods it indexes
TASK = "madata-motion"
# The video boards: the tiny random Wan-Animate pipeline (it makes noise: the boards show the machinery, not a model) as
# the appearance model of two trained motion methods and on its own, and a folder of videos made outside macedance.
VIDEO_SIZE = AnimateConfig(width=144, height=256, steps=1, segment_frames=33)  # the 720×1280 canvas's aspect, 16-px multiples
CASCADES = ("mace-dance+wan-animate", "edge+wan-animate")
# metrics that need no weights; SSIM (also weight-free) is left out for time: on the 720×1280 canvas it costs ~0.3 s per
# frame on one core, more than the tiny pipeline's generation (`bench run --metrics ssim,psnr,l1` scores it)
VIDEO_METRICS = {"madata-animation": ("psnr", "l1"), "madata-music2video": ("temporal-flickering", "motion-2d")}

Counter = Callable[[int, int, str], None]  # progress(done, total, name)
Bar = Callable[[str], AbstractContextManager[Counter]]  # a stage's progress: bar(description) → progress
FramesBar = Callable[[str], AbstractContextManager[Callable[[Any], None]]]  # bar(description) → progress(BuildProgress)


@contextlib.contextmanager
def _no_bar(description: str) -> Iterator[Callable[..., None]]:
    yield lambda *args: None


@dataclass
class DemoResult:
    """What a demo run produced (the CLI prints it)."""

    imported: ImportReport  # the AIST++-format import (one truncated file rejected)
    rendered: BuildReport  # the rendered dataset (``data render``)
    built: BuildReport  # the dataset built from raw videos (``data build``)
    stats: list[tuple[str, dict[str, Any]]]  # (clip id, motion statistics) of the first four imported dances
    trained: list[tuple[str, dict[str, Any]]]  # (method, training summary) of each trained method
    boards: list[Board]  # the leaderboard
    site: dict[str, Path]  # the leaderboard page's files: html, markdown, json


def _reuse(out: Path, params: Any) -> dict[str, bool]:
    """``resume`` a dataset folder built earlier with the same parameters, else ``overwrite`` it."""
    state = out / ".build" / "params.json"
    try:
        same = state.is_file() and json.loads(state.read_text()).get("hash") == params.hash
    except (OSError, json.JSONDecodeError):
        same = False
    return {"resume": True} if same else {"overwrite": True}


def prepare_demo_folder(out: Path, *, sequences: int, steps: int, seed: int, fresh: bool = False) -> list[str]:
    """Prepare ``out`` for a run: everything kept that the options allow; returns what was cleared (for the user)."""
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
        for method in TRAINED:
            shutil.rmtree(out / "runs" / method, ignore_errors=True)
        cleared.append("the trained models (--steps changed)")
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, options)
    return cleared


def _write_sources(out: Path, sequences: int, seed: int) -> tuple[Path, Path]:
    """Dances in the exact AIST++ file format (procedural, 8 s at 60 fps, one tempo each), a drum track per dance,
    official-style split files (a third test) and one truncated file; deterministic, written only when missing
    (atomically). Returns the motion and music folders."""
    raw, music = out / "raw" / "motions", out / "music"
    (out / "raw" / "splits").mkdir(parents=True, exist_ok=True)
    music.mkdir(parents=True, exist_ok=True)
    genres, split = list(GENRES), {"train": [], "test": []}
    for i in range(sequences):
        g, bpm = genres[i % len(genres)], 90 + 5 * (i % 12)
        stem = f"{g}_sBM_cAll_d{i + 1:02d}_m{g[1:]}{i % 6}_ch01"
        if not (raw / f"{stem}.pkl").is_file():
            write_aistpp_pkl(synthetic_motion(seconds=8.0, fps=60.0, bpm=bpm, seed=seed + i), raw / f"{stem}.pkl")
        if not (music / f"{stem}.wav").is_file():
            tmp = music / f".{stem}.tmp.wav"
            sf.write(tmp, drum_track(beat_times(bpm, 8.0, start=0.0), 8.0, sr=22050, seed=i), 22050)
            tmp.replace(music / f"{stem}.wav")
        split["test" if i % 3 == 0 else "train"].append(stem)
    for name, stems in split.items():
        (out / "raw" / "splits" / f"crossmodal_{name}.txt").write_text("\n".join(stems) + "\n")
    (raw / "gXX_truncated_example.pkl").write_bytes(b"\x80\x04\x95\x10\x00")
    return raw, music


def _write_raw_videos(videos: Path, rendered: Path, seed: int) -> None:
    """Raw videos for ``data build``: two rendered clips (the render → build loop) and generated shots that show
    the filters (a static shot, two dancers, a silent video); written when missing."""
    for clip in sorted((rendered / "videos").glob("*.mp4"))[:2]:
        if not (videos / "rendered" / clip.name).is_file():
            (videos / "rendered").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip, videos / "rendered" / f".{clip.name}.tmp")
            (videos / "rendered" / f".{clip.name}.tmp").replace(videos / "rendered" / clip.name)
    if not (videos / "popping" / "dancer0.mp4").is_file():
        write_dance_video(videos / "popping" / "dancer0.mp4", [ShotSpec(5.5, "static"), ShotSpec(5.5, "two", bpm=110)], fps=30.0,
                          size=(480, 270), seed=seed)
    if not (videos / "silent.mp4").is_file():
        write_dance_video(videos / "silent.mp4", [ShotSpec(6.0)], fps=30.0, size=(480, 270), seed=seed + 7, audio=False)


def _train(data: Path, runs: Path, steps: int, seed: int, bar: Bar) -> list[tuple[str, dict[str, Any]]]:
    """Train the tiny diffusion methods (resumed from their checkpoints) and index the reference methods."""
    trained = []
    for method in TRAINED:
        expert, diffusion, train = motion_configs(method, tiny=True, train={"steps": steps, "checkpoint_every": min(steps, 25),
                                                                          "log_every": 10, "seed": seed})
        run = runs / method
        with bar(f"train {method}") as progress:
            summary = train_motion(data, run, expert=expert, diffusion_cfg=diffusion, train=train, music_dir=None, resume=(run / CHECKPOINT).is_file(),
                                   progress=lambda s, n, loss: progress(s, n, f"loss {loss:.3f}"), method=method)
        trained.append((method, summary))
    for method in REFERENCE:
        if not (runs / method / CHECKPOINT).is_file():
            build_reference(method, data, runs / method)
    return trained


def _still_videos(data: Path, folder: Path) -> Path:
    """"Videos made elsewhere" for the ``folder`` method: each test clip's reference frame held for the clip's length at
    16 fps (a no-motion baseline), written as a user's tool would write them; written when missing."""
    import numpy as np
    from PIL import Image

    from macedance.datasets.importers.base import read_clips
    from macedance.io.video import write_video

    folder.mkdir(parents=True, exist_ok=True)
    for clip in read_clips(data / "clips.jsonl"):
        ref = clip.file(data, "reference_path")
        if clip.split != "test" or ref is None or (folder / f"{clip.id}.mp4").is_file():
            continue
        frame = np.asarray(Image.open(ref).convert("RGB"))
        write_video(folder / f"{clip.id}.mp4", [frame] * int(clip.duration * 16.0), 16.0)
    return folder


def _video_boards(data: Path, out: Path, bar: Bar) -> list[dict[str, Any]]:
    """madata-animation (tiny Wan-Animate, and the ``folder`` of still videos) and madata-music2video (two trained motion
    methods cascaded into tiny Wan-Animate), scored with the metrics that need no weights."""
    from macedance.appearance.tiny import write_tiny_pipeline
    from macedance.methods.video import load_video_method

    model = out / "models" / "tiny-wan-animate"
    if not (model / "model_index.json").is_file():
        write_tiny_pipeline(model)
    runs, records = out / "runs", []
    jobs = [("madata-animation", "wan-animate", {}), ("madata-animation", "folder", {"outputs": _still_videos(data, out / "external" / "still")}),
            *(("madata-music2video", name, {"ckpt": runs / name.split("+")[0]}) for name in CASCADES)]
    for task_name, method, options in jobs:
        method_obj = load_video_method(method, model=model, cfg=VIDEO_SIZE, folder_name="reference-still", **options)
        with bar(f"bench {method_obj.meta.name} ({task_name})") as progress:
            rec, path = run_video_benchmark(get_task(task_name), method_obj, data=data, out=out / "results", metrics=VIDEO_METRICS[task_name],
                                         progress=progress)
        records.append({**rec, "_source": str(path)})  # where its sample videos are found
    return records


def run_demo(out: Path, *, sequences: int = 12, steps: int = 150, seed: int = 0, fresh: bool = False, video: bool = True, bar: Bar = _no_bar,
             frames_bar: FramesBar = _no_bar, on_clear: Callable[[str], None] | None = None) -> DemoResult:
    """Run (or finish) the demo job in ``out``.

    1. generates ``sequences`` dances in the exact AIST++ file format with split files, a drum track per dance and
       one truncated file (rejected with its reason); imports them (30 fps) into ``out/data``;
    2. renders them with their music (capsule character, 180×320) into ``out/rendered``: the embedded default
       dataset, an MA-Data-style 3D-rendered subset;
    3. builds a dataset from raw videos into ``out/built``: two rendered clips, a static shot, a two-dancer shot
       and a silent video (every filter shows up);
    4. trains tiny MACE-Dance, EDGE-style and unidirectional-Mamba models (``steps`` each) on the rendered subset
       and indexes the reference methods, into ``out/runs``;
    5. runs the madata-motion task on the rendered subset for every method (``out/results``) — also the released
       methods on the official-layout checkpoints the training wrote (noted on the board);
    6. runs the video tasks on it: madata-animation with a tiny random Wan-Animate pipeline (``out/models``) and a
       ``folder`` of still videos (``out/external``), madata-music2video with two trained motion methods cascaded into
       the tiny pipeline, scored with the metrics that need no weights (not with ``video=False``) — and writes the
       leaderboard page, with sample clips of every method, into ``out/site``.

    Args:
        bar: progress of the import, build, training and benchmark stages (``bar(description)`` gives a context
            manager yielding ``progress(done, total, name)``).
        frames_bar: progress of the render stage (yields ``progress(BuildProgress)``).
        on_clear: told what an earlier run's files were cleared for (see ``prepare_demo_folder``).
    """
    for note in prepare_demo_folder(out, sequences=sequences, steps=steps, seed=seed, fresh=fresh):
        if on_clear is None:
            logger.info("demo: starting over for %s", note)
        else:
            on_clear(note)
    raw, music = _write_sources(out, sequences, seed)
    with bar("import") as progress:
        imported = import_aistpp(raw, out / "data", fps=30.0, progress=progress)
    # The embedded default dataset: the imported dances rendered with their music (MA-Data's 3D-rendered subset).
    data = out / "rendered"
    rparams = RenderParams(size=(180, 320), seed=seed)
    with frames_bar("render") as frames:
        rendered = render_dataset(out / "data", data, params=rparams, music_dir=music, progress=frames, command="macedance demo", **_reuse(data, rparams))
    _write_raw_videos(out / "raw-videos", data, seed)
    # The demo stays offline: its generated videos' cuts are hard colour changes, which the weight-free histogram
    # detector finds (TransNet V2, the default, needs `macedance weights fetch transnetv2`).
    bparams = BuildParams(seed=seed, shots=ShotParams(detector="histogram"))
    with bar("build") as progress:
        built = build_dataset(out / "raw-videos", out / "built", params=bparams, command="macedance demo", **_reuse(out / "built", bparams),
                              progress=lambda p: progress(p.frames_done, p.frames_total, p.current))
    runs = out / "runs"
    trained = _train(data, runs, steps, seed, bar)
    task = get_task(TASK)
    records = []
    for method in (*TRAINED, *REFERENCE):
        with bar(f"bench {method}") as progress:
            rec, path = run_benchmark(task, load_method(method, ckpt=runs / method), data=data, out=out / "results", music=None, bootstrap=100,
                                      progress=progress)
        records.append({**rec, "_source": str(path)})  # where its sample videos are found
    for method, trained_as in RELEASED:
        note = (f"weights: this demo's tiny `{trained_as}` run written in the released checkpoint layout "
                f"(runs/{trained_as}/official.pt), not the published weights")
        with bar(f"bench {method}") as progress:
            rec, path = run_benchmark(task, load_method(method, ckpt=runs / trained_as / OFFICIAL_CHECKPOINT, note=note), data=data,
                                   out=out / "results", music=None, bootstrap=100, progress=progress)
        records.append({**rec, "_source": str(path)})  # where its sample videos are found
    if video:
        records += _video_boards(data, out, bar)
    boards = build_boards(records)
    site = write_site(boards, out / "site")
    stats = [(c.id, motion_statistics(load_motion(out / "data" / str(c.motion_path)))) for c in imported.clips[:4]]
    return DemoResult(imported, rendered, built, stats, trained, boards, site)
