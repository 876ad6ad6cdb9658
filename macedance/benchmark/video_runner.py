"""``macedance bench run`` on a video task: make every test clip's video with a video method (cached, resumable),
score the videos against the clips' own videos with ``eval video``'s metrics, write a result record.

Per clip (frames at the task's rate ``fps``: source frame ``round(i · src_fps / fps)`` for ``i < ⌊duration · fps⌋``):

* the **ground truth** is the clip's video at those frames, letterboxed into the task's canvas, written once per task
  version under ``OUT/<task>/v<N>/ground-truth`` (keyed by the clip's video and keypoints);
* the **job** is the clip's first frame (``reference/``) with its dataset keypoints, and either the clip's own frames and
  keypoints (``animation``: the driving pose) or its music (``music2video``);
* the **output** is ``OUT/<task>/v<N>/<method>/outputs/<clip>.mp4`` with a ``.json`` key beside it: a rerun with the same
  task, method version, weights, sampling settings, seed and inputs reuses it, so a killed run resumes where it stopped.

Evaluation videos are H.264 at CRF 10 (near-lossless: re-encoding changes PSNR by far less than the differences
between methods), so the encoder's loss is the same for every method; a ``folder`` method's files are scored as given.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.benchmark.records import SCHEMA_VERSION, record_score, validate
from macedance.benchmark.runner import _git_commit, _hardware, _music_file, record_path, run_folder, split_clips
from macedance.benchmark.samples import video_sample, write_samples
from macedance.benchmark.tasks import TaskMeta
from macedance.cache import cache_key
from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file, write_json
from macedance.methods.video import DrivingPose, VideoFolderMethod, VideoJob, VideoMethod
from macedance.schema import Clip

log = logging.getLogger(__name__)

EVAL_CRF = 10


def _frame_indices(n_src: int, src_fps: float, fps: float) -> np.ndarray:
    """Source frames of the task-rate frames of a clip of ``n_src`` frames at ``src_fps`` (nearest frame)."""
    from macedance.appearance.data import window_indices

    n = int(np.floor(n_src / src_fps * fps + 1e-6))
    if n < 2:
        raise MaceDanceError(f"{n_src} frames at {src_fps:g} fps give {n} frame(s) at {fps:g} fps (need at least 2)")
    return window_indices(n_src, src_fps, n, fps, 0.0)


class ClipInputs:
    """A clip's files for a video task (each missing one is a one-line reason) and its frames at the task's rate."""

    def __init__(self, clip: Clip, data: Path, task: TaskMeta):
        from PIL import Image, UnidentifiedImageError

        from macedance.schema import Keypoints2D

        files = {k: clip.file(data, k) for k in ("video_path", "keypoints_path", "reference_path")}
        missing = [k for k, v in files.items() if v is None]
        if missing:
            raise MaceDanceError(f"no {', '.join(missing)} in the dataset (a clip needs its video, keypoints and reference frame)")
        self.clip, self.video, self.reference_file, self.keypoints_file = (clip, files["video_path"], files["reference_path"],
                                                                           files["keypoints_path"])
        kp = Keypoints2D.load(files["keypoints_path"])
        self.keypoints, self.skeleton, self.src_fps = kp.data, kp.skeleton, kp.fps
        assert task.fps is not None
        self.indices = _frame_indices(len(kp.data), kp.fps, task.fps)
        try:
            self.reference = np.asarray(Image.open(self.reference_file).convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise MaceDanceError(f"{self.reference_file}: not a readable image ({exc})") from None
        self._frames: list[np.ndarray] | None = None

    def frames(self) -> list[np.ndarray]:
        """The clip's video frames at the task's rate (source size)."""
        if self._frames is None:
            from macedance.io.video import iter_frames

            last = int(self.indices.max())
            decoded = list(iter_frames(self.video, max_frames=last + 1))
            if len(decoded) <= last:
                raise MaceDanceError(f"{self.video}: {len(decoded)} frames, its keypoints need {last + 1}")
            self._frames = [decoded[i] for i in self.indices]
        return self._frames

    def ground_truth(self, folder: Path, task: TaskMeta) -> Path:
        """The clip's ground-truth video on the task's canvas (written once; reused while its inputs are the same)."""
        from macedance.appearance.conditions import letterbox
        from macedance.io.video import write_video

        assert task.size is not None and task.fps is not None
        target, stamp = folder / f"{self.clip.id}.mp4", folder / f"{self.clip.id}.json"
        key = cache_key(task.hash, self.clip.id, sha256_file(self.video), sha256_file(self.keypoints_file))
        if target.is_file() and stamp.is_file() and _read_key(stamp) == key:
            return target
        write_video(target, (letterbox(f, task.size)[0] for f in self.frames()), task.fps, crf=EVAL_CRF)
        write_json(stamp, {"key": key, "clip": self.clip.id, "frames": len(self.indices)})
        return target


def _clip_music(clip: Clip, data: Path, music: Path | None) -> Path:
    """The music a motion method reads for ``clip``: what ``madata-motion`` gives it (the clip's music features, or
    ``<id>.*`` in ``music``), else the clip's audio."""
    try:
        return _music_file(clip, data, music)
    except MaceDanceError:
        audio = clip.file(data, "audio_path")
        if audio is None:
            raise MaceDanceError(f"clip {clip.id}: no music (no music_path or audio_path, and no {clip.id}.* in `music`)") from None
        return audio


