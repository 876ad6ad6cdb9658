"""Fit an SMPL-24 motion to a clip's per-frame 2D keypoints (and optional 3D landmarks).

The fit runs in the **camera frame**, batched over all frames at once (torch, L-BFGS by default):

* unknowns per frame: the root orientation (a correction ``exp(δ)`` on a closed-form initial
  orientation), the 23 local joint rotations (axis-angle) and the root translation. Bone lengths come
  from a :class:`~macedance.motion.skeleton.RestSkeleton` (default: the built-in SMPL mean shape) and
  never change, so the body's size fixes the metric scale and the depth.
* camera: a pinhole with focal length ``f`` px (given, or ``max(W, H)`` ≈ a 53° field of view on the
  long side when unknown) and the principal point at the image centre; no distortion.
* initialisation: root orientation from the hips and shoulders (3D landmarks when given, else the
  image directions, facing or back to the camera); hip-centre position by per-frame linear least
  squares of the projection equations when 3D landmarks are given, else from the torso's pixel
  length vs the rest skeleton's; the body starts in an A-pose with bent knees and elbows (a straight
  hinge is a saddle point: the fit could not bend it, and would foreshorten the limb instead).
* stages: root and translation on the torso keypoints, then everything with wide robust scales
  (graduated non-convexity), then everything with the final scales.
* losses (weights in :class:`FitConfig`): confidence-weighted Geman–McClure 2D reprojection in units
  of the person's height; root-relative 3D landmark error (robust, metres) when landmarks are given;
  joint accelerations; a pose prior (squared axis-angle, much stronger on the spine, neck and collars,
  which no keypoint pins individually, and on leaf joints whose rotation moves no joint); joint
  limits (knees and elbows bend one way; their off-hinge rotation is penalised).

Coordinate conventions:

* ``keypoints``: (T, K, 3) pixels ``(x right, y down, confidence)``, origin at the image's top-left.
* ``landmarks3d``: (T, K, 4) metres in MediaPipe's "world landmark" convention — origin at the centre
  of the two hip landmarks, axes aligned with the camera (x right, y down, z away from the camera,
  i.e. depth) — plus a visibility in [0, 1], on the same K-keypoint skeleton as ``keypoints``.
* internal camera frame: x right, y up, z toward the camera (the camera looks along −z); a person
  facing the camera has the identity root orientation.
* output :class:`~macedance.schema.Motion`: y-up, metres. **Camera-level assumption**: the world is
  the camera frame translated, without rotation — the camera is assumed level (no pitch or roll), so
  the image's vertical is gravity. The translation puts the pelvis of frame 0 at x = z = 0 and the
  lowest foot joint (ankles and feet, SMPL joints 7, 8, 10, 11) over the clip at y = 0 — joint
  centres, so the real sole is a few centimetres lower. ``FitResult.camera`` holds the camera centre
  in that world (``cam_x, cam_y, cam_z``); :func:`project` reprojects world points to pixels.

Acceptance: ``ok=False`` with a reason when too few frames have both hips and both shoulders, when
the mean reprojection error exceeds ``max_reproj`` × the median person height, or when the mean
root-relative landmark error exceeds ``max_landmark_mm``. Keypoint↔joint correspondences are
approximate (see :mod:`macedance.pose.mapping`), so real detections leave a few percent of the
person's height of reprojection error even for a good fit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.kinematics import forward_kinematics
from macedance.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from macedance.motion.skeleton import NUM_SMPL_JOINTS, SMPL_PARENTS, RestSkeleton, builtin_skeleton
from macedance.pose.mapping import derived_rows, mapped_confidence, smpl_correspondences
from macedance.schema.keypoints import KEYPOINT_SKELETONS
from macedance.schema.motion import Motion

_L_HIP, _R_HIP, _L_SHO, _R_SHO = 1, 2, 16, 17
_TORSO = (_L_HIP, _R_HIP, _L_SHO, _R_SHO)
_FOOT_JOINTS = (7, 8, 10, 11)
_LEAVES = (10, 11, 15, 22, 23)  # their rotations move no joint
_UNOBSERVED = (3, 6, 9, 12, 13, 14)  # spine, neck, collars: no keypoint pins them individually
# Hinge joints: (rotation axis in the parent frame, sign of flexion). SMPL knees flex by +x; the
# left elbow (arm along +x) flexes by −y and the right elbow (arm along −x) by +y, forearm forward.
_HINGES = {4: (0, 1.0), 5: (0, 1.0), 18: (1, -1.0), 19: (1, 1.0)}
_MIN_DEPTH = 0.1  # metres in front of the camera, floor used by the projection
_OPTIMIZERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class FitConfig:
    """Settings of :func:`fit_smpl`, recorded in provenance through :meth:`to_dict`.

    Scales: the 2D residual is in units of the median person height in pixels (0.01 ≈ 1.6 cm on an
    adult), the 3D residual in metres, rotations in radians. Data terms are summed over keypoints and
    averaged over frames; priors are summed over joints and averaged over frames. The defaults were
    set on synthetic dance clips (``tests/test_smpl_fit.py``): 2 px keypoint noise leaves a data term
    of ~1e-3 per frame, so each prior is weighted to cost less than that on a true pose.

    Attributes:
        iterations: optimiser iterations of the two full stages together for a 2D-only fit (L-BFGS
            iterations; about 1000 are needed with ``optimizer="adam"``).
        iterations_landmarks: the same when 3D landmarks are given. Fewer: the landmarks make the
            problem better conditioned, and more iterations fit their biases. Measured with
            ``benchmarks/bench_fit_landmarks.py --iterations`` on the default self-check (rendered
            dances through MediaPipe): 200 → 120 iterations took MPJPE 86.8 → 83.3 mm, PA-MPJPE 59.4
            → 58.2 mm and the fit time 4.7 → 2.5 s per clip; on synthetic noisy keypoints and
            landmarks (``tests/test_smpl_fit.py``) MPJPE stays within 0.2 mm. A 2D-only fit still
            gains from 200 (34 vs 36–39 mm at 140–100 iterations there).
        root_iterations: iterations of the first stage (root orientation and translation only,
            fitted to the hips and shoulders).
        optimizer: ``"lbfgs"`` (strong-Wolfe line search) or ``"adam"``.
        lr: Adam learning rate (radians or metres per step), cosine-decayed to ``lr / 10``; unused by
            L-BFGS.
        lbfgs_history: L-BFGS memory.
        w_2d: weight of the robust 2D reprojection term.
        w_3d: weight of the robust root-relative 3D landmark term (ignored without landmarks); one
            metre of 3D error costs about as much as 1.6 m of 2D error, i.e. the two are trusted alike.
        w_smooth: weight of the squared joint accelerations, summed over the 24 joints, in metres per
            frame² at 30 fps (rescaled by ``(fps / 30)²``). 0.03 removes the frame-to-frame jitter
            of the depth (weakly observed from 2D) while keeping 2–4 Hz dance motion; 0.1 and more
            visibly flattens fast arm swings.
        w_prior: weight of the squared axis-angle of each local rotation of joints that keypoints
            constrain (hips, knees, shoulders, elbows, and ankles/wrists when feet/hands are seen).
            Small (1e-4): with 2D only it still breaks ties between mirror-image limb depths; 1e-3
            pulls real poses toward the rest pose (+8 mm PA-MPJPE in the synthetic benchmark).
        prior_unobserved: multiplier of ``w_prior`` for the spine, neck and collars (30: their
            rotations share the same few observations, and the prior spreads the bend over them).
        prior_leaf: multiplier of ``w_prior`` for leaf joints (feet, head, hands) and for joints
            whose children no keypoint observes (ankles and wrists on COCO-17): nothing else
            determines them, the prior holds them at the rest pose.
        w_limits: weight of the joint-limit penalty: squared hyperextension of knees and elbows
            beyond ``limit_margin`` plus 0.1 × their squared off-hinge rotation. Large (1) so that it
            acts as a near-hard constraint; it removes the backward-bending-knee/elbow mirror solutions.
        limit_margin: hyperextension tolerated without penalty, radians.
        robust_2d: Geman–McClure scale of the 2D term, in person heights (a residual well above it
            costs at most ``robust_2d²``: one wrong keypoint cannot drag the body).
        robust_3d: Geman–McClure scale of the 3D term, metres.
        gnc_scale: the robust scales are multiplied by this in the first two stages (graduated
            non-convexity: a near-quadratic loss first, robust at the end).
        gnc_fraction: share of ``iterations`` run with the widened scales.
        init_knee: initial knee flexion, radians.
        init_elbow: initial elbow flexion, radians.
        init_arms_down: initial lowering of the arms from the T-pose, radians (an A-pose).
        min_confidence: keypoints (and landmarks, by visibility) below it are ignored.
        min_frame_fraction: reject when fewer frames than this have both hips and both shoulders.
        focal: focal length in pixels; ``None`` → ``max(W, H)`` (≈ 53° field of view on the long
            side), recorded as ``camera["focal_estimated"] = 1``. A wrong focal length mostly scales
            the camera distance; the body pose is little affected.
        max_reproj: reject when the mean 2D reprojection error exceeds this × the median person
            height (px).
        max_landmark_mm: reject when the mean root-relative 3D landmark error exceeds this (mm).
        seed: torch seed (set in a forked RNG state; the fit itself draws no random numbers).
    """

    iterations: int = 200
    iterations_landmarks: int = 120
    root_iterations: int = 30
    optimizer: str = "lbfgs"
    lr: float = 0.03
    lbfgs_history: int = 20
    w_2d: float = 1.0
    w_3d: float = 1.0
    w_smooth: float = 0.03
    w_prior: float = 1e-4
    prior_unobserved: float = 30.0
    prior_leaf: float = 100.0
    w_limits: float = 1.0
    limit_margin: float = 0.05
    robust_2d: float = 0.05
    robust_3d: float = 0.1
    gnc_scale: float = 4.0
    gnc_fraction: float = 0.4
    init_knee: float = 0.3
    init_elbow: float = 1.0
    init_arms_down: float = 0.7
    min_confidence: float = 0.3
    min_frame_fraction: float = 0.5
    focal: float | None = None
    max_reproj: float = 0.08
    max_landmark_mm: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise ValidationError("FitConfig.optimizer", f"one of {_OPTIMIZERS}", repr(self.optimizer))
        if self.focal is not None and not (np.isfinite(self.focal) and self.focal > 0):
            raise ValidationError("FitConfig.focal", "a positive number of pixels or None", repr(self.focal))

    def to_dict(self) -> dict[str, Any]:
        """All settings as a plain dict (for provenance)."""
        return asdict(self)


@dataclass
class FitResult:
    """Outcome of :func:`fit_smpl`.

    Attributes:
        motion: the fitted SMPL-24 motion, y-up world in metres at the keypoints' fps: the level
            camera frame translated so that the pelvis of frame 0 is at x = z = 0 and the lowest
            foot joint of the clip at y = 0 (see the module docstring).
        camera: ``focal, cx, cy, width, height`` (px); ``cam_x, cam_y, cam_z``: the camera centre in
            world metres (the camera looks along −z, y up, x right: no rotation); ``focal_estimated``
            (1.0 when the focal length was not given). :func:`project` uses it.
        reproj_px: mean 2D reprojection error (px) over the confident mapped keypoints the fit uses
            (derived rows such as pelvis = mean of the hips are left out: they are biased).
        reproj_rel: ``reproj_px`` / ``person_height_px``.
        landmark_mm: mean root-relative 3D landmark error (mm; both sides relative to their hip
            centre) over the visible mapped landmarks the fit uses; NaN without landmarks.
        ok: every acceptance threshold passed.
        reason: ``""`` when ok, else why the fit was rejected.
        seconds: wall time of the fit.
        person_height_px: median over frames of the vertical extent of the confident keypoints.
    """

    motion: Motion
    camera: dict[str, float]
    reproj_px: float
    reproj_rel: float
    landmark_mm: float
    ok: bool
    reason: str
    seconds: float
    person_height_px: float = float("nan")


def project(points: Any, camera: dict[str, float]) -> Any:
    """(..., 3) world points of a :class:`FitResult` → (..., 2) pixels (x right, y down).

    Also the camera model of the 3D renderer (:mod:`macedance.render.scene`); numpy or torch.
    """
    from macedance.motion._xp import is_torch, xp

    if not is_torch(points):
        points = np.asarray(points, dtype=np.float64)
    m = xp(points)
    p = points - m.asarray([camera["cam_x"], camera["cam_y"], camera["cam_z"]], dtype=points.dtype,
                           **({"device": points.device} if m is not np else {}))
    depth = m.clip(-p[..., 2], _MIN_DEPTH, None)
    return m.stack([camera["cx"] + camera["focal"] * p[..., 0] / depth,
                    camera["cy"] - camera["focal"] * p[..., 1] / depth], -1)


def world_offset(joints: np.ndarray) -> np.ndarray:
    """(3,) translation that puts (T, 24, 3) y-up joints in the builder's world: the pelvis of frame 0
    at x = z = 0 and the lowest foot joint of the clip (SMPL 7, 8, 10, 11) at y = 0."""
    J = np.asarray(joints)
    return np.array([-J[0, 0, 0], -J[:, list(_FOOT_JOINTS), 1].min(), -J[0, 0, 2]])


def _frame(across: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation with columns x ∥ across, y ∥ the part of up ⟂ x, z = x × y."""
    x = across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
    y = up - (up * x).sum(-1, keepdims=True) * x
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    return np.stack([x, y, np.cross(x, y)], -1)


