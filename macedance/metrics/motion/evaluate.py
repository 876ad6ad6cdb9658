"""Directory evaluation: read prediction and ground-truth folders, compute a preset's metrics, and
return a JSON-ready result record with provenance."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.errors import InputNotFoundError, MaceDanceError, ValidationError
from macedance.executors import check_executor
from macedance.io.motion_formats import FORMAT_CHOICES
from macedance.metrics.motion.inputs import OPTION_FIELDS, find_music, list_sequences, load_beat_times, load_sequence
from macedance.metrics.motion.motion_metrics import ROLES, MotionMetrics, SkipSequence, extract_features
from macedance.metrics.motion.presets import MotionPreset
from macedance.schema._check import choice

log = logging.getLogger(__name__)
RESULT_SCHEMA_VERSION = 1
_POOL_RULES = {"none": "every readable file of --gt forms the reference distribution; every readable prediction is scored",
               "stem": "the stems found among --pred, --gt and --music alike; a pair is dropped whole when one file cannot be read"}


def evaluate_motion_dirs(
    pred: str | Path,
    gt: str | Path,
    *,
    preset: MotionPreset,
    music: str | Path | None = None,
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    motion_format: str = "auto",
) -> dict[str, Any]:
    """Directory form of :func:`evaluate_motion_files` (every sequence file below each folder)."""
    files = {"pred": list_sequences(pred, "pred"), "gt": list_sequences(gt, "gt")}
    result, _ = evaluate_motion_files(files, preset=preset, music=music, fps=fps, up_axis=up_axis, skeleton=skeleton, progress=progress,
                                      workers=workers, executor=executor, address=address, motion_format=motion_format)
    result["inputs"].update(pred=str(pred), gt=str(gt))
    return result


def select_files(files: dict[str, list[Path]], preset: MotionPreset, music: str | Path | None
                 ) -> tuple[dict[str, list[Path]], list[dict[str, str]]]:
    """The files ``preset`` evaluates, and those it leaves out (``file``, ``set``, ``reason``): names starting
    with one of ``preset.skip_prefixes``; under ``pairing="stem"`` every stem that is not among the predictions,
    the ground truth and (when ``music`` is given) the music alike."""
    left: list[dict[str, str]] = []
    kept: dict[str, list[Path]] = {r: [] for r in ROLES}
    for role in ROLES:
        for f in files[role]:
            if preset.skip_prefixes and f.name.startswith(preset.skip_prefixes):
                left.append({"file": str(f), "set": role, "reason": f"name starts with {' or '.join(map(repr, preset.skip_prefixes))} "
                             f"(the reference code of {preset.name} skips such files)"})
            else:
                kept[role].append(f)
    if preset.pairing != "stem":
        return kept, left
    by_stem: dict[str, dict[str, Path]] = {r: {} for r in ROLES}
    for role in ROLES:
        for f in kept[role]:
            if f.stem in by_stem[role]:
                raise ValidationError(role, f"one file per name: {preset.name} pairs predictions and ground truth by file name",
                                      f"{by_stem[role][f.stem]} and {f}")
            by_stem[role][f.stem] = f
    pred, gt = set(by_stem["pred"]), set(by_stem["gt"])
    no_music = {s for s in pred & gt if find_music(music, s) is None} if music is not None else set()
    for role, other, what in (("pred", gt, "ground truth"), ("gt", pred, "prediction")):
        for stem, f in sorted(by_stem[role].items()):
            if stem not in other:
                left.append({"file": str(f), "set": role, "reason": f"no {what} named {stem}.* ({preset.name} evaluates pairs matched by file name)"})
            elif stem in no_music:
                left.append({"file": str(f), "set": role, "reason": f"no music named {stem}.* in {music} ({preset.name} evaluates only the "
                             "pairs with music)"})
    use = (pred & gt) - no_music
    return {r: [by_stem[r][s] for s in sorted(use)] for r in ROLES}, left


def _sequence_features(job: tuple[str, Path], preset: MotionPreset, music: str | Path | None, fps: float | None,
                       up_axis: str | None, skeleton: Any, motion_format: str = "auto") -> tuple[str, Path, Any]:
    """(role, path, features) of one file, or (role, path, reason) when it cannot be evaluated."""
    role, path = job
    try:
        seq = load_sequence(path, representation=preset.representation, fps=fps, up_axis=up_axis, skeleton=skeleton,
                            motion_format=motion_format)
        mpath = find_music(music, path.stem)
        if mpath is None and seq.format == "edge" and "_" in path.stem:  # EDGE's long-mode name <label>_<song>.pkl
            mpath = find_music(music, path.stem.split("_", 1)[1])
        beats = None
        if mpath is not None:
            beats = load_beat_times(mpath, preset.beat_tracker)
        feats = extract_features(seq.data, seq.fps, preset=preset, up_axis=seq.up_axis or "y", beat_times=beats, name=path.stem, role=role)
        if beats is None and "bas" in preset.metrics:
            feats.bas_reason = ("no `music` folder given" if music is None
                                else f"no music or beat file named {path.stem}.* in {music}")
        return role, path, feats
    except (SkipSequence, MaceDanceError) as exc:
        if isinstance(exc, ValidationError) and exc.field in OPTION_FIELDS:
            raise  # a missing/invalid argument, not a bad file
        return role, path, str(exc).replace(f"{path}: ", "")


def motion_shard(jobs: list[tuple[str, Path]], preset: MotionPreset, music: str | Path | None, fps: float | None, up_axis: str | None,
                 skeleton: Any, threads: int = 1, progress: Callable[[int, int, str], None] | None = None,
                 motion_format: str = "auto") -> MotionMetrics:
    """Metric state (per-sequence features and skips) of a shard of files, in job order; shards
    combine with :meth:`MotionMetrics.merge` (a Ray task runs one shard)."""
    metrics = MotionMetrics(preset)
    # numpy releases the GIL in its kernels, so threads overlap file reading and feature maths.
    with ThreadPoolExecutor(max(1, threads)) as pool:
        outs = pool.map(lambda job: _sequence_features(job, preset, music, fps, up_axis, skeleton, motion_format), jobs)
        for done, (role, path, out) in enumerate(outs):
            if progress:
                progress(done, len(jobs), path.name)
            if isinstance(out, str):
                log.info("skipped %s (%s): %s", path, role, out)
                metrics.skip(str(path), role, out)
            else:
                metrics.update(out, role)
    return metrics


def _ray_shards(jobs: list[tuple[str, Path]], preset: MotionPreset, music: str | Path | None, fps: float | None, up_axis: str | None,
                skeleton: Any, address: str | None, progress: Callable[[int, int, str], None] | None, motion_format: str) -> MotionMetrics:
    """The files split into contiguous shards, one Ray task each; shard states merged in job order."""
    from macedance.executors import cluster_cpus, ray_session, run_tasks

    with ray_session(address) as ray:
        n = max(1, min(len(jobs), 4 * cluster_cpus(ray)))
        bounds = [round(i * len(jobs) / n) for i in range(n + 1)]
        shards = [jobs[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
        results: dict[int, MotionMetrics] = {}

        def arrived(i: int, shard: MotionMetrics) -> None:
            results[i] = shard
            if progress:
                progress(sum(len(shards[k]) for k in results), len(jobs), f"shard {i + 1}/{len(shards)}")

        run_tasks(ray, motion_shard, [(s, preset, music, fps, up_axis, skeleton, 1, None, motion_format) for s in shards], arrived)
    metrics = MotionMetrics(preset)
    for i in range(len(shards)):
        metrics.merge(results[i])
    return metrics


def evaluate_motion_files(
    files: dict[str, list[Path]],
    *,
    preset: MotionPreset,
    music: str | Path | None = None,
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    motion_format: str = "auto",
) -> tuple[dict[str, Any], MotionMetrics]:
    """Evaluate every sequence file in ``pred`` against the distribution of those in ``gt``.

    FID and diversity compare the two sets as distributions (names need not match, counts may
    differ), except under a preset with ``pairing="stem"`` (``mace-video2d``), which evaluates only
    the stems present in both folders (and in ``music``), as its reference does; the files each rule
    uses and leaves out are recorded in ``inputs.gt_pool``. BAS pairs each file with the music/beat file of the same stem in ``music``. Files that
    cannot be evaluated are recorded with a reason and skipped. ``workers`` threads read files and
    compute features (default: up to 4); ``executor="ray"`` fans the files out as Ray tasks instead
    (shards merged with :meth:`MotionMetrics.merge`). Results depend on neither. ``motion_format`` reads
    every 3D file as one layout of :mod:`macedance.io.motion_formats` (default ``"auto"``: detected per file).
    """
    t0 = time.perf_counter()
    check_executor(executor)
    choice("motion_format", motion_format, FORMAT_CHOICES if preset.representation != "keypoints2d" else ("auto",))
    if music is not None and not Path(music).is_dir():
        raise InputNotFoundError(f"{music}: `music` folder not found")
    listed = files
    files, left_out = select_files(files, preset, music)
    jobs = [(role, path) for role in ROLES for path in files[role]]
    if executor == "ray":
        metrics = _ray_shards(jobs, preset, music, fps, up_axis, skeleton, address, progress, motion_format)
    else:
        metrics = motion_shard(jobs, preset, music, fps, up_axis, skeleton, workers if workers is not None else min(4, os.cpu_count() or 1),
                               progress, motion_format)
    if progress:
        progress(len(jobs), len(jobs), "")
    pool, unpaired = metrics.pool()
    for role in ROLES:
        if not pool[role]:
            first = next((f"{s['file']}: {s['reason']}" for s in left_out + metrics.skipped if s["set"] == role), "no files")
            raise MaceDanceError(f"no usable {role} sequence (none of {len(listed[role])} files; first reason: {first})")
    path_of = {(role, p.stem): str(p) for role in ROLES for p in files[role]}
    left_out += [{"file": path_of.get((u["set"], u["name"]), u["name"]), "set": u["set"], "reason": u["reason"]} for u in unpaired]
    scores = metrics.compute()
    gt_pool = {"pairing": preset.pairing, "rule": _POOL_RULES[preset.pairing], "published_pool": preset.reference_pool,
               "gt_used": sorted(path_of.get(("gt", f.name), f.name) for f in pool["gt"]), "left_out": left_out}
    warnings = [s.details["warning"] for s in scores.values() if "warning" in s.details]
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "motion-evaluation",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "macedance_version": __version__,
        "preset": {"name": preset.name, "hash": preset.hash, "reference": preset.reference,
                   "choices": preset.to_dict()},
        "inputs": {
            "music": None if music is None else str(music),
            "fps_override": fps, "up_axis_override": up_axis, "format": motion_format,
            "skeleton": getattr(skeleton, "name", "builtin-smpl"),
            "files": {r: len(listed[r]) for r in ROLES},
            "evaluated": {r: len(pool[r]) for r in ROLES},
            "skipped": metrics.skipped,
            "gt_pool": gt_pool,
            "executor": executor,
        },
        "scores": {k: v.to_dict() for k, v in scores.items()},
        "warnings": warnings,
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "scipy": _version("scipy"), "platform": platform.platform()},
        "seconds": round(time.perf_counter() - t0, 3),
    }, metrics


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # pragma: no cover
        return "unknown"
