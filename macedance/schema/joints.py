"""``Joints3D``: a motion given as joint positions only (no rotations), e.g. Bailando's 60-fps SMPL-24 joints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import ValidationError
from macedance.motion import kinematics as kin
from macedance.schema._check import choice, float_array, positive_number


@dataclass(frozen=True, eq=False)
class Joints3D:
    """Joint positions over time.

    Attributes:
        positions: (T, J, 3) float64 world positions in metres (SMPL-24 order when J = 24).
        fps: frames per second, > 0.
        up_axis: ``"y"`` or ``"z"``.
        meta: free-form string metadata, kept on disk.
    """

    positions: np.ndarray
    fps: float
    up_axis: str = "y"
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = float_array("Joints3D.positions", self.positions, (None, None, 3), "shape (T, J, 3) metres")
        if not isinstance(self.meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in self.meta.items()):
            raise ValidationError("Joints3D.meta", "a dict of str to str", repr(self.meta)[:120])
        pos.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "fps", positive_number("Joints3D.fps", self.fps))
        object.__setattr__(self, "up_axis", choice("Joints3D.up_axis", self.up_axis, kin.UP_AXES))
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds (num_frames / fps)."""
        return self.num_frames / self.fps

    def joints(self, skeleton: Any = None) -> np.ndarray:
        """(T, J, 3) positions in metres (``skeleton`` is ignored: there is no kinematic chain to pose)."""
        return self.positions

    def replace(self, **changes: Any) -> Joints3D:
        """A copy with some fields replaced (validated again)."""
        fields = dict(positions=self.positions, fps=self.fps, up_axis=self.up_axis, meta=self.meta)
        fields.update(changes)
        return Joints3D(**fields)

    def to_up_axis(self, up_axis: str, skeleton: Any = None) -> Joints3D:
        """The same positions in a world whose up axis is ``up_axis`` (an exact component permutation)."""
        choice("up_axis", up_axis, kin.UP_AXES)
        if up_axis == self.up_axis:
            return self
        return self.replace(positions=kin.convert_up_axis(self.positions, self.up_axis, up_axis), up_axis=up_axis)

    def slice(self, start: int, stop: int) -> Joints3D:
        """Frames [start, stop)."""
        if not 0 <= start < stop <= self.num_frames:
            raise ValidationError("slice", f"0 ≤ start < stop ≤ {self.num_frames}", f"[{start}, {stop})")
        return self.replace(positions=self.positions[start:stop])

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (atomically; kind ``joints3d``, see :mod:`macedance.schema.npz`)."""
        from macedance.schema.npz import save_joints

        return save_joints(self, path)

    @staticmethod
    def load(path: str | Path) -> Joints3D:
        from macedance.schema.npz import load_joints

        return load_joints(path)