def _fill_missing(values: np.ndarray, valid: np.ndarray, linear: bool) -> np.ndarray:
    """Invalid frames of (T, ...) values ← linear interpolation, or the nearest valid frame."""
    if valid.all():
        return values
    t = np.arange(len(values))
    good = np.flatnonzero(valid)
    if linear:
        flat = values.reshape(len(values), -1)
        return np.stack([np.interp(t, good, flat[good, i]) for i in range(flat.shape[1])], -1).reshape(values.shape)
    after = good[np.clip(np.searchsorted(good, t), 0, len(good) - 1)]
    before = good[np.clip(np.searchsorted(good, t) - 1, 0, len(good) - 1)]
    return values[np.where(np.abs(before - t) < np.abs(after - t), before, after)]


def _person_height(xy: np.ndarray, conf: np.ndarray) -> float:
    """Median over frames of the vertical extent (px) of the confident keypoints."""
    enough = (conf > 0).sum(-1) >= 2
    if not enough.any():
        return float("nan")
    y = np.where(conf[enough] > 0, xy[enough, :, 1], np.nan)
    return float(np.median(np.nanmax(y, -1) - np.nanmin(y, -1)))


def _prior_weights(observed: set[int], cfg: FitConfig) -> np.ndarray:
    """(24,) prior weight of each local rotation (the root, index 0, is not penalised)."""
    w = np.full(NUM_SMPL_JOINTS, cfg.w_prior)
    for j in range(1, NUM_SMPL_JOINTS):
        children = [c for c, p in enumerate(SMPL_PARENTS) if p == j]
        if j in _UNOBSERVED:
            w[j] *= cfg.prior_unobserved
        elif j in _LEAVES or not any(c in observed for c in children):
            w[j] *= cfg.prior_leaf
    w[0] = 0.0
    return w


