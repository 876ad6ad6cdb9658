"""``macedance data build``: a folder of raw videos → clips, manifest, splits and dataset card.

Layout written under ``OUT``::

    motions/<clip>.npz      SMPL-24 motion at --fps (y-up, metres)    keypoints/<clip>.npz  2D keypoints (source fps, px)
    music/<clip>.npz        features, beats, tempo at --fps           audio/<clip>.wav      the clip's audio (mono)
    reference/<clip>.jpg    the clip's first frame                    previews/<clip>.mp4   skeleton overlay (--preview)
    videos/<clip>.mp4       the clip's frames (source fps, H.264 yuv420p) with its audio (AAC); not with --no-videos
    manifest.parquet        one row per candidate (video, shot or clip), kept or rejected with stage and reason
    clips.jsonl             the kept clips (macedance Clip records, with their split)
    splits/{train,val,test}.txt   clip ids; whole source videos go to one split (no leakage)
    README.md               the dataset card          build_report.json   counts, timings, versions of this run
    .build/                 resume state: params.json and one JSON per finished source video

Resume: a finished video has its state file (written atomically after all its clip files), so a
killed build restarted with ``resume=True`` skips those and redoes only unfinished videos; clip files
are themselves written atomically under deterministic names, so a redone video overwrites its own
partial files and nothing is duplicated. Determinism: clip windows come from a generator seeded by
(seed, video sha256, shot), splits from the sorted sha256 of (seed, video sha256).

Executors: ``local`` (this process, or ``workers`` spawned processes) and ``ray`` (one Ray task per
video with ``task_cpus``/``task_gpus`` resource requests, on a local or an existing cluster; see
:mod:`macedance.executors`). Both write the same files: only the driver writes resume state, the
manifest, splits and card, so resume and determinism do not depend on the executor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.datasets.from_video.params import BUILD_VERSION, BuildParams
from macedance.datasets.from_video.pipeline import VideoOutcome, process_video
from macedance.errors import InputNotFoundError, ValidationError
from macedance.fileio import atomic_write, remove_stale_temps, write_json
from macedance.io.video import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

OUTPUT_DIRS = ("motions", "keypoints", "music", "audio", "reference", "videos", "previews", "splits", ".build")
OUTPUT_FILES = ("manifest.parquet", "clips.jsonl", "README.md", "build_report.json")


@dataclass
class BuildProgress:
    """What the progress callback receives: videos, and frames decoded (scan pass + pose pass: about
    twice the source frames)."""

    videos_done: int
    videos_total: int
    frames_done: int
    frames_total: int
    current: str = ""


@dataclass
class BuildReport:
    """Outcome of a build (also written as ``build_report.json``)."""

    out: str
    videos: int = 0
    videos_processed: int = 0
    videos_resumed: int = 0
    candidates: int = 0
    clips: int = 0
    hours: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    frames_processed: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_sources(raw_dir: Path) -> list[tuple[Path, str, str | None]]:
    """Every non-hidden file under ``raw_dir`` as (path, path relative to raw_dir, genre).

    The genre is the name of the first sub-folder (``RAW_DIR/<genre>/…``), None at the top level.
    """
    if not raw_dir.is_dir():
        raise InputNotFoundError(f"{raw_dir}: raw video folder not found")
    out = []
    for p in sorted(raw_dir.rglob("*")):
        rel = p.relative_to(raw_dir)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        out.append((p, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else None))
    return out


def _state_path(out: Path, rel: str) -> Path:
    return out / ".build" / "videos" / (hashlib.sha256(rel.encode()).hexdigest()[:24] + ".json")


def _unsupported(path: Path, rel: str, genre: str | None) -> VideoOutcome:
    from macedance.datasets.from_video.pipeline import _row, video_id_for
    from macedance.fileio import sha256_file

    sha = sha256_file(path)
    o = VideoOutcome(video_id_for(rel, sha), rel, sha)
    o.rows.append(_row(o, None, genre, stage="ingest", code="unsupported", reason=f"unsupported file type {path.suffix or '(none)'!r}; video files: {', '.join(VIDEO_SUFFIXES)}"))
    return o


_WORKER: dict[str, Any] = {}


def _init_worker(threads: int) -> None:
    """Worker-process set-up: torch (SMPL fits) uses this many threads."""
    import torch

    torch.set_num_threads(threads)


def _work(path: str, rel: str, out: str, params: BuildParams, genre: str | None, frames_q: Any) -> dict[str, Any]:
    """Process one video in a worker process (the pose backend is created once per process)."""
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return _unsupported(Path(path), rel, genre).to_dict()
    backend = _WORKER.get("backend")
    if backend is None and params.pose_backend:
        from macedance.pose.backends import get_backend

        backend = _WORKER["backend"] = get_backend(params.pose_backend, params.pose_weights)
    report = (lambda n: frames_q.put(n)) if frames_q is not None else None
    return process_video(Path(path), rel, Path(out), params, genre, report, backend).to_dict()


@dataclass(frozen=True)
class RayOptions:
    """Run the sources as Ray tasks (``executor="ray"``): the cluster to join and the resources per task."""

    address: str | None = None  # None: a local Ray instance; "auto": this node's cluster; "ray://host:10001"
    task_cpus: int = 2  # the task's torch (and pose) threads
    task_gpus: float = 0.0

    @staticmethod
    def of(executor: str, address: str | None, task_cpus: int, task_gpus: float) -> RayOptions | None:
        """The options for ``executor="ray"``, ``None`` for ``local``; a one-line error for anything else."""
        from macedance.executors import check_executor

        check_executor(executor)
        return RayOptions(address, task_cpus, task_gpus) if executor == "ray" else None


def worker_threads(workers: int, ray: RayOptions | None) -> int:
    """Threads per source: a Ray task gets the CPUs it asked for; local workers share the cores."""
    return max(1, int(ray.task_cpus)) if ray else max(1, (os.cpu_count() or 1) // workers)


def _ray_task(threads: int, source: str, out: str, fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], frames_q: Any) -> dict[str, Any]:
    """One source as a Ray task: ``threads`` torch threads, and a clear error when the worker's node does
    not see the source or the output folder (they must be on a shared filesystem)."""
    import platform

    for p, what in ((Path(source), "source"), (Path(out), "output folder")):
        if not p.exists():
            raise InputNotFoundError(f"{p}: {what} not visible on Ray node {platform.node()} (input and output folders must be on a "
                                     "filesystem shared by every node)")
    _init_worker(threads)
    return fn(*args, frames_q)


def run_in_ray(fn: Callable[..., dict[str, Any]], jobs: dict[str, tuple[Any, ...]], sources: dict[str, str], out: Path, ray: RayOptions,
               finished: Callable[[str, dict[str, Any]], None], frames: Callable[[int], None]) -> None:
    """Run ``fn(*args, queue)`` for every job as a Ray task (``ray.task_cpus`` threads each, retried when
    its worker dies); ``finished(key, result)`` is called by this driver process as each job completes."""
    from macedance.executors import progress_counter, ray_session, run_tasks

    if not jobs:
        return
    keys = list(jobs)
    threads = max(1, int(ray.task_cpus))
    with ray_session(ray.address) as session:
        counter, take = progress_counter(session)

        def poll() -> None:
            if n := take():
                frames(n)

        calls = [(threads, str(Path(sources[k]).resolve()), str(out.resolve()), fn, jobs[k], counter) for k in keys]
        run_tasks(session, _ray_task, calls, lambda i, outcome: finished(keys[i], outcome), num_cpus=ray.task_cpus,
                  num_gpus=ray.task_gpus, poll=poll)
        poll()


def check_state(out: Path, params: Any, resume: bool, overwrite: bool, version: str = BUILD_VERSION,
                dirs: tuple[str, ...] = OUTPUT_DIRS, files: tuple[str, ...] = OUTPUT_FILES) -> None:
    """Resume rules of an output folder (shared by ``data build`` and ``data render``): ``overwrite``
    deletes ``dirs`` and ``files``; an existing run is refused unless ``resume``, and resumed only with
    the same ``params.hash``; then the parameters are recorded in ``.build/params.json``."""
    state = out / ".build" / "params.json"
    if overwrite:
        for d in dirs:
            shutil.rmtree(out / d, ignore_errors=True)
        for f in files:
            (out / f).unlink(missing_ok=True)
    elif state.is_file():
        if not resume:
            raise ValidationError(f"{out}", "an empty or new output folder", "an existing build (finish it with `resume`, start again with `overwrite`)")
        old = json.loads(state.read_text())
        if old.get("hash") != params.hash:
            changed = sorted(k for k, v in params.to_dict().items() if old.get("params", {}).get(k) != v)
            raise ValidationError(f"{out}", "the options of the build being resumed", f"different options {changed} (use them again, or `overwrite`)")
    write_json(state, {"hash": params.hash, "build_version": version, "params": params.to_dict()})


def pending_sources(out: Path, sources: list[tuple[Path, str, Any]]) -> tuple[dict[str, dict[str, Any]], list[tuple[Path, str, Any]]]:
    """The finished sources' recorded outcomes (by relative path) and the sources still to process."""
    done: dict[str, dict[str, Any]] = {}
    todo = []
    for path, rel, extra in sources:
        st = _state_path(out, rel)
        if st.is_file():
            try:
                done[rel] = json.loads(st.read_text())
                continue
            except (OSError, json.JSONDecodeError):
                log.warning("%s: unreadable resume state; processing %s again", st, rel)
        todo.append((path, rel, extra))
    return done, todo


