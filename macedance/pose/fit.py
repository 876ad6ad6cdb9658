"""Fit an SMPL-24 motion to a clip's per-frame 2D keypoints (and optional 3D landmarks).

The fit runs in the **camera frame**, batched over all frames at once (torch, L-BFGS by default):

* unknowns per frame: the root orientation (a correction ``exp(δ)`` on a closed-form initial
  orientation), the 23 local joint rotations (axis-angle) and the root translation. Bone lengths come
  from a :class:`~macedance.motion.skeleton.RestSkeleton` (default: the built-in SMPL mean shape) and
  never change, so the body's size fixes the metric scale and the depth.
* camera: a :class:`~macedance.motion.camera.PinholeCamera` with focal length ``f`` px (given, or
  ``max(W, H)`` ≈ a 53° field of view on the long side when unknown) and the principal point at the
  image centre; no distortion.
* initialisation: root orientation from the hips and shoulders (3D landmarks when given, else the
  image directions, facing or back to the camera); hip-centre position by per-frame linear least
  squares of the projection equations when 3D landmarks are given, else from the torso's pixel
  length vs the rest skeleton's; the body starts in an A-pose with bent knees and elbows (a straight
  hinge is a saddle point: the fit could not bend it, and would foreshorten the limb instead).
* stages: root and translation on the torso keypoints, then everything with wide robust scales
  (graduated non-convexity), then everything with the final scales, then the physical refinement
  (``physics_iterations``): planted feet (seen, slow in the image, lowest) held still on a floor plane
  fitted with the body, no foot below it, smooth root depth and position
  (:func:`~macedance.pose.fit_optimize.physics_targets`).
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
* output :class:`~macedance.schema.Motion`: y-up, metres. **Camera-level assumption** by default: the
  world is the camera frame translated, without rotation — the image's vertical is gravity. With
  ``level_floor`` the world is the camera frame levelled on the estimated floor (the plane where the
  toes stand still, :func:`~macedance.motion.plausibility.estimate_floor`), and the camera gets that
  pitch and roll. The translation puts the pelvis of frame 0 at x = z = 0 and the
  lowest foot joint (ankles and feet, SMPL joints 7, 8, 10, 11) over the clip at y = 0 — joint
  centres, so the real sole is a few centimetres lower. ``FitResult.camera`` holds the camera centre
  in that world (``cam_x, cam_y, cam_z``); its
  :meth:`~macedance.motion.camera.PinholeCamera.project` reprojects world points to pixels.

Acceptance: ``ok=False`` with a reason when too few frames have both hips and both shoulders, when
the mean reprojection error exceeds ``max_reproj`` × the median person height, or when the mean
root-relative landmark error exceeds ``max_landmark_mm``. Keypoint↔joint correspondences are
approximate (see :mod:`macedance.pose.mapping`), so real detections leave a few percent of the
person's height of reprojection error even for a good fit.
"""