def _check_inputs(keypoints: Any, skeleton: str, image_size: Any, fps: Any, landmarks3d: Any) -> tuple:
    if skeleton not in KEYPOINT_SKELETONS:
        raise ValidationError("skeleton", f"one of {tuple(KEYPOINT_SKELETONS)}", repr(skeleton))
    K = len(KEYPOINT_SKELETONS[skeleton])
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (K, 3) or kp.shape[0] < 1:
        raise ValidationError("keypoints", f"shape (T, {K}, 3) for {skeleton}", str(kp.shape))
    lm = None
    if landmarks3d is not None:
        lm = np.asarray(landmarks3d, dtype=np.float64)
        if lm.shape != (kp.shape[0], K, 4):
            raise ValidationError("landmarks3d", f"shape ({kp.shape[0]}, {K}, 4)", str(lm.shape))
    try:
        w, h = (int(v) for v in image_size)
        if w <= 0 or h <= 0 or (w, h) != tuple(image_size):
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationError("image_size", "(width, height) positive integers", repr(image_size)) from None
    try:
        fps = float(fps)
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationError("fps", "a positive number", repr(fps)) from None
    return kp, lm, (w, h), fps


def fit_smpl(
    keypoints: np.ndarray,
    skeleton: str,
    image_size: tuple[int, int],
    fps: float,
    landmarks3d: np.ndarray | None = None,
    rest: RestSkeleton | None = None,
    config: FitConfig = FitConfig(),
    device: str = "cpu",
) -> FitResult:
    """Fit an SMPL-24 motion to one person's keypoints over a clip.

    Args:
        keypoints: (T, K, 3) pixels ``(x right, y down)`` + confidence, on ``skeleton``.
        skeleton: ``mediapipe33``, ``coco17`` or ``vitpose25``.
        image_size: (width, height) px.
        fps: frame rate of the keypoints (and of the output motion).
        landmarks3d: optional (T, K, 4) MediaPipe-convention world landmarks (hip-centred metres,
            x right, y down, z away from the camera) + visibility; see the module docstring.
        rest: rest skeleton giving the bone lengths; default :func:`builtin_skeleton`.
        config: weights and thresholds.
        device: torch device of the optimisation (``"cpu"`` or a CUDA device).

    Returns:
        A :class:`FitResult`. A fit that cannot be trusted has ``ok=False`` and a ``reason``; its
        motion is still returned (all zeros when nothing could be fitted).

    Raises:
        ValidationError: malformed inputs (shapes, skeleton, image size, fps).
    """
    import torch

    t0 = time.perf_counter()
    cfg = config
    rest = rest or builtin_skeleton()
    kp, lm, (W_img, H_img), fps = _check_inputs(keypoints, skeleton, image_size, fps, landmarks3d)
    T = kp.shape[0]
    focal = float(cfg.focal) if cfg.focal is not None else float(max(W_img, H_img))
    cx, cy = W_img / 2.0, H_img / 2.0
    camera = {"focal": focal, "cx": cx, "cy": cy, "width": float(W_img), "height": float(H_img),
              "cam_x": 0.0, "cam_y": 0.0, "cam_z": 0.0, "focal_estimated": float(cfg.focal is None)}

    def failure(reason: str, height: float) -> FitResult:
        motion = Motion(np.zeros((T, NUM_SMPL_JOINTS, 3)), np.zeros((T, 3)), fps, "y", meta={"fit": "failed"})
        nan = float("nan")
        return FitResult(motion, camera, nan, nan, nan, False, reason, time.perf_counter() - t0, height)

    # ----- observations mapped onto SMPL joints ------------------------------------------------
    c_raw = np.nan_to_num(kp[..., 2])
    conf = np.where(np.isfinite(kp).all(-1) & (c_raw >= cfg.min_confidence), c_raw, 0.0)
    xy = np.nan_to_num(kp[..., :2])
    smpl_idx, Wmap = smpl_correspondences(skeleton)
    use = ~derived_rows(skeleton)  # rows in the losses
    row = {int(j): m for m, j in enumerate(smpl_idx)}
    obs2d = Wmap @ xy  # (T, M, 2)
    c2d = mapped_confidence(conf, Wmap)  # (T, M)
    height_px = _person_height(xy, conf)
    torso = [row[j] for j in _TORSO]
    valid = (c2d[:, torso] > 0).all(-1)
    if not np.isfinite(height_px) or height_px <= 1.0 or valid.mean() < cfg.min_frame_fraction:
        return failure(f"too few confident keypoints: {int(valid.sum())}/{T} frames have both hips and both "
                       f"shoulders (need {cfg.min_frame_fraction:.0%})", height_px)
    have3d = lm is not None
    if have3d:
        v_raw = np.nan_to_num(lm[..., 3])
        vis = np.where(np.isfinite(lm).all(-1) & (v_raw >= cfg.min_confidence), v_raw, 0.0)
        obs3d = Wmap @ (np.nan_to_num(lm[..., :3]) * np.array([1.0, -1.0, -1.0]))  # → y up, z toward camera
        obs3d = obs3d - 0.5 * (obs3d[:, row[_L_HIP]] + obs3d[:, row[_R_HIP]])[:, None]
        c3d = mapped_confidence(vis, Wmap)
        c3d = c3d * (c3d[:, [row[_L_HIP], row[_R_HIP]]] > 0).all(-1)[:, None]

    # ----- closed-form initialisation ----------------------------------------------------------
    J_rest = rest.joints
    mid_hip_rest = 0.5 * (J_rest[_L_HIP] + J_rest[_R_HIP])
    mid_sho_rest = 0.5 * (J_rest[_L_SHO] + J_rest[_R_SHO])
    F_rest = _frame(J_rest[_L_HIP] - J_rest[_R_HIP], mid_sho_rest - mid_hip_rest)
    init_valid = np.zeros(T, dtype=bool)
    if have3d:
        across = obs3d[:, row[_L_HIP]] - obs3d[:, row[_R_HIP]]
        up = 0.5 * (obs3d[:, row[_L_SHO]] + obs3d[:, row[_R_SHO]])
        R_init = _frame(across, up) @ F_rest.T
        # Per-frame weighted least squares for the hip centre t (camera frame, y up, z toward the
        # camera) from x_cam = P + t and the pinhole equations, linear in t:
        #   f t_x + (u − cx) t_z = −f P_x − (u − cx) P_z ;  f t_y − (v − cy) t_z = (v − cy) P_z − f P_y
        w = np.repeat(c2d * c3d, 2, axis=1)
        du, dv = obs2d[..., 0] - cx, obs2d[..., 1] - cy
        fz, zero = np.full_like(du, focal), np.zeros_like(du)
        A = np.stack([np.stack([fz, zero, du], -1), np.stack([zero, fz, -dv], -1)], -2).reshape(T, -1, 3)
        b = np.stack([-focal * obs3d[..., 0] - du * obs3d[..., 2], dv * obs3d[..., 2] - focal * obs3d[..., 1]],
                     -1).reshape(T, -1)
        AtA = np.einsum("tn,tni,tnj->tij", w, A, A) + 1e-9 * np.eye(3)
        hip_c = np.linalg.solve(AtA, np.einsum("tn,tni,tn->ti", w, A, b)[..., None])[..., 0]
        init_valid = valid & (c3d[:, torso] > 0).all(-1) & ((w > 0).sum(-1) >= 6) & (hip_c[:, 2] < -_MIN_DEPTH)
    if init_valid.mean() < cfg.min_frame_fraction:  # 2D only (or unusable landmarks)
        init_valid = valid
        hip_px = 0.5 * (obs2d[:, row[_L_HIP]] + obs2d[:, row[_R_HIP]])
        d_img = 0.5 * (obs2d[:, row[_L_SHO]] + obs2d[:, row[_R_SHO]]) - hip_px
        up = np.stack([d_img[:, 0], -d_img[:, 1], np.zeros(T)], -1)
        up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
        a_img = obs2d[:, row[_L_HIP]] - obs2d[:, row[_R_HIP]]
        right = np.stack([up[:, 1], -up[:, 0], np.zeros(T)], -1)  # image-right of "up"
        # Facing the camera when the left hip appears right of the right hip; yaw is left to the fit.
        facing = np.where(a_img[:, 0] * right[:, 0] - a_img[:, 1] * right[:, 1] >= 0, 1.0, -1.0)
        R_init = _frame(facing[:, None] * right, up) @ F_rest.T
        depth = focal * float(np.linalg.norm(mid_sho_rest - mid_hip_rest)) / np.maximum(np.linalg.norm(d_img, axis=-1), 1e-6)
        hip_c = np.stack([(hip_px[:, 0] - cx) * depth / focal, -(hip_px[:, 1] - cy) * depth / focal, -depth], -1)
    R_init = _fill_missing(R_init, init_valid, linear=False)
    hip_c = _fill_missing(hip_c, init_valid, linear=True)
    # SMPL FK with the hips unrotated: hip centre = J0 + trans + R_root (mid_hip_rest − J0).
    trans_init = hip_c - J_rest[0] - R_init @ (mid_hip_rest - J_rest[0])
    body_init = np.zeros((T, NUM_SMPL_JOINTS - 1, 3))
    for j, (axis, sign) in _HINGES.items():
        body_init[:, j - 1, axis] = sign * (cfg.init_knee if j in (4, 5) else cfg.init_elbow)
    body_init[:, _L_SHO - 1, 2] = -cfg.init_arms_down
    body_init[:, _R_SHO - 1, 2] = cfg.init_arms_down

    # ----- optimisation ------------------------------------------------------------------------
    dev = torch.device(device)

    def tt(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=dev)

    prior_w = tt(_prior_weights({int(j) for j in smpl_idx[use]}, cfg)[1:])
    idx_t = torch.as_tensor(smpl_idx[use], device=dev)
    obs2d_t, c2d_t = tt(obs2d[:, use]), tt(c2d[:, use])
    torso_w = tt(np.isin(smpl_idx[use], _TORSO))
    n2d = max(float((c2d[:, use] > 0).any(-1).sum()), 1.0)
    if have3d:
        obs3d_t, c3d_t = tt(obs3d[:, use]), tt(c3d[:, use])
        n3d = max(float((c3d[:, use] > 0).any(-1).sum()), 1.0)
    R_init_t = tt(R_init)
    acc_scale = (fps / 30.0) ** 2
    hinge_rows = [j - 1 for j in _HINGES]
    hinge_axis = torch.as_tensor([a for a, _ in _HINGES.values()], device=dev)
    hinge_flex = tt([s for _, s in _HINGES.values()])
    off_hinge = torch.ones(len(_HINGES), 3, device=dev)
    off_hinge[torch.arange(len(_HINGES)), hinge_axis] = 0.0

    cuda_ids = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_ids):
        torch.manual_seed(cfg.seed)
        root_delta = torch.zeros(T, 3, device=dev, requires_grad=True)
        body = tt(body_init).requires_grad_(True)
        trans = tt(trans_init).requires_grad_(True)

        def rotmats() -> torch.Tensor:
            root = axis_angle_to_matrix(root_delta) @ R_init_t
            return torch.cat([root[:, None], axis_angle_to_matrix(body)], 1)

        def objective(full: bool, gnc: float) -> torch.Tensor:
            J = forward_kinematics(rotmats(), trans, rest)  # (T, 24, 3)
            Jm = J[:, idx_t]
            depth = torch.clamp(-Jm[..., 2], min=_MIN_DEPTH)
            proj = torch.stack([cx + focal * Jm[..., 0] / depth, cy - focal * Jm[..., 1] / depth], -1)
            r2 = ((proj - obs2d_t) / height_px).pow(2).sum(-1)
            s2 = (gnc * cfg.robust_2d) ** 2
            w2 = c2d_t if full else c2d_t * torso_w
            loss = cfg.w_2d * (w2 * s2 * r2 / (r2 + s2)).sum() / n2d  # Geman–McClure
            if have3d:
                e2 = (Jm - 0.5 * (J[:, _L_HIP] + J[:, _R_HIP])[:, None] - obs3d_t).pow(2).sum(-1)
                s3 = (gnc * cfg.robust_3d) ** 2
                w3 = c3d_t if full else c3d_t * torso_w
                loss = loss + cfg.w_3d * (w3 * s3 * e2 / (e2 + s3)).sum() / n3d
            if T >= 3:
                acc = (J[2:] - 2 * J[1:-1] + J[:-2]) * acc_scale
                loss = loss + cfg.w_smooth * (acc if full else acc[:, :1]).pow(2).sum((-1, -2)).mean()
            if full:
                loss = loss + (body.pow(2).sum(-1) * prior_w).sum(-1).mean()
                h = body[:, hinge_rows]  # (T, 4, 3)
                flex = h.gather(-1, hinge_axis[None, :, None].expand(T, -1, 1))[..., 0] * hinge_flex
                limits = torch.relu(-flex - cfg.limit_margin).pow(2) + 0.1 * (h * off_hinge).pow(2).sum(-1)
                loss = loss + cfg.w_limits * limits.sum(-1).mean()
            return loss

        def run(params: list[torch.Tensor], steps: int, full: bool, gnc: float) -> None:
            if steps <= 0:
                return
            if cfg.optimizer == "lbfgs":
                opt: torch.optim.Optimizer = torch.optim.LBFGS(
                    params, lr=1.0, max_iter=steps, history_size=cfg.lbfgs_history, tolerance_grad=1e-9,
                    tolerance_change=1e-12, line_search_fn="strong_wolfe")

                def closure() -> torch.Tensor:
                    opt.zero_grad(set_to_none=True)
                    loss = objective(full, gnc)
                    loss.backward()
                    return loss

                opt.step(closure)
                return
            opt = torch.optim.Adam(params, lr=cfg.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=cfg.lr / 10)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                objective(full, gnc).backward()
                opt.step()
                sched.step()

        iterations = cfg.iterations_landmarks if have3d else cfg.iterations
        n_wide = round(iterations * cfg.gnc_fraction)
        run([root_delta, trans], cfg.root_iterations, False, cfg.gnc_scale)
        run([root_delta, body, trans], n_wide, True, cfg.gnc_scale)
        run([root_delta, body, trans], iterations - n_wide, True, 1.0)
        with torch.no_grad():
            R = rotmats().double().cpu().numpy()
            tr = trans.double().cpu().numpy()

    # ----- evaluation (float64) and the y-up world -----------------------------------------------
    if not (np.isfinite(R).all() and np.isfinite(tr).all()):
        return failure("the optimisation diverged (non-finite result)", height_px)
    poses = matrix_to_axis_angle(R)  # also re-orthonormalises the float32 products
    J = forward_kinematics(axis_angle_to_matrix(poses), tr, rest)
    Jm = J[:, smpl_idx[use]]
    depth = np.maximum(-Jm[..., 2], _MIN_DEPTH)
    proj = np.stack([cx + focal * Jm[..., 0] / depth, cy - focal * Jm[..., 1] / depth], -1)
    seen = c2d[:, use] > 0
    reproj_px = float(np.linalg.norm(proj - obs2d[:, use], axis=-1)[seen].mean())
    reproj_rel = reproj_px / height_px
    landmark_mm = float("nan")
    if have3d:
        e3 = np.linalg.norm(Jm - 0.5 * (J[:, _L_HIP] + J[:, _R_HIP])[:, None] - obs3d[:, use], axis=-1)
        seen3 = c3d[:, use] > 0
        landmark_mm = float(e3[seen3].mean() * 1000.0) if seen3.any() else float("nan")

    offset = world_offset(J)
    camera.update(cam_x=float(offset[0]), cam_y=float(offset[1]), cam_z=float(offset[2]))
    meta = {"fit": "fit_smpl", "skeleton": skeleton, "rest": rest.name, "focal_px": f"{focal:.6g}",
            "focal_estimated": str(cfg.focal is None).lower(),
            "world": "level camera frame (y up, camera looks along -z), translated"}
    motion = Motion(poses, tr + offset, fps, "y", meta=meta)

    reasons = []
    if not np.isfinite(reproj_rel) or reproj_rel > cfg.max_reproj:
        reasons.append(f"mean reprojection error {reproj_px:.1f} px = {reproj_rel:.3f} × person height "
                       f"{height_px:.0f} px > {cfg.max_reproj}")
    if have3d and not landmark_mm <= cfg.max_landmark_mm:
        reasons.append(f"mean 3D landmark error {landmark_mm:.1f} mm > {cfg.max_landmark_mm} mm")
    return FitResult(motion, camera, reproj_px, reproj_rel, landmark_mm, not reasons, "; ".join(reasons),
                     time.perf_counter() - t0, height_px)
