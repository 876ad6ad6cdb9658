"""Motion metrics on videos — the MACE-Dance full-task protocol with macedance's own pose backend.

2D keypoints are estimated from every generated and ground-truth video with the dataset builder's
pose backend (:mod:`macedance.pose.backends`; default MediaPipe Pose, offline; a fresh tracker per
video, frames downscaled to 640 px, keypoints in source pixels), converted to easy_ViTPose's coco_25
layout (:func:`~macedance.pose.mapping.to_vitpose25`), and scored by the motion evaluator with the
``mace-video2d`` preset (FID_k, FID_g, Div_k, Div_g, BAS; first 64 frames, beats of the
ground-truth clip's music turned into frames at 16 fps, as the official evaluation). The official
numbers used ViTPose-H keypoints: values from another backend are comparable with each other, not
with the paper's table — the backend is recorded in the result.

Keypoints are cached per video by content hash + backend + its version + the frame size.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from macedance.cache import NpzCache, cache_key
from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.video import iter_frames, probe_video, scaled_size
from macedance.metrics.score import SCORE_KEYS, Score
from macedance.metrics.video.metric import VideoInputs, VideoMetric
from macedance.schema import Keypoints2D

KEYPOINTS_VERSION = "1"
POSE_SIDE = 640
MOTION2D_SCORES = ("fid_k", "fid_g", "div_k", "div_g", "bas")


def video_keypoints(path: str | Path, backend: Any, max_side: int | None = POSE_SIDE) -> Keypoints2D:
    """Per-frame 2D keypoints of the one dancer in a video (backend's skeleton, source pixels), cached."""
    path = Path(path)
    max_side = getattr(backend, "max_side", max_side)  # ViTPose runs on full frames, as easy_ViTPose does
    info = probe_video(path)
    key = cache_key("video-keypoints", KEYPOINTS_VERSION, backend.version, json.dumps(backend.info(), sort_keys=True),
                    sha256_file(path), str(max_side))
    cache = NpzCache("video-keypoints")
    if (hit := cache.get(key)) is not None:
        return Keypoints2D(hit["data"], backend.skeleton, (info.width, info.height), info.fps, {"source": path.name, **backend.info()})
    w, h = scaled_size(info.width, info.height, max_side)
    scale = np.array([info.width / w, info.height / h])
    backend.start_shot()
    rows = []
    for frame in iter_frames(path, max_side=max_side, rotate=True):
        kp, _ = backend(frame)
        kp = kp.copy()
        kp[:, :2] *= scale
        rows.append(kp)
    if not rows:
        raise MaceDanceError(f"{path}: the video has no frames")
    data = np.stack(rows)
    cache.put(key, {"data": data})
    return Keypoints2D(data, backend.skeleton, (info.width, info.height), info.fps, {"source": path.name, **backend.info()})


def evaluate_motion2d(P: dict[str, Path], G: dict[str, Path], music: Path | None, skipped: list[dict[str, str]],
                      backend_name: str = "mediapipe", pose_weights: str | Path | None = None,
                      progress: Callable[[int, int, str], None] | None = None) -> dict[str, Score]:
    """Scores ``fid_k``, ``fid_g``, ``div_k``, ``div_g``, ``bas`` (as ``<name>-2d``) of the generated videos ``P``
    against the ground-truth videos ``G`` (dicts stem → path). BAS pairs each generated video with the music
    of the same stem in ``music`` (default: the ground-truth video itself, whose audio track is the music)."""
    from macedance.metrics.motion.evaluate import evaluate_motion_files
    from macedance.metrics.motion.presets import get_preset
    from macedance.pose.backends import get_backend
    from macedance.pose.mapping import to_vitpose25

    backend = get_backend(backend_name, pose_weights)
    jobs = [("pred", s, p) for s, p in sorted(P.items())] + [("gt", s, p) for s, p in sorted(G.items())]
    with tempfile.TemporaryDirectory(prefix="macedance-kp2d-") as tmp:
        files: dict[str, list[Path]] = {"pred": [], "gt": []}
        for i, (role, stem, path) in enumerate(jobs):
            if progress:
                progress(i, len(jobs), f"2D pose {stem}")
            try:
                kp = to_vitpose25(video_keypoints(path, backend))
            except MaceDanceError as exc:
                skipped.append({"video": stem, "set": role, "metric": "motion-2d", "reason": str(exc)})
                continue
            out = Path(tmp) / role / f"{stem}.npz"
            kp.save(out)
            files[role].append(out)
        music_dir = Path(music) if music is not None else Path(tmp) / "music"
        if music is None:  # the ground-truth videos carry the music: link them by stem
            music_dir.mkdir()
            for stem, path in G.items():
                (music_dir / f"{stem}{path.suffix.lower()}").symlink_to(Path(path).resolve())
        result, _ = evaluate_motion_files(files, preset=get_preset("mace-video2d"), music=music_dir)
    for s in result["inputs"]["skipped"] + result["inputs"]["gt_pool"]["left_out"]:
        skipped.append({"video": Path(s["file"]).stem if "file" in s else "", "set": s.get("set", ""), "metric": "motion-2d",
                        "reason": s.get("reason", "")})
    info = {"pose_backend": backend.info(), "keypoints": "converted to easy_ViTPose coco_25 (macedance.pose.mapping.to_vitpose25)",
            "preset": result["preset"]["name"], "preset_hash": result["preset"]["hash"],
            "music": str(music) if music is not None else "the ground-truth videos' audio tracks"}
    scores = {}
    for name in MOTION2D_SCORES:
        s = result["scores"].get(name)
        if s is None:
            continue
        score = Score.from_dict(s)
        gt = result["scores"].get(f"{name}_gt") or {}  # the ground truth's own Div and BAS (a reference row's values)
        score.details = {**(score.details or {}), **info, **({"gt_value": gt["value"]} if gt.get("value") is not None else {})}
        scores[f"{name}-2d"] = score
    return scores


def score_motion2d(inputs: VideoInputs) -> dict[str, Score]:
    """:func:`evaluate_motion2d` of the inputs (a Ray shard with no usable video of a set scores nothing: its
    keypoints are cached all the same)."""
    try:
        return evaluate_motion2d(inputs.pred, inputs.gt, inputs.music, inputs.skipped, inputs.pose_backend, inputs.pose_weights,
                                 inputs.progress)
    except MaceDanceError:
        if not inputs.warm:
            raise
        return {}


#: Scores in the motion evaluator's key order (:data:`~macedance.metrics.score.SCORE_KEYS`).
METRICS = (VideoMetric("motion-2d", "motion-2d", ("sets", "music"), (), score_motion2d,
                       reports=tuple(f"{name}-2d" for name in MOTION2D_SCORES), keys=SCORE_KEYS),)
