"""Motion in the official EDGE-family output layout (EDGE, MACE-Dance, POPDG ``render_sample``): a pickle of
``{"smpl_poses": (T, 72) axis-angle, "smpl_trans": (T, 3), "full_pose": (T, 24, 3) joints}``, float32, z-up, 30 fps,
with ``full_pose`` from EDGE's forward kinematics (pelvis at ``smpl_trans``). Files written here are read back by
the evaluation tools of those repositories (and by ``macedance eval motion``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from macedance.errors import ValidationError
from macedance.fileio import atomic_write
from macedance.models.official.skeleton import edge_fk
from macedance.safe_pickle import write_npy_object
from macedance.schema import Joints3D, Motion


def official_pkl_dict(motion: Motion) -> dict[str, np.ndarray]:
    """The three arrays of the official layout for ``motion`` (turned z-up; it must be at 30 fps)."""
    if abs(motion.fps - 30.0) > 1e-6:
        raise ValidationError("Motion.fps", "30 fps for the official .pkl layout (resample first)", f"{motion.fps:g}")
    m = motion.to_up_axis("z")
    poses = torch.from_numpy(m.poses.astype(np.float32))
    trans = torch.from_numpy(m.trans.astype(np.float32))
    joints = edge_fk(poses, trans)
    return {"smpl_poses": poses.reshape(-1, 72).numpy(), "smpl_trans": trans.numpy(), "full_pose": joints.numpy()}


def write_official_pkl(path: str | Path, motion: Motion | Joints3D, *, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``motion`` as an official-layout ``.pkl`` (atomically; numpy arrays only, protocol 4), or ``arrays`` when
    the method's own file differs from the EDGE layout (FineNet: ``smpl_poses`` (T, 156), ``smpl_trans``). Joint
    positions (Bailando) are written as ``write2pkl`` does: ``np.save`` of ``{"pred_position": (T, 72)}`` (an ``.npy``
    holding one pickled dict, which Bailando's ``metrics_new.py`` reads back with numpy's loader and ``.item()``)."""
    path = Path(path)
    if isinstance(motion, Joints3D):
        if arrays is None:
            arrays = {"pred_position": motion.positions.reshape(motion.num_frames, -1).astype(np.float32)}
        with atomic_write(path) as f:
            write_npy_object(f, arrays)
        return path
    with atomic_write(path) as f:
        pickle.dump(official_pkl_dict(motion) if arrays is None else arrays, f, protocol=4)
    return path


def write_official(path: str | Path, motion: Motion | Joints3D, *, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """The method's own output file: ``.npy`` for methods whose file is one array (FACT: ``arrays["npy"]``, (T, 225)),
    else :func:`write_official_pkl` (``.pkl``)."""
    path = Path(path)
    npy = arrays is not None and "npy" in arrays
    if npy != (path.suffix.lower() == ".npy"):
        raise ValidationError("out", "a .npy file (this method's own file is one array)" if npy else "a .pkl file (the method's own layout) or .npz",
                              path.name)
    if not npy:
        return write_official_pkl(path, motion, arrays=arrays)
    assert arrays is not None
    with atomic_write(path) as f:
        np.save(f, np.asarray(arrays["npy"]), allow_pickle=False)
    return path
