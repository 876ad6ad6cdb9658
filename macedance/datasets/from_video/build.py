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

When every video is done, the sources' provenance (``sources``: a CSV of url, creator, licence and consent per video,
:mod:`~macedance.datasets.curation.provenance`) and the near-duplicate clips across videos (``params.dedupe``,
:mod:`~macedance.datasets.curation.dedupe`) are applied; neither is in the resume state's hash, so a resumed build may
change them without processing a video again.

Executors: ``local`` (this process, or ``workers`` spawned processes) and ``ray`` (one Ray task per
video with ``task_cpus``/``task_gpus`` resource requests, on a local or an existing cluster; see
:mod:`macedance.datasets.curation.runner`). Both write the same files: only the driver writes resume state, the
manifest, splits and card, so resume and determinism do not depend on the executor.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from macedance import __version__
from macedance.datasets.curation.finalize import finalize
from macedance.datasets.curation.kind import CardText, DatasetKind
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.curation.provenance import SourceTable, read_sources_csv
from macedance.datasets.curation.runner import BuildProgress, BuildReport, RayOptions, run_sources, worker_threads
from macedance.datasets.curation.state import Source, check_state, pending_sources
from macedance.datasets.from_video.params import BUILD_VERSION, BuildParams
from macedance.datasets.from_video.pipeline import process_video
from macedance.errors import InputNotFoundError
from macedance.fileio import write_json
from macedance.folder_lock import folder_lock
from macedance.io.video import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

OUTPUT_DIRS = ("motions", "keypoints", "music", "audio", "reference", "videos", "previews", "splits", "stats", ".build")
OUTPUT_FILES = ("manifest.parquet", "clips.jsonl", "README.md", "build_report.json")
BUILD = DatasetKind(BUILD_VERSION, OUTPUT_DIRS, OUTPUT_FILES, CardText(
    intro="Built by `macedance data build` from a folder of raw dance videos: shot detection, static and single-performer "
          "filters, 2D pose, SMPL fitting, music features and beats, 5–10 s clips.",
    source="source videos", by="source video", genres="from the first sub-folder of the raw folder",
    program="Pipeline",
    motion="Motion: SMPL-24 axis-angle + root translation in metres, y-up, fitted to the 2D keypoints (and the backend's 3D "
           "landmarks) with an estimated pinhole camera; `manifest.parquet` holds each clip's reprojection and landmark errors. "
           "See docs/data-build.md in macedance for every stage and threshold.",
))


def find_sources(raw_dir: Path) -> list[Source]:
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


def _unsupported(path: Path, rel: str, genre: str | None) -> SourceOutcome:
    from macedance.fileio import sha256_file

    o = SourceOutcome.start(rel, sha256_file(path))
    o.rows.append(o.row(genre, stage="ingest", code="unsupported", reason=f"unsupported file type {path.suffix or '(none)'!r}; video files: {', '.join(VIDEO_SUFFIXES)}"))
    return o


_WORKER: dict[str, Any] = {}


def _work(path: str, rel: str, out: str, params: BuildParams, genre: str | None, frames_q: Any) -> SourceOutcome:
    """Process one video in a worker process (the pose backend is created once per process)."""
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return _unsupported(Path(path), rel, genre)
    backend = _WORKER.get("backend")
    if backend is None and params.pose_backend:
        from macedance.pose.backends import get_backend

        backend = _WORKER["backend"] = get_backend(params.pose_backend, params.pose_weights)
    report = (lambda n: frames_q.put(n)) if frames_q is not None else None
    return process_video(Path(path), rel, Path(out), params=params, genre=genre, progress=report, backend=backend)


def build_dataset(raw_dir: str | Path, out: str | Path, *, params: BuildParams | None = None, workers: int = 1, resume: bool = False,
                  overwrite: bool = False, progress: Callable[[BuildProgress], None] | None = None,
                  command: str | None = None, executor: str = "local", address: str | None = None, task_cpus: int = 2,
                  task_gpus: float = 0.0, sources: str | Path | None = None) -> BuildReport:
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
        sources: a CSV of the source videos' provenance — url, creator, licence, consent
            (:mod:`macedance.datasets.curation.provenance`), checked before any video is processed and applied when the
            dataset is finalised (a resumed build may bring an edited one); its sha256 goes into the card and the report.
    """
    ray = RayOptions.of(executor, address, task_cpus, task_gpus)
    t0 = time.perf_counter()
    params = params or BuildParams()
    raw_dir, out = Path(raw_dir), Path(out)
    found = find_sources(raw_dir)
    table = read_sources_csv(sources, [rel for _, rel, _ in found]) if sources is not None else SourceTable()
    _preflight(params)
    with folder_lock(out, command=command):  # one job per output folder; check_state removes a killed run's temp files
        check_state(out, params, resume=resume, overwrite=overwrite, kind=BUILD)
        done, todo = pending_sources(out, found)
        report = BuildReport(str(out), videos=len(found), videos_resumed=len(done))
        threads = worker_threads(workers, ray)
        wparams = dataclasses.replace(params, pose_threads=min(params.pose_threads, threads))
        run_sources(out, todo, done=done, report=report, hints={rel: _frames_hint(p) for p, rel, _ in todo}, progress=progress,
                    run_local=lambda p, rel, g, frames: _local(p, rel, out, params, g, frames), worker=_work,
                    worker_args=lambda p, rel, g: (str(p), rel, str(out), wparams, g), workers=workers, threads=threads, passes=2, ray=ray)
        finalize(out, raw_dir.name, sources=found, done=done, params=params, report=report, command=command, kind=BUILD, source_table=table,
                 dedupe=params.dedupe)
        report.seconds = time.perf_counter() - t0
        write_json(out / "build_report.json", {**report.to_dict(), "macedance": __version__, "params": params.to_dict(), "command": command,
                                               "sources_csv": {"path": table.path, "sha256": table.sha256} if table.path else None})
        return report


_LOCAL_BACKEND: dict[str, Any] = {}


def _preflight(params: BuildParams) -> None:
    """What every video needs, checked before the first one: the cut detector's weights and the fitter. (Inside a
    video's processing a failure is that video's rejection; these would reject every video.)"""
    from macedance.pose.fitters import get_fitter

    if params.shots.detector == "transnet":
        from macedance.datasets.from_video.transnet import WEIGHT_NAME
        from macedance.weights import MissingWeightsError, weights_file

        try:
            weights_file(WEIGHT_NAME)
        except MissingWeightsError as exc:
            raise MissingWeightsError(f"{exc}; or build with `--shot-detector histogram` (no weights)") from None
    get_fitter(params.fitter, params.fit)


def _local(path: Path, rel: str, out: Path, params: BuildParams, genre: str | None, frames: Callable[[int], None]) -> SourceOutcome:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return _unsupported(path, rel, genre)
    key = f"{params.pose_backend}:{params.pose_weights}"
    if key not in _LOCAL_BACKEND:
        from macedance.pose.backends import get_backend

        _LOCAL_BACKEND.clear()
        _LOCAL_BACKEND[key] = get_backend(params.pose_backend, params.pose_weights)
    return process_video(path, rel, out, params=params, genre=genre, progress=frames, backend=_LOCAL_BACKEND[key])


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
