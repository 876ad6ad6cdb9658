"""``Keypoints2D``: per-frame 2D keypoints with confidences on a named skeleton."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.skeleton import SMPL_JOINT_NAMES
from macedance.schema._check import choice, float_array, positive_number

COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
# easy_ViTPose's "coco_25" output order, used by the official MACE-Dance 2D evaluation
# (neck at 5 and mid-hip at 14; see docs and ../shared/reference/mace-video2d-protocol.md §1).
VITPOSE25 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "neck", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_big_toe",
    "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
MEDIAPIPE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)

# The 24 SMPL joints themselves (``macedance.motion.skeleton.SMPL_JOINT_NAMES``): the exact projected
# ground-truth joints that ``macedance data render`` stores (internal joint centres, not skin landmarks).
SMPL24 = SMPL_JOINT_NAMES

KEYPOINT_SKELETONS: dict[str, tuple[str, ...]] = {
    "coco17": COCO17,
    "vitpose25": VITPOSE25,
    "mediapipe33": MEDIAPIPE33,
    "smpl24": SMPL24,
}


@dataclass(frozen=True, eq=False)
class Keypoints2D:
    """2D keypoints of one person over time.

    Attributes:
        data: (T, K, 3) float64 ``(x, y, confidence)``: x and y in pixels of the original frame
            (x to the right, y down, origin at the top-left corner), confidence ≥ 0 (0 = missing).
        skeleton: ``coco17``, ``vitpose25``, ``mediapipe33`` or ``smpl24``; K must match it.
        image_size: (width, height) in pixels.
        fps: frames per second.
        meta: free-form string metadata.
    """

    data: np.ndarray
    skeleton: str
    image_size: tuple[int, int]
    fps: float
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        skel = choice("Keypoints2D.skeleton", self.skeleton, tuple(KEYPOINT_SKELETONS))
        k = len(KEYPOINT_SKELETONS[skel])
        data = float_array("Keypoints2D.data", self.data, (None, k, 3), f"shape (T, {k}, 3) for skeleton {skel}")
        if (data[..., 2] < 0).any():
            raise ValidationError("Keypoints2D.data[..., 2]", "confidences ≥ 0", f"minimum {data[..., 2].min():.3g}")
        try:
            w, h = (int(v) for v in self.image_size)
            if (w, h) != tuple(self.image_size) or w <= 0 or h <= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise ValidationError("Keypoints2D.image_size", "(width, height) positive integers", repr(self.image_size)) from None
        data.setflags(write=False)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "skeleton", skel)
        object.__setattr__(self, "image_size", (w, h))
        object.__setattr__(self, "fps", positive_number("Keypoints2D.fps", self.fps))
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def names(self) -> tuple[str, ...]:
        return KEYPOINT_SKELETONS[self.skeleton]

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    def index(self, name: str) -> int:
        """Index of keypoint ``name`` in this skeleton."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValidationError("keypoint name", f"one of the {self.skeleton} names", repr(name)) from None

    def save(self, path: str | Path) -> Path:
        from macedance.schema.npz import save_keypoints

        return save_keypoints(self, path)

    @staticmethod
    def load(path: str | Path) -> "Keypoints2D":
        from macedance.schema.npz import load_keypoints

        return load_keypoints(path)

    def __getitem__(self, frames: Any) -> "Keypoints2D":
        """Frames selected by a slice."""
        if not isinstance(frames, slice):
            raise TypeError("Keypoints2D supports slicing by frames only")
        return Keypoints2D(self.data[frames], self.skeleton, self.image_size, self.fps, self.meta)
