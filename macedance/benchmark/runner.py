"""``macedance bench run``: generate the task's test clips with a method (cached, resumable),
compute the task's metrics, bootstrap 95 % confidence intervals over clips, write a result record."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.benchmark.records import SCHEMA_VERSION, record_score, validate
from macedance.benchmark.samples import motion_sample, write_samples
from macedance.benchmark.tasks import TaskMeta
from macedance.cache import cache_key
from macedance.datasets.importers.base import read_clips
from macedance.errors import InputNotFoundError, MaceDanceError
from macedance.fileio import sha256_file, write_json
from macedance.folder_lock import folder_lock
from macedance.io.audio import MEDIA_SUFFIXES
from macedance.methods.registry import MotionMethod
from macedance.metrics.motion.evaluate import evaluate_motion_files
from macedance.metrics.motion.motion_metrics import MotionMetrics
from macedance.metrics.motion.presets import get_preset
from macedance.schema import Clip, Joints3D, Motion, load_generated

log = logging.getLogger(__name__)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _hardware(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)}; {cpu}"
    import os

    return f"CPU {cpu} × {os.cpu_count()}"


def _music_file(clip: Any, data: Path, music: Path | None, *, audio: bool = False) -> Path:
    """The clip's music: its music ``.npz`` (or a file in ``music``); ``audio``: raw audio only (methods that analyse
    it themselves, e.g. Bailando at 3840 Hz): the clip's wav, else an audio/video file in ``music``."""
    if audio:
        wav = clip.file(data, "audio_path")
        if wav is not None:
            return wav
        for stem in (clip.id, clip.source_video):
            for suffix in MEDIA_SUFFIXES if music is not None else ():
                if (music / f"{stem}{suffix}").is_file():  # type: ignore[operator]
                    return music / f"{stem}{suffix}"  # type: ignore[operator]
        raise MaceDanceError(f"clip {clip.id}: no audio (the method reads raw audio: clip audio_path, or {clip.id}.<audio> in `music`)")
    if clip.music_path is not None:
        p = clip.music_path if clip.music_path.is_absolute() else data / clip.music_path
        if p.is_file():
            return p
    if music is not None:
        for stem in (clip.id, clip.source_video):
            for suffix in (".npz",) + MEDIA_SUFFIXES:
                if (music / f"{stem}{suffix}").is_file():
                    return music / f"{stem}{suffix}"
    raise MaceDanceError(f"clip {clip.id}: no music (clip music_path, or {clip.id}.* in `music`)")


def gt_file(clip: Clip, data: Path) -> Path:
    return clip.motion_path if clip.motion_path.is_absolute() else data / clip.motion_path


def _ground_truth(path: Path) -> Motion | Joints3D:
    """A clip's ground-truth motion, for methods seeded by it (Bailando's first tokens, as its official evaluation)."""
    from macedance.io.motion_formats import read_motion_file

    f = read_motion_file(path)
    return f.motion if f.motion is not None else Joints3D(f.joints, f.fps, f.up_axis)


def split_clips(data: Path, split: str, made_by: str) -> tuple[Path, list[Clip]]:
    """The dataset's ``clips.jsonl`` and its clips of ``split`` (a clear error when either is missing; ``made_by``: the
    commands that write such a dataset)."""
    manifest = data / "clips.jsonl"
    if not manifest.is_file():
        raise InputNotFoundError(f"{data}: no clips.jsonl — `data` must be a dataset made by {made_by}")
    clips = [c for c in read_clips(manifest) if c.split == split]
    if not clips:
        raise MaceDanceError(f"{manifest}: no clip in split {split!r}")
    return manifest, clips


