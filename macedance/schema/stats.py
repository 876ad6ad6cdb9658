"""Descriptive statistics of a motion (for ``macedance data info`` and dataset cards)."""

from __future__ import annotations

from typing import Any

import numpy as np

from macedance.motion.kinematics import foot_contacts, joint_speeds
from macedance.motion.skeleton import RestSkeleton, builtin_skeleton
from macedance.schema import Motion


def motion_statistics(motion: Motion, skeleton: RestSkeleton | None = None) -> dict[str, Any]:
    """Summary numbers of one motion.

    Returns a dict with: ``frames``, ``fps``, ``seconds``, ``up_axis``, ``root_travel_m`` (horizontal
    path length of the pelvis), ``mean_joint_speed_mps`` (mean over frames and joints),
    ``p95_wrist_speed_mps``, ``foot_contact_ratio`` (fraction of foot-joint frames in contact),
    ``height_m`` (mean vertical extent of the body).
    """
    joints = motion.joints(skeleton or builtin_skeleton())
    up = 1 if motion.up_axis == "y" else 2
    horizontal = [a for a in range(3) if a != up]
    pelvis = joints[:, 0, horizontal]
    speeds = joint_speeds(joints, motion.fps)
    return {
        "frames": motion.num_frames,
        "fps": motion.fps,
        "seconds": motion.duration,
        "up_axis": motion.up_axis,
        "root_travel_m": float(np.linalg.norm(np.diff(pelvis, axis=0), axis=-1).sum()),
        "mean_joint_speed_mps": float(speeds.mean()),
        "p95_wrist_speed_mps": float(np.percentile(speeds[:, [20, 21]], 95)),
        "foot_contact_ratio": float(foot_contacts(joints, motion.fps).mean()),
        "height_m": float((joints[..., up].max(-1) - joints[..., up].min(-1)).mean()),
    }
