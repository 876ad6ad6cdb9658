"""Running the sources of a dataset (``data build``: videos, ``data render``: motions): in this process,
in spawned worker processes, or as Ray tasks (:mod:`macedance.executors`). Only the driver records
finished sources (:mod:`~macedance.datasets.curation.state`), so resume and determinism do not depend on
the executor."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.curation.state import Source, record_finished
from macedance.errors import InputNotFoundError

FramesFn = Callable[[int], None]  # called with the number of newly processed frames


@dataclass
class BuildProgress:
    """What the progress callback receives: sources, and frames processed (``data build``: scan pass +
    pose pass, about twice the source frames)."""

    videos_done: int
    videos_total: int
    frames_done: int
    frames_total: int
    current: str = ""


@dataclass
class BuildReport:
    """Outcome of a run (also written as ``build_report.json`` / ``render_report.json``)."""

    out: str
    videos: int = 0
    videos_processed: int = 0
    videos_resumed: int = 0
    candidates: int = 0
    clips: int = 0
    hours: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # clips that duplicate a kept clip of another source (dropped or marked: --dedupe)
    seconds: float = 0.0
    frames_processed: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def init_worker(threads: int) -> None:
    """Worker-process set-up: torch (SMPL fits, rendering) uses this many threads."""
    import torch

    torch.set_num_threads(threads)


_FRAMES_QUEUE: Any = None  # a local worker's queue of frame counts (set by init_local_worker)


def init_local_worker(threads: int, driver: int, frames_q: Any) -> None:
    """:func:`init_worker` for a local worker process, which also ends as soon as its driver (the process ``driver``)
    has died: a killed ``data build`` leaves no worker writing into the folder that its resume will use."""
    import threading

    global _FRAMES_QUEUE
    _FRAMES_QUEUE = frames_q
    init_worker(threads)

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        os._exit(1)  # re-parented: the driver is gone

    threading.Thread(target=watch, name="driver-watch", daemon=True).start()


def _call_with_queue(fn: Callable[..., SourceOutcome], args: tuple[Any, ...]) -> SourceOutcome:
    return fn(*args, _FRAMES_QUEUE)


def _ray_task(threads: int, source: str, out: str, fn: Callable[..., SourceOutcome], args: tuple[Any, ...], frames_q: Any) -> SourceOutcome:
    """One source as a Ray task: ``threads`` torch threads, and a clear error when the worker's node does
    not see the source or the output folder (they must be on a shared filesystem)."""
    import platform

    for p, what in ((Path(source), "source"), (Path(out), "output folder")):
        if not p.exists():
            raise InputNotFoundError(f"{p}: {what} not visible on Ray node {platform.node()} (input and output folders must be on a "
                                     "filesystem shared by every node)")
    init_worker(threads)
    return fn(*args, frames_q)


def run_in_ray(fn: Callable[..., SourceOutcome], jobs: dict[str, tuple[Any, ...]], sources: dict[str, str], out: Path, ray: RayOptions,
               finished: Callable[[str, SourceOutcome], None], frames: FramesFn) -> None:
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


def run_in_processes(fn: Callable[..., SourceOutcome], jobs: dict[str, tuple[Any, ...]], workers: int, threads: int,
                     finished: Callable[[str, SourceOutcome], None], frames: FramesFn) -> None:
    """Run ``fn(*args, queue)`` for every job in ``workers`` spawned processes, each with ``threads``
    torch threads; ``finished(key, result)`` is called as each job completes, ``frames(n)`` with the
    frame counts the jobs put on the queue."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()  # handed to the workers when they start (no manager process that would outlive a killed driver)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_local_worker, initargs=(threads, os.getpid(), q)) as pool:
        futures = {pool.submit(_call_with_queue, fn, args): key for key, args in jobs.items()}
        pending = set(futures)
        while pending:
            finished_now, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(q, frames)
            for fut in finished_now:
                finished(futures[fut], fut.result())
        _drain(q, frames)
    q.close()
    q.join_thread()


def run_sources(out: Path, todo: list[Source], *, done: dict[str, SourceOutcome], report: BuildReport, hints: dict[str, int],
                progress: Callable[[BuildProgress], None] | None, run_local: Callable[[Path, str, Any, FramesFn], SourceOutcome],
                worker: Callable[..., SourceOutcome], worker_args: Callable[[Path, str, Any], tuple[Any, ...]], workers: int, threads: int,
                passes: int = 1, ray: RayOptions | None = None) -> None:
    """Process every pending source: in this process with ``run_local(path, rel, extra, frames)`` when
    ``workers`` ≤ 1, else ``worker(*worker_args(path, rel, extra), queue)`` in spawned processes, or as
    Ray tasks with ``ray``. Each finished source's outcome is recorded (state file), added to ``done``
    and ``report``; ``progress`` gets frame counts (``passes`` per source frame of ``hints``) and
    finished sources."""
    state = BuildProgress(0, len(todo), 0, passes * sum(hints.values()))
    finished_frames = [0]

    def finished(rel: str, outcome: SourceOutcome) -> None:
        record_finished(out, rel, outcome)
        done[rel] = outcome
        report.videos_processed += 1
        report.frames_processed += int(outcome.frames)
        for k, v in outcome.stage_seconds.items():
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


def _drain(q: Any, frames: FramesFn) -> None:
    n = 0
    while True:
        try:
            n += q.get_nowait()
        except queue.Empty:
            break
    if n:
        frames(n)
