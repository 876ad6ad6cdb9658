"""Correspondences between pose-detector keypoint skeletons and the SMPL-24 joints.

The tables are **approximate**: a pose detector's keypoints sit on the skin or on anatomical
landmarks (the outside of the hip, the lateral ankle bone, the ear, the tip of the index finger),
while SMPL's joints are internal rotation centres regressed from the mesh. The residual offsets are a
few centimetres for limbs and larger for derived joints — e.g. SMPL's pelvis joint lies about 8 cm
above the midpoint of its two hip joints, and a detector's "hip" keypoints are wider apart than
SMPL's hip joints. The SMPL fit (:mod:`macedance.pose.fit`) therefore treats reprojection errors of a
few percent of the person's height as normal.

Each table row is ``(smpl_joint, names)`` where ``names`` is one keypoint name or a tuple of names
whose mean gives the joint. A row whose names all appear alone in other rows (the pelvis as the mean
of the hips, the neck as the mean of the shoulders) is *derived*: it adds no information and is
biased, so the fit uses it to initialise the root but not in its losses (see
:func:`derived_rows`).
"""

from __future__ import annotations

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.skeleton import NUM_SMPL_JOINTS
from macedance.schema.keypoints import COCO17, KEYPOINT_SKELETONS, Keypoints2D

Row = tuple[int, str | tuple[str, ...]]

_LIMBS: tuple[Row, ...] = (
    (1, "left_hip"), (2, "right_hip"), (4, "left_knee"), (5, "right_knee"),
    (7, "left_ankle"), (8, "right_ankle"), (16, "left_shoulder"), (17, "right_shoulder"),
    (18, "left_elbow"), (19, "right_elbow"), (20, "left_wrist"), (21, "right_wrist"),
)
_PELVIS: Row = (0, ("left_hip", "right_hip"))
_HEAD: Row = (15, ("left_ear", "right_ear"))
_NECK_FROM_SHOULDERS: Row = (12, ("left_shoulder", "right_shoulder"))

SMPL_MAPPINGS: dict[str, tuple[Row, ...]] = {
    "mediapipe33": (_PELVIS,) + _LIMBS + (
        (10, "left_foot_index"), (11, "right_foot_index"), (22, "left_index"), (23, "right_index"),
        _HEAD, _NECK_FROM_SHOULDERS,
    ),
    "coco17": (_PELVIS,) + _LIMBS + (_HEAD, _NECK_FROM_SHOULDERS),
    # easy_ViTPose's coco_25 also has a 'hip' (mid-hip) keypoint; the pelvis is still taken as the
    # mean of the two hips, the same construction as for the other skeletons.
    "vitpose25": (_PELVIS,) + _LIMBS + (
        (10, "left_big_toe"), (11, "right_big_toe"), _HEAD, (12, "neck"),
    ),
}


def _check_skeleton(skeleton: str) -> tuple[str, ...]:
    if skeleton not in SMPL_MAPPINGS:
        raise ValidationError("skeleton", f"one of {tuple(SMPL_MAPPINGS)}", repr(skeleton))
    return KEYPOINT_SKELETONS[skeleton]


def _names(entry: str | tuple[str, ...]) -> tuple[str, ...]:
    return (entry,) if isinstance(entry, str) else tuple(entry)