from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from macedance.errors import ValidationError
from macedance.motion.camera import PinholeCamera, world_offset
from macedance.motion.kinematics import forward_kinematics, rotate_root
from macedance.motion.plausibility import estimate_floor, level_rotation
from macedance.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from macedance.motion.skeleton import NUM_SMPL_JOINTS, RestSkeleton, builtin_skeleton
from macedance.pose.fit_init import L_HIP, R_HIP, Observations, initial_state, mean_reprojection_px, observe
from macedance.schema.keypoints import KEYPOINT_SKELETONS
from macedance.schema.motion import Motion

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
            side), recorded as ``camera.focal_estimated = 1.0``. A wrong focal length mostly scales
            the camera distance; the body pose is little affected.
        max_reproj: reject when the mean 2D reprojection error exceeds this × the median person
            height (px).
        max_landmark_mm: reject when the mean root-relative 3D landmark error exceeds this (mm).
        seed: torch seed (set in a forked RNG state; the fit itself draws no random numbers).
        physics_iterations: iterations of the physical refinement (0 turns it off): the full
            objective plus the contact terms below, from the fit of the earlier stages.
        w_contact: weight of the squared frame-to-frame displacement (m per frame at 30 fps) of a
            planted foot joint: planted feet do not slide.
        w_floor: weight of the squared height of planted foot joints above the floor plane, and 10 ×
            of the squared depth of any foot joint below it. The plane (``y = a x + b z + c`` in the
            camera frame) is optimised with the body, so that planted feet at different depths agree
            on one floor (the ground-plane depth cue).
        w_depth: weight of the squared change of the root's camera distance per frame (m at 30 fps):
            depth, weakly observed in 2D, changes smoothly.
        w_root_smooth: weight of the squared pelvis acceleration (m per frame² at 30 fps) in the
            refinement, on top of ``w_smooth``: keypoint noise of a few pixels moves the root by
            centimetres on low-resolution footage.
        contact_height: a seen foot joint within this (m) of the frame's lowest foot joint can be
            planted.
        contact_speed: and its keypoint's image speed must be below this, person heights per second.

        The refinement's defaults were chosen on the 6 usable clip windows of the two shared real
        dance videos (``benchmarks/bench_plausibility.py``, table in benchmarks/RESULTS.md): against
        the fit without it, median support-foot skating 0.84 → 0.38 m/s, float 11 → 1.1 cm, root
        jitter 18 → 11 mm/frame², the reprojection error unchanged (AIST++ mocap: 0.02–0.70 m/s,
        1.5–6.8 cm, 1–14 mm/frame²). Stronger contact weights (100) made single clips unstable;
        ``w_smooth`` = 0.3 instead of the root term raised the reprojection error by half.
        level_floor: rotate the result so that the estimated floor is level (the camera gets the
            pitch and roll); off (the default), or when the floor cannot be estimated, the world stays
            the level camera frame. Off by default: a dancer who stays on one spot shows too little of
            the floor to measure its slope, and on a generated dance at three spots seen by a camera
            pitched 10° down (tests/test_plausibility.py) 2D-only fits recover about half the pitch
            (−5°) and a few degrees of spurious roll. The floor's tilt in the camera frame is always
            reported (``phys_floor_tilt_deg``).
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
    physics_iterations: int = 60
    w_contact: float = 10.0
    w_floor: float = 1.0
    w_depth: float = 1.0
    w_root_smooth: float = 5.0
    contact_height: float = 0.1
    contact_speed: float = 0.4
    level_floor: bool = False

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
        camera: the camera in the motion's world: ``focal, cx, cy, width, height`` (px); ``cam_x, cam_y,
            cam_z``: its centre in world metres (it looks along −z, y up, x right: no rotation);
            ``focal_estimated`` 1.0 when the focal length was not given. Serialised with
            :meth:`~macedance.motion.camera.PinholeCamera.to_dict`.
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
    camera: PinholeCamera
    reproj_px: float
    reproj_rel: float
    landmark_mm: float
    ok: bool
    reason: str
    seconds: float
    person_height_px: float = float("nan")


def _check_inputs(keypoints: Any, skeleton: str, image_size: Any, fps: Any, landmarks3d: Any) -> tuple:
    """Checked inputs: (T, K, 3) float64 keypoints, (T, K, 4) float64 landmarks or None, (width, height) and fps."""
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




def _camera(size: tuple[int, int], focal: float | None) -> PinholeCamera:
    """The fit's camera at the origin of its camera frame: principal point at the image centre, focal
    length ``focal`` px or, when unknown, ``max(W, H)`` (recorded as ``focal_estimated = 1``)."""
    W_img, H_img = size
    f = float(focal) if focal is not None else float(max(W_img, H_img))
    return PinholeCamera(focal=f, cx=W_img / 2.0, cy=H_img / 2.0, width=float(W_img), height=float(H_img),
                         focal_estimated=float(focal is None))


