"""Skeleton-overlay previews: 2D keypoints drawn over the source frames of a clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from macedance.schema.keypoints import KEYPOINT_SKELETONS

_EDGES_BY_NAME = (
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"),
    ("left_ankle", "left_big_toe"), ("right_ankle", "right_big_toe"), ("nose", "left_eye"), ("nose", "right_eye"),
    ("left_eye", "left_ear"), ("right_eye", "right_ear"),
)


def skeleton_edges(skeleton: str) -> list[tuple[int, int]]:
    """Index pairs of the limbs drawn for a keypoint skeleton (those whose two ends it has)."""
    names = KEYPOINT_SKELETONS[skeleton]
    return [(names.index(a), names.index(b)) for a, b in _EDGES_BY_NAME if a in names and b in names]


def draw_keypoints(frame: np.ndarray, kp: np.ndarray, skeleton: str, min_conf: float = 0.3) -> np.ndarray:
    """A copy of (H, W, 3) uint8 ``frame`` with (K, 3) keypoints (px, confidence) drawn on it."""
    import cv2

    img = np.ascontiguousarray(frame).copy()
    h = img.shape[0]
    width = max(2, h // 180)
    names = KEYPOINT_SKELETONS[skeleton]
    for a, b in skeleton_edges(skeleton):
        if kp[a, 2] >= min_conf and kp[b, 2] >= min_conf:
            left = names[a].startswith("left") or names[b].startswith("left")
            colour = (40, 110, 230) if left else (230, 80, 60)
            cv2.line(img, tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2]), colour, width, cv2.LINE_AA)
    for x, y, c in kp:
        if c >= min_conf:
            cv2.circle(img, (int(x), int(y)), width + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return img


def write_overlay_preview(video: str | Path, out: str | Path, *, start: int, end: int, fps: float, keypoints: np.ndarray,
                          skeleton: str, audio: str | Path | None = None) -> Path:
    """Write frames [start, end) of ``video`` with ``keypoints`` ((end − start, K, 3)) drawn, as an mp4."""
    from macedance.io.video import write_clip

    return write_clip(video, out, start=start, end=end, fps=fps, audio=audio, draw=lambda i, frame: draw_keypoints(frame, keypoints[i], skeleton))
