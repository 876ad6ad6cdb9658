"""``Motion``: an SMPL-24 body motion (rotations + root translation), validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import ValidationError
from macedance.motion import kinematics as kin
from macedance.motion.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_rot6d,
    matrix_to_axis_angle,
    rot6d_to_axis_angle,
    rotation_matrix_error,
)
from macedance.motion.skeleton import NUM_SMPL_JOINTS, RestSkeleton, builtin_skeleton
from macedance.schema._check import choice, float_array, positive_number

ROTMAT_TOLERANCE = 1e-4  # max |RᵀR − I| accepted for input rotation matrices


@dataclass(frozen=True, eq=False)
class Motion:
    """An SMPL-24 body motion.

    Attributes:
        poses: (T, 24, 3) float64 axis-angle rotations in radians; joint 0 is the global root
            orientation, joints 1–23 are local to their parents (SMPL order).
        trans: (T, 3) float64 root translation in metres (SMPL ``transl``: the pelvis is at
            ``rest.joints[0] + trans``).
        fps: frames per second, > 0.
        up_axis: ``"y"`` or ``"z"``, the world's up direction.
        betas: optional (B,) SMPL shape coefficients; informational unless a body model is used.
        meta: free-form string metadata (source file, importer, dataset …), kept on disk.
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    up_axis: str = "y"
    betas: np.ndarray | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        poses = float_array("Motion.poses", self.poses, (None, NUM_SMPL_JOINTS, 3), "shape (T, 24, 3) axis-angle")
        trans = float_array("Motion.trans", self.trans, (None, 3), "shape (T, 3) metres")
        if trans.shape[0] != poses.shape[0]:
            raise ValidationError(
                "Motion.trans", f"{poses.shape[0]} frames (as Motion.poses)", f"{trans.shape[0]} frames"
            )
        fps = positive_number("Motion.fps", self.fps)
        up = choice("Motion.up_axis", self.up_axis, kin.UP_AXES)
        betas = None
        if self.betas is not None:
            betas = float_array("Motion.betas", self.betas, (None,), "shape (B,)")
        if not isinstance(self.meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.meta.items()
        ):
            raise ValidationError("Motion.meta", "a dict of str to str", repr(self.meta)[:120])
        for a in (poses, trans, betas):
            if a is not None:
                a.setflags(write=False)
        object.__setattr__(self, "poses", poses)
        object.__setattr__(self, "trans", trans)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "up_axis", up)
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "meta", dict(self.meta))

    # ----- alternative constructors ------------------------------------------------------------
    @classmethod
    def from_rotmat(cls, rotmats: Any, trans: Any, fps: float, **kw: Any) -> "Motion":
        """From (T, 24, 3, 3) rotation matrices; rejects matrices that are not rotations."""
        R = float_array("Motion.rotmat", rotmats, (None, NUM_SMPL_JOINTS, 3, 3), "shape (T, 24, 3, 3)")
        err = rotation_matrix_error(R)
        if (err > ROTMAT_TOLERANCE).any():
            t, j = (int(i) for i in np.argwhere(err > ROTMAT_TOLERANCE)[0])
            raise ValidationError(
                "Motion.rotmat",
                f"orthonormal rotation matrices (|RᵀR − I| ≤ {ROTMAT_TOLERANCE}, det +1)",
                f"{int((err > ROTMAT_TOLERANCE).sum())} invalid matrices, first at frame {t} joint {j} "
                f"(error {float(err[t, j]):.3g})",
            )
        return cls(matrix_to_axis_angle(R), trans, fps, **kw)

    @classmethod
    def from_rot6d(cls, rot6d: Any, trans: Any, fps: float, **kw: Any) -> "Motion":
        """From (T, 24, 6) 6D rotations (first two matrix rows, pytorch3d convention)."""
        d6 = float_array("Motion.rot6d", rot6d, (None, NUM_SMPL_JOINTS, 6), "shape (T, 24, 6)")
        n1 = np.linalg.norm(d6[..., :3], axis=-1)
        n2 = np.linalg.norm(np.cross(d6[..., :3], d6[..., 3:]), axis=-1)
        if (n1 < 1e-8).any() or (n2 < 1e-8).any():
            raise ValidationError("Motion.rot6d", "two non-zero, non-parallel 3-vectors per joint", "degenerate 6D values")
        return cls(rot6d_to_axis_angle(d6), trans, fps, **kw)

    # ----- views --------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds (num_frames / fps)."""
        return self.num_frames / self.fps

    @property
    def rotmat(self) -> np.ndarray:
        """(T, 24, 3, 3) rotation matrices."""
        return axis_angle_to_matrix(self.poses)

    @property
    def rot6d(self) -> np.ndarray:
        """(T, 24, 6) 6D rotations."""
        return axis_angle_to_rot6d(self.poses)

    def joints(self, skeleton: RestSkeleton | None = None) -> np.ndarray:
        """(T, 24, 3) joint positions in metres by FK over ``skeleton`` (default: built-in)."""
        return kin.forward_kinematics(self.rotmat, self.trans, skeleton or builtin_skeleton())

    # ----- transformations ------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "Motion":
        """A copy with some fields replaced (validated again)."""
        fields = dict(poses=self.poses, trans=self.trans, fps=self.fps, up_axis=self.up_axis,
                      betas=self.betas, meta=self.meta)
        fields.update(changes)
        return Motion(**fields)

    def to_up_axis(self, up_axis: str, skeleton: RestSkeleton | None = None) -> "Motion":
        """The same motion in a world whose up axis is ``up_axis``.

        Joint positions computed with ``skeleton`` (default: built-in) are rotated exactly; the root
        translation accounts for SMPL's rotation about the pelvis rest position.
        """
        choice("up_axis", up_axis, kin.UP_AXES)
        if up_axis == self.up_axis:
            return self
        R = kin.up_axis_rotation(self.up_axis, up_axis)
        root, trans = kin.rotate_root(axis_angle_to_matrix(self.poses[:, 0]), self.trans, R,
                                      (skeleton or builtin_skeleton()).joints[0])
        poses = self.poses.copy()
        poses[:, 0] = matrix_to_axis_angle(root)
        return self.replace(poses=poses, trans=trans, up_axis=up_axis)

    def resample(self, fps: float) -> "Motion":
        """Resample to ``fps``: slerp for rotations, linear for translation.

        Output frame k is at time k / fps, for all times inside the source span.
        """
        fps = positive_number("fps", fps)
        if fps == self.fps:
            return self
        pos = kin.resample_times(self.num_frames, self.fps, fps)
        return self.replace(
            poses=kin.resample_rotations(self.poses, pos), trans=kin.resample_linear(self.trans, pos), fps=fps
        )

    def slice(self, start: int, stop: int) -> "Motion":
        """Frames [start, stop)."""
        if not 0 <= start < stop <= self.num_frames:
            raise ValidationError("slice", f"0 ≤ start < stop ≤ {self.num_frames}", f"[{start}, {stop})")
        return self.replace(poses=self.poses[start:stop], trans=self.trans[start:stop])

    def foot_contacts(self, skeleton: RestSkeleton | None = None, speed_threshold: float = 0.3) -> np.ndarray:
        """(T, 4) bool contacts of L ankle, R ankle, L foot, R foot (speed < threshold m/s)."""
        return kin.foot_contacts(self.joints(skeleton), self.fps, speed_threshold=speed_threshold)

    # ----- disk --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (atomically); see :mod:`macedance.schema.npz`."""
        from macedance.schema.npz import save_motion

        return save_motion(self, path)

    @staticmethod
    def load(path: str | Path) -> "Motion":
        """Read an ``.npz`` written by :meth:`save` (``allow_pickle=False``)."""
        from macedance.schema.npz import load_motion

        return load_motion(path)