def record_finished(out: Path, rel: str, outcome: dict[str, Any]) -> None:
    """Mark a source finished (its state file, written atomically after all its clip files)."""
    write_json(_state_path(out, rel), outcome)


def run_in_processes(fn: Callable[..., dict[str, Any]], jobs: dict[str, tuple[Any, ...]], workers: int, threads: int,
                     finished: Callable[[str, dict[str, Any]], None], frames: Callable[[int], None]) -> None:
    """Run ``fn(*args, queue)`` for every job in ``workers`` spawned processes, each with ``threads``
    torch threads; ``finished(key, result)`` is called as each job completes, ``frames(n)`` with the
    frame counts the jobs put on the queue."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        q = manager.Queue()
        futures = {pool.submit(fn, *args, q): key for key, args in jobs.items()}
        pending = set(futures)
        while pending:
            finished_now, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(q, frames)
            for fut in finished_now:
                finished(futures[fut], fut.result())
        _drain(q, frames)


def run_sources(out: Path, todo: list[tuple[Path, str, Any]], done: dict[str, dict[str, Any]], report: BuildReport,
                hints: dict[str, int], progress: Callable[[BuildProgress], None] | None,
                run_local: Callable[[Path, str, Any, Callable[[int], None]], dict[str, Any]], worker: Callable[..., dict[str, Any]],
                worker_args: Callable[[Path, str, Any], tuple[Any, ...]], workers: int, threads: int, passes: int = 1,
                ray: RayOptions | None = None) -> None:
    """Process every pending source (``data build`` and ``data render``): in this process with
    ``run_local(path, rel, extra, frames)`` when ``workers`` ≤ 1, else ``worker(*worker_args(path, rel,
    extra), queue)`` in spawned processes, or as Ray tasks with ``ray``. Each finished source's outcome is recorded (state file),
    added to ``done`` and ``report``; ``progress`` gets frame counts (``passes`` per source frame of
    ``hints``) and finished sources."""
    state = BuildProgress(0, len(todo), 0, passes * sum(hints.values()))
    finished_frames = [0]

    def finished(rel: str, outcome: dict[str, Any]) -> None:
        record_finished(out, rel, outcome)
        done[rel] = outcome
        report.videos_processed += 1
        report.frames_processed += int(outcome.get("frames", 0))
        for k, v in outcome.get("stage_seconds", {}).items():
            report.stage_seconds[k] = report.stage_seconds.get(k, 0.0) + v
        state.videos_done += 1
        finished_frames[0] += passes * hints.get(rel, 0)
        state.frames_done = max(state.frames_done, finished_frames[0])
        state.current = rel
        if progress:
            progress(state)

    def frames(n: int) -> None:
        state.frames_done += n
        if progress:
            progress(state)

    if ray is not None:
        run_in_ray(worker, {rel: worker_args(p, rel, extra) for p, rel, extra in todo}, {rel: str(p) for p, rel, _ in todo}, out, ray,
                   finished, frames)
    elif workers <= 1 or len(todo) <= 1:
        for path, rel, extra in todo:
            state.current = rel
            finished(rel, run_local(path, rel, extra, frames))
    else:
        run_in_processes(worker, {rel: worker_args(p, rel, extra) for p, rel, extra in todo}, workers, threads, finished, frames)


def build_dataset(raw_dir: str | Path, out: str | Path, params: BuildParams | None = None, workers: int = 1, resume: bool = False,
                  overwrite: bool = False, progress: Callable[[BuildProgress], None] | None = None,
                  command: str | None = None, executor: str = "local", address: str | None = None, task_cpus: int = 2,
                  task_gpus: float = 0.0) -> BuildReport:
    """Build a dataset from every file in ``raw_dir`` (see the module docstring).

    Args:
        workers: local executor: processes running videos in parallel (1 = in this process).
        resume: finish an interrupted build in ``out`` (same parameters required).
        overwrite: delete a previous build's outputs in ``out`` first.
        progress: called after every chunk of decoded frames and every finished video.
        command: the command line, recorded in the card.
        executor: ``local`` or ``ray`` (one task per video).
        address: Ray cluster to join (``auto``, ``ray://host:10001``); default: a local Ray instance.
        task_cpus, task_gpus: Ray resources requested per video (the pose and fit threads use ``task_cpus``).
    """
    ray = RayOptions.of(executor, address, task_cpus, task_gpus)
    t0 = time.perf_counter()
    params = params or BuildParams()
    raw_dir, out = Path(raw_dir), Path(out)
    sources = find_sources(raw_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_state(out, params, resume, overwrite)
    done, todo = pending_sources(out, sources)
    report = BuildReport(str(out), videos=len(sources), videos_resumed=len(done))
    threads = worker_threads(workers, ray)
    wparams = dataclasses.replace(params, pose_threads=min(params.pose_threads, threads))
    run_sources(out, todo, done, report, {rel: _frames_hint(p) for p, rel, _ in todo}, progress,
                lambda p, rel, g, frames: _local(p, rel, out, params, g, frames), _work,
                lambda p, rel, g: (str(p), rel, str(out), wparams, g), workers, threads, passes=2, ray=ray)
    finalize(out, raw_dir.name, sources, done, params, report, command)
    report.seconds = time.perf_counter() - t0
    write_json(out / "build_report.json", {**report.to_dict(), "macedance": __version__, "params": params.to_dict(), "command": command})
    return report


_LOCAL_BACKEND: dict[str, Any] = {}


def _local(path: Path, rel: str, out: Path, params: BuildParams, genre: str | None, frames: Callable[[int], None]) -> dict[str, Any]:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return _unsupported(path, rel, genre).to_dict()
    key = f"{params.pose_backend}:{params.pose_weights}"
    if key not in _LOCAL_BACKEND:
        from macedance.pose.backends import get_backend

        _LOCAL_BACKEND.clear()
        _LOCAL_BACKEND[key] = get_backend(params.pose_backend, params.pose_weights)
    return process_video(path, rel, out, params, genre, frames, _LOCAL_BACKEND[key]).to_dict()


def _drain(q: Any, frames: Callable[[int], None]) -> None:
    n = 0
    while True:
        try:
            n += q.get_nowait()
        except queue.Empty:
            break
    if n:
        frames(n)


def _frames_hint(path: Path) -> int:
    """Frame count from the container header (0 when unknown); only for the progress bar."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return 0
    try:
        import av

        with av.open(str(path)) as c:
            return int(c.streams.video[0].frames or 0) if c.streams.video else 0
    except Exception:
        return 0


def assign_splits(video_shas: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """Split name per source video (by sha256): ordered by sha256(seed, sha), then cut into train/val/test.

    With n ≥ 3 videos, val and test get round(share · n) videos but at least one each (when their share
    is > 0); with 2, one goes to test; with 1, it is train. Adding videos never moves a clip between
    videos, and a video's clips always share its split.
    """
    order = sorted(set(video_shas), key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    n = len(order)
    _, f_val, f_test = fractions
    if n >= 3:
        n_val = max(1 if f_val > 0 else 0, round(f_val * n))
        n_test = max(1 if f_test > 0 else 0, round(f_test * n))
    else:
        n_val, n_test = 0, (1 if n == 2 and f_test > 0 else 0)
    names = ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)
    return dict(zip(order, names, strict=True))


def finalize(out: Path, name: str, sources: list[tuple[Path, str, Any]], done: dict[str, dict[str, Any]], params: Any,
             report: BuildReport, command: str | None, kind: str = "build", version: str = BUILD_VERSION,
             fixed_splits: dict[str, str] | None = None) -> None:
    """Write the manifest, ``clips.jsonl``, the splits and the card from every finished source's outcome.

    ``fixed_splits`` (source sha256 → split) replaces the seeded assignment (``data render`` keeps the
    official splits of imported datasets); ``kind`` and ``version`` select the card's text.
    """
    from macedance.datasets.from_video.card import write_card
    from macedance.datasets.from_video.manifest import write_manifest

    stale = sum(remove_stale_temps(out / d) for d in OUTPUT_DIRS if (out / d).is_dir())
    if stale:
        log.info("removed %d temporary files left by killed workers", stale)
    outcomes = [done[rel] for _, rel, _ in sources if rel in done]
    kept_shas = [o["sha256"] for o in outcomes if o["clips"]]
    split_of = fixed_splits if fixed_splits is not None else assign_splits(kept_shas, params.seed, params.split_fractions)
    rows, clips = [], []
    for o in outcomes:
        for r in o["rows"]:
            rows.append({**r, "split": split_of.get(o["sha256"]) if r["status"] == "kept" else None})
        for c in o["clips"]:
            clips.append({**c, "split": split_of[o["sha256"]]})
    write_manifest(out / "manifest.parquet", rows)
    with atomic_write(out / "clips.jsonl", "w") as f:
        for c in clips:
            f.write(json.dumps({k: c[k] for k in ("id", "source_video", "start", "end", "motion_path", "keypoints_path", "music_path",
                                                  "genre", "split", "provenance")}) + "\n")
    for split in ("train", "val", "test"):
        with atomic_write(out / "splits" / f"{split}.txt", "w") as f:
            f.write("".join(c["id"] + "\n" for c in clips if c["split"] == split))
    report.candidates = len(rows)
    report.clips = len(clips)
    report.hours = sum(c["end"] - c["start"] for c in clips) / 3600.0
    report.rejected = dict(Counter(r["code"] for r in rows if r["status"] != "kept"))
    report.splits = dict(Counter(c["split"] for c in clips))
    write_card(out / "README.md", rows, clips, params, command or " ".join(sys.argv), name, kind=kind, version=version)