def bootstrap_ci(metrics: MotionMetrics, n: int, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals of the prediction-set scores, resampling predicted clips (with their
    ground-truth partners when the preset pairs them by name)."""
    rows, _ = metrics.pool()
    preds, paired = rows["pred"], metrics.preset.pairing == "stem"
    if n <= 0 or len(preds) < 2:
        return {}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n):
        idx = rng.integers(0, len(preds), len(preds))
        m = MotionMetrics(metrics.preset)
        m.features["gt"] = [dataclasses.replace(rows["gt"][i], name=f"{j:06d}") for j, i in enumerate(idx)] if paired else rows["gt"]
        m.features["pred"] = [dataclasses.replace(preds[i], name=f"{j:06d}") for j, i in enumerate(idx)]
        for key, s in m.compute().items():
            if not key.endswith("_gt") and s.value is not None:
                samples.setdefault(key, []).append(s.value)
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in samples.items() if len(v) >= n // 2}


def record_path(out: Path, task: TaskMeta, method: str) -> Path:
    """Where the record of ``method`` on ``task`` goes in the results folder ``out``."""
    return out / f"{task.name}@v{task.version}__{method}.json"


@contextlib.contextmanager
def run_folder(out: Path, task: TaskMeta, method: str) -> Iterator[Path]:
    """The run folder of ``method`` on ``task`` (``OUT/TASK/vN/METHOD``), held by this run (:mod:`macedance.folder_lock`:
    a second run of the same method on the same task into ``out`` is refused; other methods may run beside it) and
    cleared of the temporary files that a killed run left there or beside its record."""
    run_dir = out / task.name / f"v{task.version}" / method
    with folder_lock(run_dir):
        for tmp in out.glob(f".{record_path(out, task, method).name}.*.tmp"):  # the record is written beside the run folder
            tmp.unlink(missing_ok=True)
        yield run_dir


def run_benchmark(
    task: TaskMeta,
    method: MotionMethod,
    *,
    data: str | Path,
    out: str | Path,
    music: str | Path | None = None,
    bootstrap: int = 200,
    device: str = "cpu",
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run ``method`` on ``task``; returns the result record and where it was written."""
    t0 = time.perf_counter()
    data, out = Path(data), Path(out)
    music = Path(music) if music else None
    manifest, clips = split_clips(data, task.split, "macedance data import/build")
    with run_folder(out, task, method.meta.name) as run_dir:
        return _run(task, method, data=data, out=out, run_dir=run_dir, manifest=manifest, clips=clips, music=music, bootstrap=bootstrap,
                    device=device, progress=progress, t0=t0)


def _run(task: TaskMeta, method: MotionMethod, *, data: Path, out: Path, run_dir: Path, manifest: Path, clips: list[Clip], music: Path | None,
         bootstrap: int, device: str, progress: Callable[[int, int, str], None] | None, t0: float) -> tuple[dict[str, Any], Path]:
    outputs = run_dir / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    weights = ",".join(f"{k}:{v}" for k, v in sorted(method.meta.weights.items()))
    pred_files, gt_files, skipped = [], [], []
    made: dict[str, tuple[Path, Path]] = {}  # clip → (generated file, music) of the first seed: the samples
    with tempfile.TemporaryDirectory() as tmp:
        music_links = Path(tmp)
        jobs = [(seed, c) for seed in task.seeds for c in clips]
        for i, (seed, clip) in enumerate(jobs):
            if progress:
                progress(i, len(jobs), clip.id)
            name = clip.id if len(task.seeds) == 1 else f"{clip.id}__seed{seed}"
            try:
                mfile = _music_file(clip, data, music, audio="audio" in method.meta.capabilities)
                (music_links / f"{name}{mfile.suffix}").symlink_to(mfile.resolve())
                if seed == task.seeds[0]:
                    gt = gt_file(clip, data)
                    (music_links / f"{clip.id}{mfile.suffix}").unlink(missing_ok=True)
                    (music_links / f"{clip.id}{mfile.suffix}").symlink_to(mfile.resolve())
                    gt_files.append(gt)
                target = outputs / f"{name}.npz"
                key = cache_key(task.hash, method.meta.name, method.meta.version, weights, str(seed), clip.id,
                                sha256_file(mfile))
                if seed == task.seeds[0]:  # the sample gets the clip's audio when the method reads music features
                    made[clip.id] = (target, clip.file(data, "audio_path") or mfile)
                if target.is_file() and load_generated(target).meta.get("bench_key") == key:
                    pred_files.append(target)  # resume: already generated with the same inputs
                    continue
                seconds = task.seconds if task.seconds is not None else clip.duration
                extra = {"seed_motion": _ground_truth(gt_file(clip, data))} if "motion-seed" in method.meta.capabilities else {}
                motion = method.generate(mfile, seconds, seed, clip.genre, clip.id, **extra)
                motion.replace(meta={**motion.meta, "bench_key": key, "clip": clip.id}).save(target)
                pred_files.append(target)
            except MaceDanceError as exc:
                if seed == task.seeds[0]:
                    made.pop(clip.id, None)
                skipped.append({"clip": clip.id, "seed": seed, "reason": str(exc)})
                log.info("clip %s skipped: %s", clip.id, exc)
        if progress:
            progress(len(jobs), len(jobs), "evaluating")
        if not pred_files:
            raise MaceDanceError(f"no clip could be generated (first reason: {skipped[0]['reason'] if skipped else '?'})")
        preset = get_preset(task.preset)
        result, metrics = evaluate_motion_files({"pred": pred_files, "gt": gt_files}, preset=preset, music=music_links)
    samples = write_samples(made, run_dir / "samples", out, lambda target, m, music: motion_sample(load_generated(m), target, music=music))
    cis = bootstrap_ci(metrics, bootstrap)
    scores = {}
    for metric in task.metrics:
        s = result["scores"].get(metric)
        if s is None:
            continue
        scores[metric] = record_score(s, cis.get(metric))
    import torch

    record = {
        "schema_version": SCHEMA_VERSION, "kind": "macedance-result",
        "task": {"name": task.name, "version": task.version, "hash": task.hash, "split": task.split,
                 "preset": preset.name, "preset_hash": preset.hash, "main_score": task.main_score},
        "method": method.meta.to_dict(),
        "scores": scores,
        "ground_truth_scores": {k[:-3]: v for k, v in result["scores"].items() if k.endswith("_gt")},
        "dataset": {"path": str(data), "manifest_sha256": sha256_file(manifest), "clips": len(clips),
                    "skipped": skipped + result["inputs"]["skipped"]},
        "samples": samples,
        "provenance": {"macedance_version": __version__, "git_commit": _git_commit(),
                       "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "wall_seconds": round(time.perf_counter() - t0, 3), "seeds": list(task.seeds),
                       "seed_per_clip": "int(sha256(f\"{seed}:{clip_id}\")[:8], 16)",
                       "hardware": _hardware(device), "python": platform.python_version(), "numpy": np.__version__,
                       "torch": torch.__version__, "bootstrap": bootstrap},
    }
    validate(record)
    path = record_path(out, task, method.meta.name)
    write_json(path, record, strict=True)
    return record, path
