"""Training samples of the Appearance Expert from a dataset built by ``macedance data build``.

Each kept clip of the split (``clips.jsonl``) needs ``videos/<clip>.mp4`` (the target frames),
``keypoints/<clip>.npz`` (their detected 2D keypoints, drawn as the pose video and used for the face
crops) and ``reference/<clip>.jpg`` (the reference image). A sample is a window of ``frames`` frames
at ``fps`` (source frames at the nearest times), starting at a random time inside the clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from macedance.errors import InputNotFoundError, MaceDanceError


@dataclass
class AppearanceClip:
    id: str
    video: Path
    keypoints: np.ndarray  # (N, K, 3) source px
    skeleton: str
    src_fps: float
    reference: Path


@dataclass
class Sample:
    """Frames (H, W, 3) uint8 RGB at the output size."""

    clip: str
    video: list[np.ndarray]
    pose: list[np.ndarray]
    face: list[np.ndarray]
    reference: np.ndarray


def load_clips(data: str | Path, split: str = "train") -> tuple[list[AppearanceClip], list[dict[str, str]]]:
    """The usable clips of ``split`` (all clips when the dataset has no splits) and the skipped ones with reasons."""
    from macedance.datasets.importers.base import read_clips
    from macedance.schema import Keypoints2D

    data = Path(data)
    index = data / "clips.jsonl"
    if not index.is_file():
        raise InputNotFoundError(f"{data}: no clips.jsonl (a dataset folder written by `macedance data build`)")
    rows = read_clips(index)
    if any(c.split for c in rows):
        rows = [c for c in rows if c.split == split]
    clips, skipped = [], []
    for c in rows:
        try:
            paths = {k: c.file(data, k) for k in ("video_path", "keypoints_path", "reference_path")}
            missing = [k for k, v in paths.items() if v is None]
            if missing:
                hint = " (built with --no-videos? rebuild without it)" if "video_path" in missing else ""
                raise MaceDanceError(f"missing {', '.join(missing)}{hint}")
            kp = Keypoints2D.load(paths["keypoints_path"])
            clips.append(AppearanceClip(c.id, paths["video_path"], kp.data, kp.skeleton, kp.fps, paths["reference_path"]))
        except MaceDanceError as exc:
            skipped.append({"clip": c.id, "reason": str(exc)})
    return clips, skipped


def window_indices(n_src: int, src_fps: float, frames: int, fps: float, start_s: float) -> np.ndarray:
    """Source frame indices of ``frames`` output frames at ``fps`` from ``start_s`` (nearest frame)."""
    t = start_s + np.arange(frames) / fps
    return np.clip(np.rint(t * src_fps).astype(np.int64), 0, n_src - 1)


def load_sample(clip: AppearanceClip, start_s: float, *, frames: int, fps: float, size: tuple[int, int], face_size: int) -> Sample:
    """The window of ``clip`` starting at ``start_s`` seconds, fitted to ``size`` (letterbox)."""
    from PIL import Image

    from macedance.appearance.conditions import keypoint_conditions, letterbox
    from macedance.io.video import iter_frames

    idx = window_indices(len(clip.keypoints), clip.src_fps, frames, fps, start_s)
    a, b = int(idx.min()), int(idx.max())
    decoded = list(iter_frames(clip.video, start=a, max_frames=b - a + 1))
    if len(decoded) < b - a + 1:
        raise MaceDanceError(f"{clip.video}: {len(decoded)} frames from {a}, expected {b - a + 1} (video shorter than its keypoints)")
    frames_ = [decoded[i - a] for i in idx]
    video, pose, face = keypoint_conditions(frames_, clip.keypoints[idx], clip.skeleton, size=size, face_size=face_size)
    ref, _, _ = letterbox(np.asarray(Image.open(clip.reference).convert("RGB")), size)
    return Sample(clip.id, video, pose, face, ref)


def clip_seconds(clip: AppearanceClip) -> float:
    return len(clip.keypoints) / clip.src_fps
