"""Procedural dance motions written in the exact AIST++ and FineDance file formats.

Used by ``macedance demo`` (the embedded default dataset) and by the tests: real formats, generated
content, no licensed data. The motion is a beat-synchronous periodic dance — arm swings, knee
bounces, hip sway, a slowly turning and travelling root — with seeded phases and amplitudes.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from macedance.fileio import atomic_write
from macedance.motion.kinematics import foot_contacts, forward_kinematics
from macedance.motion.rotations import axis_angle_to_matrix, axis_angle_to_rot6d
from macedance.motion.skeleton import builtin_skeleton
from macedance.schema import Motion

# (joint, axis, amplitude rad, offset rad, beat multiple) of the periodic joint motions.
_PATTERN = (
    (16, 2, 0.6, -0.6, 1.0), (17, 2, 0.6, 0.6, 1.0), (16, 1, 0.4, 0.0, 0.5), (17, 1, 0.4, 0.0, 0.5),
    (18, 1, 0.7, -0.7, 1.0), (19, 1, 0.7, 0.7, 1.0), (1, 0, 0.35, -0.1, 0.5), (2, 0, 0.35, -0.1, 0.5),
    (4, 0, 0.45, 0.5, 1.0), (5, 0, 0.45, 0.5, 1.0), (3, 2, 0.12, 0.0, 0.5), (6, 1, 0.15, 0.0, 0.25),
    (9, 2, 0.1, 0.0, 0.5), (15, 0, 0.15, 0.05, 1.0), (12, 1, 0.1, 0.0, 0.5),
)


def synthetic_motion(*, seconds: float = 4.0, fps: float = 60.0, bpm: float = 120.0, seed: int = 0) -> Motion:
    """A generated SMPL-24 dance motion (y-up, metres).

    Args:
        seconds: duration.
        fps: frame rate.
        bpm: tempo the movement follows.
        seed: random phases, amplitudes and travel direction.
    """
    rng = np.random.default_rng(seed)
    T = max(2, int(round(seconds * fps)))
    t = np.arange(T) / fps
    beat_hz = bpm / 60.0
    poses = np.zeros((T, 24, 3))
    for joint, axis, amp, off, mult in _PATTERN:
        a = amp * rng.uniform(0.6, 1.4)
        phase = rng.uniform(0, 2 * np.pi)
        poses[:, joint, axis] += off + a * np.sin(2 * np.pi * beat_hz * mult * t + phase)
    poses[:, 4, 0] = np.abs(poses[:, 4, 0])  # knees only flex one way
    poses[:, 5, 0] = np.abs(poses[:, 5, 0])
    # Alternating steps: each leg moves during one half of a two-beat cycle and stands in the other.
    step = np.sin(np.pi * beat_hz * t / 2)
    poses[:, [1, 4, 7, 10]] *= np.clip(step, 0, None)[:, None, None]
    poses[:, [2, 5, 8, 11]] *= np.clip(-step, 0, None)[:, None, None]
    yaw = rng.uniform(-np.pi, np.pi) + 2 * np.pi * rng.uniform(-0.03, 0.03) * t
    poses[:, 0, 1] = yaw
    radius, heading = rng.uniform(0.2, 0.5), rng.uniform(0, 2 * np.pi)
    trans = np.stack([
        radius * np.cos(heading + 0.2 * t) - radius * np.cos(heading),
        0.02 * np.abs(np.sin(np.pi * beat_hz * t)),
        radius * np.sin(heading + 0.2 * t) - radius * np.sin(heading),
    ], axis=-1)
    return Motion(poses, trans, fps, "y", meta={"generator": f"synthetic bpm={bpm} seed={seed}"})


def write_aistpp_pkl(motion: Motion, path: str | Path, scaling: float = 93.0) -> Path:
    """Write ``motion`` as an AIST++ motion pickle (smpl_poses N×72, smpl_trans·scaling, smpl_scaling)."""
    data = {
        "smpl_loss": np.float64(0.0),
        "smpl_poses": motion.poses.reshape(motion.num_frames, 72).astype(np.float64),
        "smpl_scaling": np.array([scaling], dtype=np.float64),
        "smpl_trans": (motion.trans * scaling).astype(np.float64),
    }
    with atomic_write(path) as f:
        pickle.dump(data, f, protocol=4)
    return Path(path)


def write_finedance_npy(motion: Motion, path: str | Path, with_contacts: bool = False) -> Path:
    """Write ``motion`` as a FineDance motion array: T×315 (trans + 52×6D) or T×319 (contacts first).

    SMPL joints 0–21 fill the SMPL-H body; the 30 finger joints are identity rotations.
    """
    T = motion.num_frames
    rot6d = np.tile(np.array([1.0, 0, 0, 0, 1, 0]), (T, 52, 1))
    rot6d[:, :22] = axis_angle_to_rot6d(motion.poses[:, :22])
    arr = np.concatenate([motion.trans, rot6d.reshape(T, 312)], axis=1)
    if with_contacts:
        joints = forward_kinematics(axis_angle_to_matrix(motion.poses), motion.trans, builtin_skeleton())
        contacts = foot_contacts(joints, motion.fps, speed_threshold=0.01 * motion.fps).astype(np.float64)
        arr = np.concatenate([contacts, arr], axis=1)
    with atomic_write(path) as f:
        np.save(f, arr.astype(np.float32))
    return Path(path)
