"""Skeleton videos: SMPL-24 joints drawn from the front (orthographic), for quick visual checks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.skeleton import SMPL_PARENTS
from macedance.schema import Joints3D, Motion

_LEFT = {1, 4, 7, 10, 13, 16, 18, 20, 22}
_RIGHT = {2, 5, 8, 11, 14, 17, 19, 21, 23}


def skeleton_frames(motion: Motion | Joints3D, size: tuple[int, int] = (480, 480), margin: float = 0.1) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 frames: front view (x right, up axis up), framing the whole performance (SMPL-24 joints)."""
    from PIL import Image, ImageDraw

    joints = motion.joints()
    if joints.shape[1] != len(SMPL_PARENTS):
        raise ValidationError("joints", f"{len(SMPL_PARENTS)} SMPL joints to draw", f"{joints.shape[1]} joints")
    up = 1 if motion.up_axis == "y" else 2
    xy = np.stack([joints[..., 0], joints[..., up]], -1)  # horizontal, vertical
    lo, hi = xy.reshape(-1, 2).min(0), xy.reshape(-1, 2).max(0)
    w, h = size
    scale = (1 - 2 * margin) * min(w / max(hi[0] - lo[0], 1e-6), h / max(hi[1] - lo[1], 1e-6))
    centre = (lo + hi) / 2
    px = np.empty_like(xy)
    px[..., 0] = w / 2 + (xy[..., 0] - centre[0]) * scale
    px[..., 1] = h / 2 - (xy[..., 1] - centre[1]) * scale
    floor_y = h / 2 - (lo[1] - centre[1]) * scale
    for pts in px:
        img = Image.new("RGB", (w, h), (250, 250, 247))
        d = ImageDraw.Draw(img)
        d.line([(0, floor_y), (w, floor_y)], fill=(200, 200, 200), width=2)
        for j, p in enumerate(SMPL_PARENTS):
            if p < 0:
                continue
            colour = (40, 110, 200) if j in _LEFT else (210, 80, 60) if j in _RIGHT else (60, 60, 60)
            d.line([tuple(pts[p]), tuple(pts[j])], fill=colour, width=max(2, w // 120))
        for q in pts:
            r = max(2, w // 160)
            d.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=(30, 30, 30))
        yield np.asarray(img)
