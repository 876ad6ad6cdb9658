"""SMPL skeleton, rotations and kinematics (numpy and torch)."""

from macedance.motion.kinematics import foot_contacts, forward_kinematics, joint_speeds, up_axis_rotation
from macedance.motion.skeleton import (
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    RestSkeleton,
    builtin_skeleton,
    skeleton_from_smplx,
)

__all__ = [
    "SMPL_JOINT_NAMES", "SMPL_PARENTS", "RestSkeleton", "builtin_skeleton", "foot_contacts",
    "forward_kinematics", "joint_speeds", "skeleton_from_smplx", "up_axis_rotation",
]
