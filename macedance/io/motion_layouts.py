"""The arrays published dance methods write → :class:`~macedance.schema.Motion` (SMPL-24, metres).

Each function takes the arrays exactly as the method's code writes them and returns a Motion in the
method's own world frame, at its documented frame rate and up axis (the callers may override both).
:mod:`macedance.io.motion_formats` detects and reads the files; the dataset importers
(:mod:`macedance.datasets.importers`) convert their source files with the same functions.

Bodies with more than the 22 SMPL body joints (SMPL-H: 52, SMPL-X: 55) keep joints 0–21, which are
the same joints in the same order; SMPL's two hand joints (22, 23: leaves, so no joint position
depends on their rotation) are set to the identity and finger, jaw and eye rotations are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, ValidationError
from macedance.motion.rotations import matrix_to_axis_angle
from macedance.motion.skeleton import NUM_SMPL_JOINTS, RestSkeleton, builtin_skeleton
from macedance.schema._check import float_array
from macedance.schema.motion import Motion

log = logging.getLogger(__name__)

EDGE_FPS = 30.0  # EDGE / MACE-Dance / POPDG: dataset/dance_dataset.py ``data_fps = 30``
FINEDANCE_FPS = 30.0  # FineDance / LODGE: 30 fps motion and music features
AISTPP_FPS = 60.0  # AIST++ annotations; Bailando, FACT
# FineDance / LODGE ``.npy`` width → (foot-contact columns, joints in 6D): 3 root + joints × 6 after the contacts.
FINEDANCE_WIDTHS: dict[int, tuple[int, int]] = {135: (0, 22), 139: (4, 22), 315: (0, 52), 319: (4, 52)}
FACT_WIDTH = 225  # FACT (google-research/mint): 6 padding + 3 translation + 24 × 3×3 rotation matrices
FULL_POSE_TOLERANCE = 1e-3  # metres: EDGE's float32 FK of its own smpl_poses/smpl_trans agrees to ~1e-6
_BODY_JOINTS = 22
_SMPL_FAMILY = (24, 22, 52, 55)  # SMPL, SMPL body only, SMPL-H, SMPL-X joints in axis-angle arrays


def require_keys(data: Mapping[str, Any], keys: tuple[str, ...], source: str | Path) -> None:
    """A one-line error naming the missing keys and the keys found."""
    missing = [k for k in keys if k not in data]
    if missing:
        raise DataFormatError(f"{source}: missing key(s) {missing}; found {sorted(map(str, data))}")


def axis_angles(field: str, value: Any, joints: tuple[int, ...], source: str | Path) -> np.ndarray:
    """``value`` as (T, J, 3) axis-angle for J in ``joints``, accepting the flat (T, 3J) form too."""
    arr = np.asarray(value)
    expected = " or ".join(f"(N, {3 * j}) or (N, {j}, 3)" for j in joints)
    if arr.ndim == 2 and arr.shape[1] % 3 == 0 and arr.shape[1] // 3 in joints:
        arr = arr.reshape(arr.shape[0], -1, 3)
    if arr.ndim != 3 or arr.shape[1] not in joints or arr.shape[2] != 3:
        raise ValidationError(field, f"shape {expected}", f"shape {tuple(arr.shape)}", source=source)
    try:
        return float_array(field, arr, (None, arr.shape[1], 3), f"shape {expected}")
    except ValidationError as exc:
        raise exc.with_source(source) from None


def translation(field: str, value: Any, frames: int, source: str | Path) -> np.ndarray:
    """``value`` as (T, 3) metres with ``frames`` frames."""
    try:
        arr = float_array(field, value, (None, 3), "shape (T, 3)")
    except ValidationError as exc:
        raise exc.with_source(source) from None
    if arr.shape[0] != frames:
        raise ValidationError(field, f"{frames} frames (as the rotations)", f"{arr.shape[0]} frames", source=source)
    return arr


def smpl24(poses: np.ndarray) -> np.ndarray:
    """(T, J, 3) axis-angle of an SMPL-family body → (T, 24, 3): SMPL as is; SMPL-H/-X body joints 0–21,
    identity hands."""
    if poses.shape[1] == NUM_SMPL_JOINTS:
        return poses
    out = np.zeros((poses.shape[0], NUM_SMPL_JOINTS, 3))
    out[:, :_BODY_JOINTS] = poses[:, :_BODY_JOINTS]
    return out


def _motion(poses: np.ndarray, trans: np.ndarray, fps: float, up_axis: str, meta: dict[str, str], source: str | Path) -> Motion:
    try:
        return Motion(poses, trans, fps, up_axis, meta=meta)
    except ValidationError as exc:
        raise exc.with_source(source) from None


def edge_motion(data: Mapping[str, Any], *, source: str | Path, skeleton: RestSkeleton | None = None,
                fps: float = EDGE_FPS, up_axis: str = "z") -> Motion:
    """EDGE / MACE-Dance / POPDG ``render_sample`` dict → Motion.

    ``smpl_poses`` (T, 72) axis-angle, ``smpl_trans`` (T, 3), optionally ``full_pose`` (T, 24, 3) joint
    positions; z-up (the root orientation already holds EDGE's y→z turn). EDGE's FK (``vis.py``
    ``SMPLSkeleton``) puts the pelvis *at* ``smpl_trans``, so the SMPL ``transl`` is ``smpl_trans`` minus the
    pelvis rest position of ``skeleton`` (default: built-in, whose bones are EDGE's offsets — its FK then
    reproduces ``full_pose``). ``full_pose`` is only compared with that FK: a difference above
    ``FULL_POSE_TOLERANCE`` is logged as a warning.
    """
    require_keys(data, ("smpl_poses", "smpl_trans"), source)
    poses = axis_angles("smpl_poses", data["smpl_poses"], (NUM_SMPL_JOINTS,), source)
    pelvis = translation("smpl_trans", data["smpl_trans"], poses.shape[0], source)
    skel = skeleton or builtin_skeleton()
    motion = _motion(poses, pelvis - skel.joints[0], fps, up_axis, {"source_format": "edge", "pelvis": "at smpl_trans (EDGE FK)"}, source)
    if "full_pose" in data:
        full = np.asarray(data["full_pose"])
        if full.shape != (poses.shape[0], NUM_SMPL_JOINTS, 3) or not np.issubdtype(full.dtype, np.number):
            raise ValidationError("full_pose", f"numeric shape ({poses.shape[0]}, 24, 3) joint positions",
                                  f"{full.dtype} shape {full.shape}", source=source)
        builtin = builtin_skeleton()
        fk = motion.replace(trans=pelvis - builtin.joints[0]).joints(builtin)
        err = float(np.abs(fk - full).max())
        if err > FULL_POSE_TOLERANCE:
            log.warning("%s: full_pose differs from EDGE's FK of smpl_poses/smpl_trans by up to %.3g m; "
                        "the joints are computed from smpl_poses/smpl_trans", source, err)
    return motion


def finedance_motion(arr: Any, *, source: str | Path, fps: float = FINEDANCE_FPS, up_axis: str = "y") -> Motion:
    """FineDance / LODGE motion array → Motion.

    Columns: [4 foot contacts] + 3 root translation (SMPL-X ``transl``, metres) + J joints × 6D (pytorch3d:
    the first two rows of each rotation matrix), J = 22 (SMPL-X body: widths 135, 139) or 52 (SMPL-H order:
    315, 319); y-up, 30 fps. Contacts are dropped (recomputable by FK).
    """
    a = np.asarray(arr)
    if a.ndim != 2 or a.shape[1] not in FINEDANCE_WIDTHS:
        raise ValidationError("motion array", "shape (T, " + "|".join(map(str, FINEDANCE_WIDTHS)) + ")",
                              f"shape {tuple(a.shape)}", source=source)
    contacts, joints = FINEDANCE_WIDTHS[a.shape[1]]
    a = a[:, contacts:]
    T = a.shape[0]
    rot6d = np.asarray(a[:, 3:], dtype=np.float64).reshape(T, joints, 6)
    body6d = np.empty((T, NUM_SMPL_JOINTS, 6))
    body6d[:, :_BODY_JOINTS] = rot6d[:, :_BODY_JOINTS]
    body6d[:, _BODY_JOINTS:] = [1, 0, 0, 0, 1, 0]  # identity for SMPL's hand joints
    try:
        return Motion.from_rot6d(body6d, a[:, :3], fps, up_axis=up_axis,
                                 meta={"body_model": "smplx-neutral (FineDance retarget); SMPL joints 22-23 identity"})
    except ValidationError as exc:
        raise exc.with_source(source) from None


def finedance_pkl_motion(data: Mapping[str, Any], *, source: str | Path, fps: float = FINEDANCE_FPS, up_axis: str = "y") -> Motion:
    """FineDance / LODGE ``render_sample`` dict → Motion: ``smpl_poses`` (T, 66) SMPL-X body or (T, 156)
    SMPL-H axis-angle, ``smpl_trans`` (T, 3) SMPL-X ``transl``; y-up, 30 fps."""
    require_keys(data, ("smpl_poses", "smpl_trans"), source)
    poses = axis_angles("smpl_poses", data["smpl_poses"], (22, 52), source)
    trans = translation("smpl_trans", data["smpl_trans"], poses.shape[0], source)
    return _motion(smpl24(poses), trans, fps, up_axis, {"source_format": "finedance-pkl",
                   "body_model": "smplx-neutral (FineDance retarget); SMPL joints 22-23 identity"}, source)


def aistpp_motion(data: Mapping[str, Any], *, source: str | Path, fps: float = AISTPP_FPS, up_axis: str = "y",
                  scaling_required: bool = False) -> Motion:
    """AIST++ motion dict → Motion: ``smpl_poses`` (T, 72) or (T, 24, 3) axis-angle, ``smpl_trans`` (T, 3)
    and, in the dataset's own files, ``smpl_scaling`` (1,): the translation is divided by it (metres), as
    every reference implementation does. Method outputs in this layout (Bailando++, converted FACT
    results) carry metric ``smpl_trans`` and no scaling. 60 fps, y-up."""
    require_keys(data, ("smpl_poses", "smpl_trans", "smpl_scaling") if scaling_required else ("smpl_poses", "smpl_trans"), source)
    poses = axis_angles("smpl_poses", data["smpl_poses"], (NUM_SMPL_JOINTS,), source)
    trans = translation("smpl_trans", data["smpl_trans"], poses.shape[0], source)
    meta: dict[str, str] = {}
    if "smpl_scaling" in data or scaling_required:
        try:
            scaling = np.asarray(data["smpl_scaling"], dtype=np.float64).reshape(-1)
            found = f"{scaling.tolist()}"
        except (TypeError, ValueError):
            scaling, found = np.empty(0), repr(data["smpl_scaling"])[:80]
        if scaling.shape != (1,) or not np.isfinite(scaling[0]) or scaling[0] <= 0:
            raise ValidationError("smpl_scaling", "one positive number", found, source=source)
        trans = trans / scaling[0]
        meta["smpl_scaling"] = repr(float(scaling[0]))
    return _motion(poses, trans, fps, up_axis, meta, source)


def closest_rotations(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → the nearest rotation matrices (Frobenius norm, det +1), as FACT's ``get_closest_rotmat``."""
    u, _, vh = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vh))
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vh


