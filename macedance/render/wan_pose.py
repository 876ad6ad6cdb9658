"""Pose images in the format of Wan-Animate's pose input (its preprocessing's body drawing).

Re-implemented from the description of ``draw_aapose_new`` with ``stickwidth_type="v2"`` in
Wan-Video/Wan2.2 @42bf4cf, ``wan/modules/animate/preprocess/human_visualization.py`` (not copied):

* a black canvas of the output size, RGB;
* 20 body keypoints in OpenPose-18 order plus two toes (:data:`WAN_BODY20`); Wan derives them from
  COCO-WholeBody (neck = mean of the shoulders, each toe = mean of the big and small toe);
* 19 limbs, each a filled ellipse from one keypoint to the other whose half-width is the stick width
  ``max(int(min(H, W) / 200) − 1, 1)`` px, in its limb colour × 0.6; then every keypoint as a filled
  disc of that radius in its own colour; a keypoint (and its limbs) is drawn only when its
  confidence is ≥ 0.5.

Wan also draws 21-point hands when its whole-body detector finds them; SMPL-24 motion and the
MediaPipe keypoints of a built dataset have no finger joints, so no hands are drawn here (the same
for training and inference).
"""

from __future__ import annotations

import math

import numpy as np

WAN_BODY20: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear", "left_toe", "right_toe",
)
# Limbs as index pairs into WAN_BODY20, in drawing order (Wan's limbSeq, 0-based).
WAN_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (13, 18), (10, 19),
)
# RGB colour of limb i and of keypoint i (the first 19 serve both; index 19 is the right toe's).
WAN_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0), (0, 255, 85),
    (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255),
    (255, 0, 170), (255, 0, 85), (200, 200, 0), (100, 100, 0),
)
FACE_POINTS = (0, 14, 15, 16, 17)  # nose, eyes, ears in WAN_BODY20
MIN_CONF = 0.5


def stick_width(width: int, height: int) -> int:
    """Half-width of the limbs and radius of the joints, px (Wan's ``v2`` rule)."""
    return max(int(min(height, width) / 200) - 1, 1)


def draw_wan_pose(size: tuple[int, int], kp: np.ndarray, min_conf: float = MIN_CONF) -> np.ndarray:
    """(H, W, 3) uint8 RGB pose image of ``size`` = (W, H) from (20, 3) ``(x px, y px, confidence)``."""
    import cv2

    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    sw = stick_width(w, h)
    ok = kp[:, 2] >= min_conf
    for (a, b), colour in zip(WAN_LIMBS, WAN_COLORS, strict=False):
        if not (ok[a] and ok[b]):
            continue
        (xa, ya), (xb, yb) = kp[a, :2], kp[b, :2]
        length = math.hypot(xa - xb, ya - yb)
        angle = math.degrees(math.atan2(ya - yb, xa - xb))
        poly = cv2.ellipse2Poly((int((xa + xb) / 2), int((ya + yb) / 2)), (int(length / 2), sw), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(img, poly, [int(c * 0.6) for c in colour])
    for j in np.flatnonzero(ok):
        cv2.circle(img, (int(kp[j, 0]), int(kp[j, 1])), sw, WAN_COLORS[j], thickness=-1)
    return img
