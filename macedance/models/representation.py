"""The Motion Expert's motion representation: 151 values per frame at 30 fps, z-up.

Layout: 4 foot contacts (L ankle, R ankle, L foot, R foot: speed below 0.01 m/frame, as EDGE and
FineDance) + 3 root translation (m) + 24 × 6D joint rotations (pytorch3d convention). A min–max
normaliser fitted on the training set maps every dimension to [−1, 1] and is saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from macedance.motion.kinematics import foot_contacts, forward_kinematics
from macedance.motion.rotations import rot6d_to_axis_angle
from macedance.motion.skeleton import builtin_skeleton
from macedance.schema import Motion

REP_DIM = 151
FPS = 30.0
CONTACT, TRANS, ROT = slice(0, 4), slice(4, 7), slice(7, 151)


def motion_to_rep(motion: Motion) -> np.ndarray:
    """(T, 151) float32 representation of ``motion`` (resampled to 30 fps, rotated to z-up)."""
    m = motion.resample(FPS).to_up_axis("z")
    joints = forward_kinematics(m.rotmat, m.trans, builtin_skeleton())
    contacts = foot_contacts(joints, FPS, speed_threshold=0.01 * FPS).astype(np.float32)
    rep = np.concatenate([contacts, m.trans, m.rot6d.reshape(m.num_frames, 144)], axis=1)
    return rep.astype(np.float32)


def rep_to_motion(rep: np.ndarray, meta: dict[str, str] | None = None) -> Motion:
    """Inverse of :func:`motion_to_rep` (contacts dropped): a 30-fps z-up Motion."""
    rep = np.asarray(rep, dtype=np.float64)
    poses = rot6d_to_axis_angle(rep[:, ROT].reshape(-1, 24, 6))
    return Motion(poses, rep[:, TRANS], FPS, "z", meta=meta or {})


def rep_joints(rep: torch.Tensor) -> torch.Tensor:
    """(…, T, 151) representation → (…, T, 24, 3) joints by FK (differentiable)."""
    from macedance.motion.rotations import rot6d_to_matrix

    R = rot6d_to_matrix(rep[..., ROT].reshape(*rep.shape[:-1], 24, 6))
    return forward_kinematics(R, rep[..., TRANS], builtin_skeleton())


@dataclass
class Normalizer:
    """Per-dimension min–max scaling to [−1, 1] (constant dimensions map to 0)."""

    lo: torch.Tensor  # (151,)
    hi: torch.Tensor

    @classmethod
    def fit(cls, reps: list[np.ndarray]) -> "Normalizer":
        stacked = np.concatenate(reps, axis=0)
        return cls(torch.as_tensor(stacked.min(0)), torch.as_tensor(stacked.max(0)))

    def _scale(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.lo.to(like), self.hi.to(like)
        return lo, torch.where(hi - lo > 1e-8, hi - lo, torch.ones_like(hi))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        lo, span = self._scale(x)
        return (x - lo) / span * 2 - 1

    def unnormalize(self, x: torch.Tensor, *, clip: bool = False) -> torch.Tensor:
        lo, span = self._scale(x)
        return ((x.clamp(-1, 1) if clip else x) + 1) / 2 * span + lo

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"lo": self.lo.clone(), "hi": self.hi.clone()}

    @classmethod
    def from_state_dict(cls, d: dict[str, torch.Tensor]) -> "Normalizer":
        return cls(d["lo"], d["hi"])


