"""The typed, validated data model: Motion, Joints3D, Keypoints2D, Music, Clip, and their file format."""

from macedance.schema.clip import SPLITS, Clip, Music
from macedance.schema.joints import Joints3D
from macedance.schema.keypoints import KEYPOINT_SKELETONS, Keypoints2D
from macedance.schema.motion import Motion
from macedance.schema.npz import (
    SCHEMA_VERSION,
    load_generated,
    load_joints,
    load_keypoints,
    load_motion,
    save_joints,
    save_keypoints,
    save_motion,
)

__all__ = [
    "SCHEMA_VERSION", "SPLITS", "KEYPOINT_SKELETONS", "Clip", "Joints3D", "Keypoints2D", "Motion", "Music",
    "load_generated", "load_joints", "load_keypoints", "load_motion", "save_joints", "save_keypoints", "save_motion",
]
