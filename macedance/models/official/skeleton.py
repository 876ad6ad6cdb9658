"""EDGE's forward kinematics (``vis.py``'s ``SMPLSkeleton``), which every EDGE-family method uses for the
``full_pose`` joints of its output files: the SMPL mean-shape bone offsets (our built-in skeleton's bones are that
table) with the pelvis placed AT the root translation (no pelvis rest offset, unlike SMPL)."""

from __future__ import annotations

from functools import lru_cache

import torch

from macedance.motion.kinematics import forward_kinematics
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.motion.skeleton import RestSkeleton, builtin_skeleton


@lru_cache(maxsize=1)
def edge_skeleton() -> RestSkeleton:
    """The built-in skeleton translated so that the pelvis rest position is the origin."""
    rest = builtin_skeleton()
    return RestSkeleton(rest.joints - rest.joints[0], name="edge-smpl")


def edge_fk(poses: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """(…, T, 24, 3) axis-angle local rotations + (…, T, 3) root positions → (…, T, 24, 3) joint positions."""
    return forward_kinematics(axis_angle_to_matrix(poses), trans, edge_skeleton())