def _read_key(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("key")
    except (OSError, ValueError):
        return None


def _check_size(method: VideoMethod, frames: np.ndarray, task: TaskMeta, clip: str) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 2:
        raise MaceDanceError(f"clip {clip}: {method.meta.name} returned {frames.dtype} {frames.shape}, expected (T ≥ 2, H, W, 3) uint8")
    assert task.size is not None
    (W, H), (h, w) = task.size, frames.shape[1:3]
    if abs(w / h - W / H) > 0.01 * W / H:
        raise MaceDanceError(f"clip {clip}: {method.meta.name} made {w}×{h} frames; the task's canvas is {W}×{H} "
                             "(generate at its aspect ratio, e.g. --width/--height a fraction of it)")


def run_video_benchmark(
    task: TaskMeta,
    method: VideoMethod,
    *,
    data: str | Path,
    out: str | Path,
    music: str | Path | None = None,
    metrics: tuple[str, ...] | None = None,
    device: str = "cpu",
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run the video ``method`` on the video ``task`` (``metrics``: a subset of the task's); returns the record and
    where it was written. Weights the metrics need are checked before anything is generated."""
    from macedance.io.video import write_video
    from macedance.metrics.video.evaluate import evaluate_videos

    t0 = time.perf_counter()
    if not task.video:
        raise MaceDanceError(f"{task.name} is a motion task (run it with a motion method)")
    if task.kind not in method.meta.capabilities:
        raise MaceDanceError(f"{method.meta.name} does {', '.join(method.meta.capabilities)}; {task.name} needs a {task.kind} method "
                             + ("(a cascade: <motion method>+wan-animate or +appearance-expert)" if task.kind == "music2video" else
                                "(wan-animate, appearance-expert or folder)"))
    chosen = task.check_metrics(metrics)
    task.check_weights(chosen)
    data, out = Path(data), Path(out)
    music = Path(music) if music else None
    manifest, clips = split_clips(data, task.split, "macedance data build or data render")
    with run_folder(out, task, method.meta.name):
        task_dir = out / task.name / f"v{task.version}"
        outputs, gt_dir = task_dir / method.meta.name / "outputs", task_dir / "ground-truth"
        outputs.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        weights = ",".join(f"{k}:{v}" for k, v in sorted(method.meta.weights.items()))
        # the sampling settings (size, steps, segments, LoRA strength; a cascade's motion settings) are part of the key
        settings = json.dumps({k: v for k, v in method.meta.config.items() if k != "parameters"}, sort_keys=True, default=str)
        skipped: list[dict[str, Any]] = []
        made: dict[str, tuple[Path, Path, Path | None]] = {}  # clip → (video, ground truth, music) of the first seed: the samples
        assert task.fps is not None and task.size is not None
        with tempfile.TemporaryDirectory(prefix="macedance-bench-") as tmp:
            links = {k: Path(tmp) / k for k in ("pred", "gt", "ref", "music")}
            for d in links.values():
                d.mkdir()
            jobs = [(seed, c) for seed in task.seeds for c in clips]
            for i, (seed, clip) in enumerate(jobs):
                name = clip.id if len(task.seeds) == 1 else f"{clip.id}__seed{seed}"
                if progress:
                    progress(i, len(jobs), clip.id)
                try:
                    inputs = ClipInputs(clip, data, task)
                    gt = inputs.ground_truth(gt_dir, task)
                    mfile = _clip_music(clip, data, music) if task.kind == "music2video" else None
                    audio = clip.file(data, "audio_path") or mfile
                    target, stamp = outputs / f"{name}.mp4", outputs / f"{name}.json"
                    key = cache_key(task.hash, method.meta.name, method.meta.version, weights, settings, str(seed), clip.id, sha256_file(inputs.video),
                                    sha256_file(inputs.reference_file), sha256_file(mfile) if mfile else "")
                    if isinstance(method, VideoFolderMethod):
                        found = method.generate_video(VideoJob(clip.id, seed, clip.genre, task.fps, len(inputs.indices), task.size,
                                                               inputs.reference))
                        assert isinstance(found, Path)
                        target = found
                    elif not (target.is_file() and _read_key(stamp) == key):  # else: resume, made before with the same inputs
                        job = VideoJob(clip.id, seed, clip.genre, task.fps, len(inputs.indices), task.size, inputs.reference,
                                       inputs.keypoints[0], inputs.skeleton, mfile,
                                       DrivingPose(inputs.frames(), inputs.keypoints[inputs.indices], inputs.skeleton) if task.kind == "animation" else None)
                        generated = method.generate_video(job, (lambda d, n, c=clip.id, k=i: progress(k, len(jobs), f"{c} {d}/{n}")) if progress else None)
                        frames = np.asarray(generated) if not isinstance(generated, Path) else None
                        if frames is None:
                            raise MaceDanceError(f"clip {clip.id}: {method.meta.name} returned a file; built-in methods return frames")
                        _check_size(method, frames, task, clip.id)
                        write_video(target, frames, task.fps, crf=EVAL_CRF)
                        write_json(stamp, {"key": key, "clip": clip.id, "seed": seed, "frames": len(frames)})
                    if seed == task.seeds[0]:
                        made[clip.id] = (target, gt, audio)
                    (links["pred"] / f"{name}{target.suffix.lower()}").symlink_to(target.resolve())
                    if not (links["gt"] / f"{clip.id}.mp4").exists():
                        (links["gt"] / f"{clip.id}.mp4").symlink_to(gt.resolve())
                    (links["ref"] / f"{name}{inputs.reference_file.suffix.lower()}").symlink_to(inputs.reference_file.resolve())
                    if audio is not None:
                        (links["music"] / f"{name}{audio.suffix.lower()}").symlink_to(audio.resolve())
                except MaceDanceError as exc:
                    skipped.append({"clip": clip.id, "seed": seed, "reason": str(exc)})
                    log.info("clip %s skipped: %s", clip.id, exc)
            if progress:
                progress(len(jobs), len(jobs), "evaluating")
            if not any(links["pred"].iterdir()):
                raise MaceDanceError(f"no clip could be generated (first reason: {skipped[0]['reason'] if skipped else '?'})")
            opts = dict(preset=task.preset, fvd_preset=task.fvd_preset or "stylegan-v", device=device, ref=links["ref"],
                        music=links["music"] if any(links["music"].iterdir()) else None, pose_backend=task.pose_backend or "mediapipe")
            result = _evaluate(links["pred"], links["gt"], chosen, opts, evaluate_videos)
        samples = write_samples(made, outputs.parent / "samples", out,
                                lambda target, p, g, a: video_sample(p, g, target, fps=task.fps or 16.0, music=a))
        scores = {k: record_score(v) for k, v in result["scores"].items() if k in task.scores}
        truth = {k: {"value": float(v["details"]["gt_value"])} for k, v in result["scores"].items()
                 if k in task.scores and isinstance(v.get("details"), dict) and v["details"].get("gt_value") is not None}
        import torch

        extra = method.extra() if isinstance(method, VideoFolderMethod) else []
        record = {
            "schema_version": SCHEMA_VERSION, "kind": "macedance-result",
            "task": {"name": task.name, "version": task.version, "hash": task.hash, "split": task.split, "kind": task.kind,
                     "preset": task.preset, "preset_hash": task.preset_hash, "main_score": task.main_score, "metrics": list(chosen)},
            "method": method.meta.to_dict(),
            "scores": scores,
            "ground_truth_scores": truth,
            "dataset": {"path": str(data), "manifest_sha256": sha256_file(manifest), "clips": len(clips),
                        "skipped": skipped + result["inputs"]["skipped"], **({"extra_outputs": extra} if extra else {})},
            "samples": samples,
            "evaluation": {"policy": result["policy"], "fps": task.fps, "canvas": list(task.size), "encoding": f"H.264 CRF {EVAL_CRF}",
                           "warnings": result.get("warnings", [])},
            "provenance": {"macedance_version": __version__, "git_commit": _git_commit(),
                           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                           "wall_seconds": round(time.perf_counter() - t0, 3), "seeds": list(task.seeds),
                           "seed_per_clip": "int(sha256(f\"{seed}:{clip_id}\")[:8], 16)",
                           "hardware": _hardware(device), "python": platform.python_version(), "numpy": np.__version__,
                           "torch": torch.__version__, "bootstrap": 0},
        }
        validate(record)
        path = record_path(out, task, method.meta.name)
        write_json(path, record, strict=True)
        return record, path


def _evaluate(pred: Path, gt: Path, metrics: tuple[str, ...], opts: dict[str, Any], evaluate: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """All ``metrics`` in one evaluation; when it fails, each metric alone, and the scores of one that fails are
    undefined with its reason (e.g. no person found in any generated video for ``motion-2d``)."""
    from macedance.metrics.video.evaluate import VIDEO_METRICS

    try:
        return evaluate(pred, gt, metrics=metrics, **opts)
    except MaceDanceError as first:
        log.info("evaluating the metrics one by one (%s)", first)
    merged: dict[str, Any] = {"scores": {}, "inputs": {"skipped": []}, "policy": {}, "warnings": []}
    for m in metrics:
        try:
            r = evaluate(pred, gt, metrics=(m,), **opts)
        except MaceDanceError as exc:
            for s in VIDEO_METRICS[m].scores:
                merged["scores"][s] = {"value": None, "n": 0, "undefined_reason": str(exc)}
            continue
        merged["scores"].update(r["scores"])
        merged["inputs"]["skipped"] += [s for s in r["inputs"]["skipped"] if s not in merged["inputs"]["skipped"]]
        merged["policy"] = merged["policy"] or r["policy"]
        merged["warnings"] += r.get("warnings", [])
    return merged