def fit_smpl(
    keypoints: np.ndarray,
    skeleton: str,
    image_size: tuple[int, int],
    fps: float,
    *,
    landmarks3d: np.ndarray | None = None,
    rest: RestSkeleton | None = None,
    config: FitConfig = FitConfig(),
    device: str = "cpu",
) -> FitResult:
    """Fit an SMPL-24 motion to one person's keypoints over a clip.

    Stages: input checks, the camera (:func:`_camera`), observations mapped onto SMPL joints
    (:func:`~macedance.pose.fit_init.observe`), the closed-form initial state
    (:func:`~macedance.pose.fit_init.initial_state`), the optimisation
    (:func:`~macedance.pose.fit_optimize.optimise`), then errors, world frame and acceptance
    (:func:`_result`).

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
    from macedance.pose.fit_optimize import optimise  # imports torch

    t0 = time.perf_counter()
    cfg = config
    rest = rest or builtin_skeleton()
    kp, lm, size, fps = _check_inputs(keypoints, skeleton, image_size, fps, landmarks3d)
    camera = _camera(size, cfg.focal)
    obs = observe(kp, lm, skeleton, cfg)

    def failure(reason: str) -> FitResult:
        T = len(kp)
        motion = Motion(np.zeros((T, NUM_SMPL_JOINTS, 3)), np.zeros((T, 3)), fps, "y", meta={"fit": "failed"})
        nan = float("nan")
        return FitResult(motion, camera, nan, nan, nan, False, reason, time.perf_counter() - t0, obs.height_px)

    if not np.isfinite(obs.height_px) or obs.height_px <= 1.0 or obs.valid.mean() < cfg.min_frame_fraction:
        return failure(f"too few confident keypoints: {int(obs.valid.sum())}/{len(kp)} frames have both hips and both "
                       f"shoulders (need {cfg.min_frame_fraction:.0%})")
    R_init, trans_init, body_init = initial_state(obs, camera, rest, cfg)
    R, tr = optimise(obs, R_init, trans_init, body_init, camera, rest, fps, cfg, device)
    if not (np.isfinite(R).all() and np.isfinite(tr).all()):
        return failure("the optimisation diverged (non-finite result)")
    return _result(R, tr, obs, camera, rest, fps, skeleton, cfg, t0)


def _result(R: np.ndarray, tr: np.ndarray, obs: Observations, camera: PinholeCamera, rest: RestSkeleton, fps: float,
            skeleton: str, cfg: FitConfig, t0: float) -> FitResult:
    """The :class:`FitResult` of finite (T, 24, 3, 3) rotations and (T, 3) translations in the camera
    frame: errors in float64, the motion and camera moved into the y-up world
    (:func:`~macedance.motion.camera.world_offset`), and the acceptance thresholds applied."""
    poses = matrix_to_axis_angle(R)  # also re-orthonormalises the float32 products
    J = forward_kinematics(axis_angle_to_matrix(poses), tr, rest)
    use = obs.use
    Jm = J[:, obs.smpl_idx[use]]
    reproj_px = mean_reprojection_px(camera, J, obs)
    reproj_rel = reproj_px / obs.height_px
    landmark_mm = float("nan")
    if obs.obs3d is not None and obs.c3d is not None:
        e3 = np.linalg.norm(Jm - 0.5 * (J[:, L_HIP] + J[:, R_HIP])[:, None] - obs.obs3d[:, use], axis=-1)
        seen3 = obs.c3d[:, use] > 0
        landmark_mm = float(e3[seen3].mean() * 1000.0) if seen3.any() else float("nan")

    if cfg.level_floor:
        floor = estimate_floor(J, fps)
        if floor.tilt_deg > 0.0:
            R_align, pitch, roll = level_rotation(floor.normal)
            root, tr = rotate_root(axis_angle_to_matrix(poses[:, 0]), tr, R_align, rest.joints[0])
            poses = poses.copy()
            poses[:, 0] = matrix_to_axis_angle(root)
            J = J @ R_align.T
            camera = dataclasses.replace(camera, pitch=pitch, roll=roll)
    offset = world_offset(J)
    camera = dataclasses.replace(camera, cam_x=float(offset[0]), cam_y=float(offset[1]), cam_z=float(offset[2]))
    meta = {"fit": "fit_smpl", "skeleton": skeleton, "rest": rest.name, "focal_px": f"{camera.focal:.6g}",
            "focal_estimated": str(cfg.focal is None).lower(),
            "world": "level camera frame (y up, camera looks along -z), translated" if camera.level else
            "camera frame rotated to level the estimated floor (y up; camera pitch/roll in meta camera), translated"}
    motion = Motion(poses, tr + offset, fps, "y", meta=meta)

    reasons = []
    if not np.isfinite(reproj_rel) or reproj_rel > cfg.max_reproj:
        reasons.append(f"mean reprojection error {reproj_px:.1f} px = {reproj_rel:.3f} × person height "
                       f"{obs.height_px:.0f} px > {cfg.max_reproj}")
    if obs.obs3d is not None and not landmark_mm <= cfg.max_landmark_mm:
        reasons.append(f"mean 3D landmark error {landmark_mm:.1f} mm > {cfg.max_landmark_mm} mm")
    return FitResult(motion, camera, reproj_px, reproj_rel, landmark_mm, not reasons, "; ".join(reasons),
                     time.perf_counter() - t0, obs.height_px)