def smpl_correspondences(skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """The SMPL joints observed by ``skeleton`` and how to compute them from its keypoints.

    Returns:
        ``(smpl_idx, weights)``: (M,) int SMPL joint indices and an (M, K) float64 matrix whose rows
        sum to 1, so that ``weights @ keypoints`` ((K, D) → (M, D)) gives the approximate position of
        each listed SMPL joint.
    """
    names = _check_skeleton(skeleton)
    rows = SMPL_MAPPINGS[skeleton]
    idx = np.array([j for j, _ in rows], dtype=np.int64)
    weights = np.zeros((len(rows), len(names)))
    for m, (_, entry) in enumerate(rows):
        group = _names(entry)
        for n in group:
            weights[m, names.index(n)] = 1.0 / len(group)
    return idx, weights


def derived_rows(skeleton: str) -> np.ndarray:
    """(M,) bool: rows of :func:`smpl_correspondences` computed only from keypoints that other rows
    use alone (pelvis = mean of hips, neck = mean of shoulders); used for initialisation only."""
    _check_skeleton(skeleton)
    rows = SMPL_MAPPINGS[skeleton]
    single = {_names(e)[0] for _, e in rows if len(_names(e)) == 1}
    return np.array([len(_names(e)) > 1 and set(_names(e)) <= single for _, e in rows])


def mapped_confidence(confidence: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(..., K) keypoint confidences → (..., M): the minimum over the keypoints each row averages."""
    conf = np.asarray(confidence, dtype=np.float64)
    used = weights > 0
    big = np.where(used, conf[..., None, :], np.inf)
    return big.min(-1)


def smpl_joints_to_keypoints(joints: np.ndarray, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic keypoints placed on SMPL joints (for tests and diagnostics).

    A keypoint used alone by a row sits exactly on that row's SMPL joint; a keypoint only used in
    averaged rows (the ears for the head) sits on the averaged joint, so every non-derived row of
    :func:`smpl_correspondences` reproduces its SMPL joint exactly.

    Args:
        joints: (..., 24, D) SMPL joint positions (any D, e.g. 3D metres or 2D pixels).
        skeleton: keypoint skeleton name.

    Returns:
        ``(keypoints, filled)``: (..., K, D) positions (zeros where nothing maps) and (K,) bool.
    """
    names = _check_skeleton(skeleton)
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2] != NUM_SMPL_JOINTS:
        raise ValidationError("joints", "shape (..., 24, D)", str(joints.shape))
    out = np.zeros(joints.shape[:-2] + (len(names), joints.shape[-1]))
    filled = np.zeros(len(names), dtype=bool)
    rows = SMPL_MAPPINGS[skeleton]
    for single_pass in (True, False):
        for j, entry in rows:
            group = _names(entry)
            if (len(group) == 1) != single_pass:
                continue
            for n in group:
                k = names.index(n)
                if not filled[k]:
                    out[..., k, :] = joints[..., j, :]
                    filled[k] = True
    return out, filled


def coco17_indices(skeleton: str) -> np.ndarray:
    """(17,) index into ``skeleton``'s keypoints of each COCO-17 keypoint (matched by name: the
    MediaPipe-33 and ViTPose-25 skeletons use COCO's names for these 17 points)."""
    if skeleton not in KEYPOINT_SKELETONS:
        raise ValidationError("skeleton", f"one of {tuple(KEYPOINT_SKELETONS)}", repr(skeleton))
    names = KEYPOINT_SKELETONS[skeleton]
    return np.array([names.index(n) for n in COCO17], dtype=np.int64)


def to_coco17(kp: Keypoints2D) -> Keypoints2D:
    """The COCO-17 subset of ``kp`` selected by keypoint name (``coco17`` is returned unchanged)."""
    if kp.skeleton == "coco17":
        return kp
    meta = dict(kp.meta)
    meta["converted_from"] = kp.skeleton
    return Keypoints2D(kp.data[:, coco17_indices(kp.skeleton)], "coco17", kp.image_size, kp.fps, meta)


# ViTPose-25 keypoints that MediaPipe-33 / COCO-17 do not have: (name, source names averaged, source
# when the skeleton lacks those). Substitutes keep the position and get confidence 0 for COCO-17.
_VITPOSE_EXTRA: dict[str, tuple[str, ...]] = {
    "neck": ("left_shoulder", "right_shoulder"), "hip": ("left_hip", "right_hip"),
    "left_big_toe": ("left_foot_index",), "left_small_toe": ("left_foot_index",), "left_heel": ("left_heel",),
    "right_big_toe": ("right_foot_index",), "right_small_toe": ("right_foot_index",), "right_heel": ("right_heel",),
}


def to_vitpose25(kp: Keypoints2D) -> Keypoints2D:
    """``kp`` in easy_ViTPose's coco_25 layout (the layout of the ``mace-video2d`` motion preset).

    Shared names are copied; ``neck`` and ``hip`` are the means of the shoulders and hips (confidence:
    the smaller); from MediaPipe-33 both toes come from ``foot_index`` (MediaPipe has no small toe) and
    the heels from its heels; from COCO-17, which has no feet, toes and heels sit on the ankle with
    confidence 0. The conversion is recorded in ``meta["converted_from"]``.
    """
    from macedance.schema.keypoints import VITPOSE25

    if kp.skeleton == "vitpose25":
        return kp
    src = kp.names
    out = np.zeros((kp.num_frames, len(VITPOSE25), 3))
    for i, name in enumerate(VITPOSE25):
        if name in src:
            out[:, i] = kp.data[:, src.index(name)]
            continue
        group = _VITPOSE_EXTRA[name]
        if all(n in src for n in group):
            rows = kp.data[:, [src.index(n) for n in group]]
            out[:, i, :2] = rows[..., :2].mean(axis=1)
            out[:, i, 2] = rows[..., 2].min(axis=1)
        else:  # COCO-17 feet: the ankle's position, no confidence
            side = "left" if name.startswith("left") else "right"
            out[:, i, :2] = kp.data[:, src.index(f"{side}_ankle"), :2]
    return Keypoints2D(out, "vitpose25", kp.image_size, kp.fps, {**kp.meta, "converted_from": kp.skeleton})
