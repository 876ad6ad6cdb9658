"""Conditions of the Appearance Expert: the pose video and the face video Wan-Animate is driven by,
made from SMPL-24 motion (generation) or from a clip's detected 2D keypoints (training).

Geometry (see docs/appearance-expert.md):

* **Frame.** Every image (reference, training frame) is first fitted into the output size W×H by
  :func:`letterbox` (scaled to fit, centred, black bars — Wan's ``padding_resize``), so keypoints,
  pose images and the generated video share one pixel frame.
* **SMPL → Wan-20 keypoints** (:func:`smpl_to_wan20`): body points are SMPL joints (neck = mean of the
  shoulder joints, as Wan's neck is the mean of the shoulder keypoints; toes = SMPL foot joints);
  nose, eyes and ears are synthetic points at fixed offsets in the head joint's frame, hidden when
  the head turns away from the camera.
* **Projection** (:func:`macedance.motion.camera.project_front`): orthographic front view of the
  y-up world (x → image right, since an SMPL body faces +z its left side appears on the right;
  y → image up), as the MACE-Dance release tool projects its joints.
* **Alignment** (:func:`fit_alignment`): one scale and one offset for the whole sequence, from the
  person in the reference image (keypoints from the project's pose backend, MediaPipe by default): the
  scale makes the first frame's torso (mid-shoulders to mid-hips) as long as the reference's, the
  offset puts its mid-hip on the reference's mid-hip. The root translation then moves the dancer
  across the frame in the same metric scale.
* **Face video** (:func:`face_box`): a square crop around the face keypoints (nose, eyes, ears),
  1.9 × their extent, shifted up by 10 % of its side; for generation the reference image's face
  crop is repeated on every frame (the dancer keeps the reference's expression), for training it is
  the crop of each frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from macedance.errors import MaceDanceError, ValidationError
from macedance.motion.camera import project_front
from macedance.render.wan_pose import FACE_POINTS, MIN_CONF, WAN_BODY20, draw_wan_pose
from macedance.schema import Motion
from macedance.schema.keypoints import KEYPOINT_SKELETONS

_IDX = {n: i for i, n in enumerate(WAN_BODY20)}
# SMPL joint of each Wan-20 body point (the neck and the face points are built separately).
_SMPL_BODY = {
    "right_shoulder": 17, "right_elbow": 19, "right_wrist": 21, "left_shoulder": 16, "left_elbow": 18, "left_wrist": 20,
    "right_hip": 2, "right_knee": 5, "right_ankle": 8, "left_hip": 1, "left_knee": 4, "left_ankle": 7,
    "left_toe": 10, "right_toe": 11,
}
_HEAD = 15
# Face points in the head joint's frame (metres; rest pose: y up, the face looks along +z, left = +x).
_FACE_OFFSETS = {
    "nose": (0.0, 0.02, 0.10), "right_eye": (-0.032, 0.06, 0.085), "left_eye": (0.032, 0.06, 0.085),
    "right_ear": (-0.075, 0.03, -0.005), "left_ear": (0.075, 0.03, -0.005),
}
# Keypoint name(s) of each Wan-20 point in the detector skeletons (a tuple is averaged).
_DETECTOR = {
    "nose": "nose", "neck": ("left_shoulder", "right_shoulder"), "right_shoulder": "right_shoulder", "right_elbow": "right_elbow",
    "right_wrist": "right_wrist", "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle", "left_hip": "left_hip",
    "left_knee": "left_knee", "left_ankle": "left_ankle", "right_eye": "right_eye", "left_eye": "left_eye",
    "right_ear": "right_ear", "left_ear": "left_ear",
    "left_toe": ("left_foot_index", "left_big_toe", "left_small_toe", "left_foot"),
    "right_toe": ("right_foot_index", "right_big_toe", "right_small_toe", "right_foot"),  # SMPL-24: the foot joint (toe base)
}


@dataclass(frozen=True)
class Alignment:
    """Pixel = ``scale`` · (projected metres) + ``offset``."""

    scale: float  # px per metre
    offset: tuple[float, float]  # px

    def apply(self, uv: np.ndarray) -> np.ndarray:
        return self.scale * uv + np.asarray(self.offset)


def letterbox(img: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, tuple[float, float]]:
    """``img`` scaled to fit ``size`` = (W, H), centred on black; returns (image, scale, (ox, oy)) so
    that a source pixel (x, y) lands at (scale·x + ox, scale·y + oy)."""
    import cv2

    w, h = size
    ih, iw = img.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = max(1, int(round(iw * s))), max(1, int(round(ih * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out = np.zeros((h, w, 3), np.uint8)
    ox, oy = (w - nw) // 2, (h - nh) // 2
    out[oy : oy + nh, ox : ox + nw] = cv2.resize(np.ascontiguousarray(img[..., :3]), (nw, nh), interpolation=interp)
    return out, s, (float(ox), float(oy))


def smpl_to_wan20(motion: Motion) -> np.ndarray:
    """(T, 20, 4) world points (x, y, z metres, y-up) and visibility of the Wan-20 keypoints of ``motion``."""
    m = motion.to_up_axis("y")
    from macedance.motion import builtin_skeleton
    from macedance.motion.kinematics import forward_kinematics

    joints, rot = forward_kinematics(m.rotmat, m.trans, builtin_skeleton(), global_rotations=True)
    out = np.zeros((m.num_frames, len(WAN_BODY20), 4))
    out[..., 3] = 1.0
    for name, j in _SMPL_BODY.items():
        out[:, _IDX[name], :3] = joints[:, j]
    out[:, _IDX["neck"], :3] = joints[:, [16, 17]].mean(axis=1)
    head_rot, head = rot[:, _HEAD], joints[:, _HEAD]
    facing = head_rot[:, 2, 2]  # z (towards the camera) of the face's forward axis
    side = head_rot[:, 2, 0]  # z of the head's +x (left) axis
    for name, off in _FACE_OFFSETS.items():
        out[:, _IDX[name], :3] = head + head_rot @ np.asarray(off)
        if name.endswith("ear"):
            visible = (side if name.startswith("left") else -side) > -0.7
        else:
            visible = facing > -0.1
        out[:, _IDX[name], 3] = visible.astype(float)
    return out


def keypoints_to_wan20(kp: np.ndarray, skeleton: str) -> np.ndarray:
    """(..., K, 3) detector keypoints (px, confidence) of ``skeleton`` → (..., 20, 3) Wan-20 keypoints;
    an averaged point (neck; ViTPose-25's toes, from big and small toe as in Wan) takes the smallest
    confidence of its parts; MediaPipe's toe is its ``foot_index``; COCO-17 has no toes (confidence 0)."""
    names = KEYPOINT_SKELETONS[skeleton]
    kp = np.asarray(kp, dtype=np.float64)
    out = np.zeros(kp.shape[:-2] + (len(WAN_BODY20), 3))
    for i, name in enumerate(WAN_BODY20):
        src = _DETECTOR[name]
        group = tuple(n for n in ((src,) if isinstance(src, str) else src) if n in names)
        if not group:
            continue  # e.g. COCO-17 has no toes: confidence stays 0
        sel = kp[..., [names.index(n) for n in group], :]
        out[..., i, :2] = sel[..., :2].mean(axis=-2)
        out[..., i, 2] = sel[..., 2].min(axis=-1)
    return out


def fit_alignment(uv: np.ndarray, ref: np.ndarray, source: str = "the reference image") -> Alignment:
    """Scale and offset mapping (20, 2) projected first-frame points ``uv`` onto the (20, 3) reference
    keypoints ``ref`` (px, confidence): torso length (mid-shoulders to mid-hips) and mid-hip."""
    need = [_IDX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    if (ref[need, 2] < MIN_CONF).any():
        raise MaceDanceError(f"{source}: no person with visible shoulders and hips found (pose confidence "
                             f"{ref[need, 2].min():.2f} < {MIN_CONF}); use a full-body photo of one person")

    def torso(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return p[need[:2], :2].mean(axis=0), p[need[2:], :2].mean(axis=0)

    (sh_r, hip_r), (sh_s, hip_s) = torso(ref), torso(uv)
    length = float(np.linalg.norm(sh_s - hip_s))
    if length < 1e-6:
        raise ValidationError("motion", "a torso of non-zero length in the first frame", f"{length:.3g} m")
    scale = float(np.linalg.norm(sh_r - hip_r)) / length
    off = hip_r - scale * hip_s
    return Alignment(scale, (float(off[0]), float(off[1])))


def face_box(kp: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int] | None:
    """Square face crop ``(x0, y0, side)`` from (20, 3) Wan-20 keypoints, or None without a visible face.

    The box is 1.9 × the larger extent of the visible nose/eye/ear points (at least 1.2 × the
    shoulder width / 2 when only a few are visible), centred on them and moved up by 10 % of its side;
    it may extend past the image (the crop is padded)."""
    pts = kp[list(FACE_POINTS)]
    vis = pts[pts[:, 2] >= MIN_CONF, :2]
    if len(vis) == 0:
        return None
    extent = float((vis.max(0) - vis.min(0)).max()) if len(vis) > 1 else 0.0
    sh = kp[[_IDX["left_shoulder"], _IDX["right_shoulder"]]]
    if (sh[:, 2] >= MIN_CONF).all():
        extent = max(extent, 0.6 * float(np.linalg.norm(sh[0, :2] - sh[1, :2])))
    side = max(4, int(round(1.9 * max(extent, 2.0))))
    cx, cy = vis.mean(axis=0)
    cy -= 0.1 * side
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def crop_face(img: np.ndarray, box: tuple[int, int, int] | None, out_size: int) -> np.ndarray:
    """(out_size, out_size, 3) crop of ``img`` at ``box`` (zero-padded outside the image); a black
    image when there is no box."""
    import cv2

    if box is None:
        return np.zeros((out_size, out_size, 3), np.uint8)
    x0, y0, side = box
    h, w = img.shape[:2]
    patch = np.zeros((side, side, 3), np.uint8)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xb > xa and yb > ya:
        patch[ya - y0 : yb - y0, xa - x0 : xb - x0] = img[ya:yb, xa:xb]
    interp = cv2.INTER_AREA if side > out_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (out_size, out_size), interpolation=interp)


def detect_wan20(img: np.ndarray, backend: object | None = None) -> np.ndarray:
    """(20, 3) Wan-20 keypoints of the person in an (H, W, 3) uint8 RGB image, with the project's pose
    backend (MediaPipe, bundled and offline, by default)."""
    from macedance.pose.backends import get_backend

    be = backend if backend is not None else get_backend("mediapipe")
    be.start_shot()
    kp, _ = be(np.ascontiguousarray(img))
    return keypoints_to_wan20(kp, be.skeleton)


@dataclass
class PoseConditions:
    """What the pipeline is driven with: frames are (H, W, 3) uint8 RGB."""

    reference: np.ndarray  # the letterboxed reference image
    pose: list[np.ndarray]  # pose images, one per output frame
    face: list[np.ndarray]  # face crops (face_size²), one per output frame
    keypoints: np.ndarray  # (T, 20, 3) drawn Wan-20 keypoints, px
    alignment: Alignment | None = None
    reference_keypoints: np.ndarray | None = None  # (20, 3)


def motion_conditions(motion: Motion, reference: np.ndarray, size: tuple[int, int], *, fps: float, face_size: int,
                      backend: object | None = None, ref_keypoints: np.ndarray | None = None,
                      source: str = "the reference image") -> PoseConditions:
    """Pose and face videos at ``fps`` for ``motion`` aligned to the person in ``reference``.

    Args:
        motion: SMPL-24 motion (any fps, either up axis; resampled to ``fps``).
        reference: (h, w, 3) uint8 RGB reference image (letterboxed to ``size`` = (W, H)).
        face_size: side of the face crops (the transformer's ``motion_encoder_size``).
        backend: pose backend for the reference (default MediaPipe; run on the image at its own
            resolution); ``ref_keypoints`` (20, 3) in the letterboxed frame skip the detection.
    """
    ref, s, (ox, oy) = letterbox(reference, size)
    if ref_keypoints is None:  # detected at the image's own resolution, then moved into the output frame
        ref_kp = detect_wan20(np.ascontiguousarray(reference[..., :3]), backend)
        ref_kp[:, 0], ref_kp[:, 1] = s * ref_kp[:, 0] + ox, s * ref_kp[:, 1] + oy
    else:
        ref_kp = np.asarray(ref_keypoints, dtype=np.float64)
    m = motion.resample(fps) if abs(motion.fps - fps) > 1e-9 else motion
    pts = smpl_to_wan20(m)
    uv = project_front(pts[..., :3])
    align = fit_alignment(uv[0], ref_kp, source)
    kp = np.concatenate([align.apply(uv), pts[..., 3:]], axis=-1)
    face = crop_face(ref, face_box(ref_kp, size), face_size)
    return PoseConditions(ref, [draw_wan_pose(size, k) for k in kp], [face] * len(kp), kp, align, ref_kp)


def keypoint_conditions(frames: Sequence[np.ndarray], keypoints: np.ndarray, skeleton: str, *, size: tuple[int, int],
                        face_size: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Training conditions from a clip's frames and their detected keypoints ((T, K, 3) source px):
    (letterboxed frames, pose images, face crops of each frame)."""
    outs, poses, faces = [], [], []
    wan = keypoints_to_wan20(keypoints, skeleton)
    for frame, k in zip(frames, wan, strict=True):
        img, s, (ox, oy) = letterbox(frame, size)
        k = k.copy()
        k[:, 0], k[:, 1] = s * k[:, 0] + ox, s * k[:, 1] + oy
        outs.append(img)
        poses.append(draw_wan_pose(size, k))
        faces.append(crop_face(img, face_box(k, size), face_size))
    return outs, poses, faces