def fact_motion(arr: Any, *, source: str | Path, fps: float = AISTPP_FPS, up_axis: str = "y") -> Motion:
    """FACT (google-research/mint) output array (T, 225) → Motion: 6 padding columns, SMPL ``transl`` (3, metres),
    24 rotation matrices (row-major, as scipy ``as_matrix``) projected to the nearest rotation as FACT's
    ``calculate_scores.py`` does; 60 fps, y-up. The rows include the 120-frame ground-truth seed FACT
    starts from."""
    if len(np.shape(arr)) != 2 or np.shape(arr)[1] != FACT_WIDTH:
        raise ValidationError("motion array", f"shape (T, {FACT_WIDTH})", f"shape {np.shape(arr)}", source=source)
    try:
        a = float_array("motion array", arr, (None, FACT_WIDTH), f"shape (T, {FACT_WIDTH})")
    except ValidationError as exc:
        raise exc.with_source(source) from None
    rot = closest_rotations(a[:, 9:].reshape(-1, NUM_SMPL_JOINTS, 3, 3))
    return _motion(matrix_to_axis_angle(rot), a[:, 6:9], fps, up_axis, {"source_format": "fact"}, source)


def smplx_npz_motion(data: Mapping[str, Any], *, source: str | Path, fps: float, up_axis: str) -> Motion:
    """SMPL / SMPL-H / SMPL-X parameters → Motion: AMASS ``poses`` (T, 72|66|156|165) + ``trans``, or
    ``global_orient`` (T, 3) + ``body_pose`` (T, 63|69) + ``transl``. The translation is the body model's
    ``transl``; shape coefficients are not used (FK runs on the evaluation skeleton)."""
    if "poses" in data:
        require_keys(data, ("poses", "trans"), source)
        poses = axis_angles("poses", data["poses"], _SMPL_FAMILY, source)
        trans = translation("trans", data["trans"], poses.shape[0], source)
    else:
        require_keys(data, ("global_orient", "body_pose", "transl"), source)
        root = axis_angles("global_orient", data["global_orient"], (1,), source)
        body = axis_angles("body_pose", data["body_pose"], (21, 23), source)
        if body.shape[0] != root.shape[0]:
            raise ValidationError("body_pose", f"{root.shape[0]} frames (as global_orient)", f"{body.shape[0]} frames", source=source)
        poses = np.concatenate([root, body], axis=1)
        trans = translation("transl", data["transl"], poses.shape[0], source)
    return _motion(smpl24(poses), trans, fps, up_axis, {"source_format": "smplx"}, source)
