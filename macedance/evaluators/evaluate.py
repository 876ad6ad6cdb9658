"""Directory evaluation: read prediction and ground-truth folders, compute a preset's metrics, and
return a JSON-ready result record with provenance."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.errors import InputNotFoundError, MaceDanceError, ValidationError
from macedance.evaluators.inputs import find_music, list_sequences, load_beat_times, load_sequence
from macedance.evaluators.motion import ROLES, MotionMetrics, SkipSequence, extract_features
from macedance.evaluators.presets import MotionPreset

log = logging.getLogger(__name__)
RESULT_SCHEMA_VERSION = 1


def evaluate_motion_dirs(
    pred: str | Path,
    gt: str | Path,
    preset: MotionPreset,
    music: str | Path | None = None,
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Directory form of :func:`evaluate_motion_files` (every sequence file below each folder)."""
    files = {"pred": list_sequences(pred, "pred"), "gt": list_sequences(gt, "gt")}
    result, _ = evaluate_motion_files(files, preset, music, fps, up_axis, skeleton, progress, workers)
    result["inputs"].update(pred=str(pred), gt=str(gt))
    return result


def evaluate_motion_files(
    files: dict[str, list[Path]],
    preset: MotionPreset,
    music: str | Path | None = None,
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: Any = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
) -> tuple[dict[str, Any], MotionMetrics]:
    """Evaluate every sequence file in ``pred`` against the distribution of those in ``gt``.

    FID and diversity compare the two sets as distributions (names need not match, counts may
    differ). BAS pairs each file with the music/beat file of the same stem in ``music``. Files that
    cannot be evaluated are recorded with a reason and skipped. ``workers`` threads read files and
    compute features (default: up to 4); results do not depend on it.
    """
    t0 = time.perf_counter()
    if music is not None and not Path(music).is_dir():
        raise InputNotFoundError(f"{music}: --music folder not found")
    metrics = MotionMetrics(preset)
    jobs = [(role, path) for role in ROLES for path in files[role]]

    def work(job: tuple[str, Path]) -> tuple[str, Path, Any]:
        role, path = job
        try:
            seq = load_sequence(path, preset.representation, fps, up_axis, skeleton)
            mpath = find_music(music, path.stem)
            beats = None
            if mpath is not None:
                beats = load_beat_times(mpath, preset.beat_tracker)
            feats = extract_features(seq.data, seq.fps, preset, seq.up_axis or "y", beats, path.stem, role)
            if beats is None and "bas" in preset.metrics:
                feats.bas_reason = ("no --music folder given" if music is None
                                    else f"no music or beat file named {path.stem}.* in {music}")  # fmt: skip
            return role, path, feats
        except (SkipSequence, MaceDanceError) as exc:
            if isinstance(exc, ValidationError) and exc.field.startswith("--"):
                raise  # a missing/invalid option, not a bad file
            return role, path, str(exc).replace(f"{path}: ", "")

    # numpy releases the GIL in its kernels, so threads overlap file reading and feature maths.
    n_workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(n_workers) as pool:
        for done, (role, path, out) in enumerate(pool.map(work, jobs)):
            if progress:
                progress(done, len(jobs), path.name)
            if isinstance(out, str):
                log.info("skipped %s (%s): %s", path, role, out)
                metrics.skip(str(path), role, out)
            else:
                metrics.update(out, role)
    if progress:
        progress(len(jobs), len(jobs), "")
    for role in ROLES:
        if not metrics.features[role]:
            first = next((s["reason"] for s in metrics.skipped if s["set"] == role), "no files")
            raise MaceDanceError(f"no usable {role} sequence (all {len(files[role])} skipped; first reason: {first})")
    scores = metrics.compute()
    warnings = [s.details["warning"] for s in scores.values() if "warning" in s.details]
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "motion-evaluation",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "macedance_version": __version__,
        "preset": {"name": preset.name, "hash": preset.hash, "reference": preset.reference,
                   "choices": preset.to_dict()},  # fmt: skip
        "inputs": {
            "music": None if music is None else str(music),
            "fps_override": fps, "up_axis_override": up_axis,
            "skeleton": getattr(skeleton, "name", "builtin-smpl"),
            "files": {r: len(files[r]) for r in ROLES},
            "evaluated": {r: len(metrics.features[r]) for r in ROLES},
            "skipped": metrics.skipped,
        },  # fmt: skip
        "scores": {k: v.to_dict() for k, v in scores.items()},
        "warnings": warnings,
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "scipy": _version("scipy"), "platform": platform.platform()},  # fmt: skip
        "seconds": round(time.perf_counter() - t0, 3),
    }, metrics


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # pragma: no cover
        return "unknown"
