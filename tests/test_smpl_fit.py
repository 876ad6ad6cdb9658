"""SMPL fitting to keypoints: keypoint↔SMPL mappings and the fit on synthetic camera views.

The synthetic benchmark is optimistic by construction: the keypoints sit exactly on the SMPL joints
of the built-in skeleton that the fit also uses (no skin offset, no shape mismatch), the noise is
Gaussian and the focal length is known. The 2D-only bound is looser because depth is only weakly
observable from one view.

The fit optimises in float32 torch, whose kernels (AVX2/AVX-512, 1 or many threads) change its result in
the last bits, and LBFGS amplifies that into small changes of the fitted motion (PA-MPJPE 29.7 vs 29.8 mm
with 2 and 1 threads). Its quality bounds are therefore set far from the measured values (noted beside
each); the exact checks compare float64 quantities that do not depend on the fit's round-off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from macedance.datasets.synthetic import synthetic_motion
from macedance.errors import ValidationError
from macedance.motion.kinematics import forward_kinematics
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.motion.skeleton import builtin_skeleton
from macedance.pose.fit import FitConfig, fit_smpl
from macedance.pose.mapping import (
    SMPL_MAPPINGS,
    derived_rows,
    smpl_correspondences,
    smpl_joints_to_keypoints,
    to_coco17,
)
from macedance.pose.metrics import mpjpe, pa_mpjpe
from macedance.schema.keypoints import COCO17, KEYPOINT_SKELETONS, MEDIAPIPE33, VITPOSE25, Keypoints2D

FOCAL, WIDTH, HEIGHT, FPS = 1000.0, 1280, 720, 30.0
NOISE_PX, NOISE_M = 2.0, 0.010


def camera_scene(seed: int, seconds: float = 4.0, yaw: float = 0.35, skeleton: str = "mediapipe33"):
    """A synthetic dance seen by a level camera: GT joints (camera frame), keypoints, landmarks.

    Camera frame: x right, y up, z toward the camera. The dancer starts ``yaw`` rad off facing the
    camera (then turns slowly, as the generator's root does), 4 m away, pelvis about 0.2 m below the
    camera; keypoints get 2 px noise, hip-centred MediaPipe-convention landmarks 10 mm noise.
    """
    rest = builtin_skeleton()
    motion = synthetic_motion(seconds=seconds, fps=FPS, seed=seed)
    poses = motion.poses.copy()
    poses[:, 0, 1] += yaw - poses[0, 0, 1]
    trans = motion.trans + np.array([0.0, -0.2 - rest.joints[0, 1], -4.0])
    joints = forward_kinematics(axis_angle_to_matrix(poses), trans, rest)
    rng = np.random.default_rng(1000 + seed)
    pts, filled = smpl_joints_to_keypoints(joints, skeleton)  # (T, K, 3) on the SMPL joints
    depth = np.where(filled, -pts[..., 2], 1.0)  # keypoints without an SMPL joint stay at 0, confidence 0
    uv = np.stack([WIDTH / 2 + FOCAL * pts[..., 0] / depth, HEIGHT / 2 - FOCAL * pts[..., 1] / depth], -1)
    uv += rng.normal(scale=NOISE_PX, size=uv.shape)
    conf = np.broadcast_to(filled.astype(float), depth.shape)
    keypoints = np.concatenate([np.where(filled[:, None], uv, 0.0), conf[..., None]], -1)
    names = KEYPOINT_SKELETONS[skeleton]
    hip_centre = 0.5 * (pts[:, names.index("left_hip")] + pts[:, names.index("right_hip")])
    lm = (pts - hip_centre[:, None]) * np.array([1.0, -1.0, -1.0])  # x right, y down, z away
    lm += rng.normal(scale=NOISE_M, size=lm.shape)
    landmarks = np.concatenate([np.where(filled[:, None], lm, 0.0), conf[..., None]], -1)
    return joints, keypoints, landmarks


def fitted_camera_joints(result) -> np.ndarray:
    """The fitted joints brought back into the camera frame (the world is the camera frame, levelled on the
    estimated floor and translated)."""
    return result.camera.to_camera(result.motion.joints(builtin_skeleton()))


def mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Pelvis-aligned MPJPE over all 24 joints, no rotation or scale alignment."""
    return mpjpe(pred, gt)


def pa_mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Per-frame Procrustes (rotation, translation, scale) aligned MPJPE over all 24 joints."""
    return pa_mpjpe(pred, gt)


def test_pose_metrics_match_a_per_frame_reference() -> None:
    """The vectorised MPJPE / PA-MPJPE equal a per-frame loop; PA removes a similarity transform."""
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(6, 24, 3))
    pred = gt + rng.normal(scale=0.01, size=gt.shape)
    ref = []
    for p, g in zip(pred, gt, strict=True):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        U, S, Vt = np.linalg.svd(p0.T @ g0)
        D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
        R = U @ D @ Vt
        ref.append(np.linalg.norm((S * np.diag(D)).sum() / (p0**2).sum() * p0 @ R - g0, axis=-1).mean())
    # float64 SVD (LAPACK, kernels differ between CPUs) of well-conditioned 3×3 matrices: ~1e-15 relative (measured 4e-16)
    assert pa_mpjpe(pred, gt) == pytest.approx(np.mean(ref) * 1000, rel=1e-9)
    c, s = np.cos(0.7), np.sin(0.7)
    moved = 1.3 * gt @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + 2.0
    assert pa_mpjpe(moved, gt) < 1e-9 and mpjpe(moved, gt) > 100  # exact similarity: float64 residual ~1e-15 m = 1e-12 mm
    assert mpjpe(gt + 5.0, gt) < 1e-9  # a translation disappears with the root alignment (rounding of +5: ~1e-15 m)


@pytest.fixture(scope="module")
def scene():
    return camera_scene(seed=3)


# ----- mappings ------------------------------------------------------------------------------


@pytest.mark.parametrize("skeleton", sorted(SMPL_MAPPINGS))
def test_correspondences_are_averages_and_roundtrip(skeleton: str) -> None:
    idx, weights = smpl_correspondences(skeleton)
    assert weights.shape == (len(idx), len(KEYPOINT_SKELETONS[skeleton]))
    np.testing.assert_allclose(weights.sum(1), 1.0)  # weights 1 or 0.5 + 0.5: exact in binary, any order
    assert len(set(idx.tolist())) == len(idx)
    for j in (0, 1, 2, 4, 5, 7, 8, 15, 16, 17, 18, 19, 20, 21):  # every skeleton sees these
        assert j in idx
    joints = np.random.default_rng(0).normal(size=(5, 24, 3))
    kp, filled = smpl_joints_to_keypoints(joints, skeleton)
    mapped = weights @ kp
    keep = ~derived_rows(skeleton)
    # non-derived rows have one weight 1, the others 0: products and sums exact in any BLAS order (measured exact)
    np.testing.assert_allclose(mapped[:, keep], joints[:, idx[keep]], atol=1e-12)
    assert derived_rows(skeleton)[list(idx).index(0)]  # the pelvis is the mean of the hips
    assert (weights[:, ~filled] == 0).all()


def test_specific_correspondences() -> None:
    idx, w = smpl_correspondences("mediapipe33")  # weights are the constants 1/n (n = 1, 2): exact comparisons
    row = {int(j): r for r, j in enumerate(idx)}
    assert w[row[10], MEDIAPIPE33.index("left_foot_index")] == 1.0
    assert w[row[23], MEDIAPIPE33.index("right_index")] == 1.0
    assert w[row[15], MEDIAPIPE33.index("left_ear")] == w[row[15], MEDIAPIPE33.index("right_ear")] == 0.5
    assert w[row[12], MEDIAPIPE33.index("left_shoulder")] == 0.5
    idx, w = smpl_correspondences("vitpose25")
    row = {int(j): r for r, j in enumerate(idx)}
    assert w[row[12], VITPOSE25.index("neck")] == 1.0 and w[row[11], VITPOSE25.index("right_big_toe")] == 1.0
    assert not {10, 11, 22, 23} & set(smpl_correspondences("coco17")[0].tolist())
    with pytest.raises(ValidationError):
        smpl_correspondences("openpose")


@pytest.mark.parametrize("skeleton", ["mediapipe33", "vitpose25"])
def test_to_coco17_selects_by_name(skeleton: str) -> None:
    names = KEYPOINT_SKELETONS[skeleton]
    T = 3
    data = np.zeros((T, len(names), 3))
    data[..., 0] = np.arange(len(names))  # x encodes the source index
    data[..., 1] = np.arange(T)[:, None]
    data[..., 2] = 0.9
    kp = Keypoints2D(data, skeleton, (640, 480), 25.0, {"source": "x"})
    coco = to_coco17(kp)
    assert coco.skeleton == "coco17" and coco.data.shape == (T, 17, 3)
    assert coco.image_size == (640, 480) and coco.fps == 25.0 and coco.meta["converted_from"] == skeleton
    for k, name in enumerate(COCO17):  # to_coco17 copies values (small integers): exact
        assert coco.data[0, k, 0] == names.index(name)
    np.testing.assert_array_equal(coco.data[:, :, 1], np.arange(T)[:, None].repeat(17, 1))
    if skeleton == "mediapipe33":
        assert coco.data[0, COCO17.index("left_ear"), 0] == 7 and coco.data[0, COCO17.index("left_hip"), 0] == 23
    else:
        assert coco.data[0, COCO17.index("left_shoulder"), 0] == 6  # after 'neck' at 5
        assert coco.data[0, COCO17.index("left_hip"), 0] == 12
    same = Keypoints2D(np.zeros((2, 17, 3)), "coco17", (10, 10), 30.0)
    assert to_coco17(same) is same


# ----- fitting -------------------------------------------------------------------------------


def test_fit_with_landmarks_recovers_the_motion(scene) -> None:
    gt, keypoints, landmarks = scene
    res = fit_smpl(keypoints, "mediapipe33", (WIDTH, HEIGHT), FPS, landmarks3d=landmarks, config=FitConfig(focal=FOCAL))
    pred = fitted_camera_joints(res)
    err = mpjpe_mm(pred, gt)
    print(f"with landmarks: MPJPE {err:.1f} mm, PA-MPJPE {pa_mpjpe_mm(pred, gt):.1f} mm, "
          f"reprojection {res.reproj_px:.2f} px, landmarks {res.landmark_mm:.1f} mm, {res.seconds:.1f} s")
    assert res.ok and res.reason == ""
    assert err <= 30.0  # measured 10.2 mm (1 and 2 threads; AVX-512 and forced-AVX2 kernels)
    # 2 px isotropic noise: the mean error norm of a perfect fit is 2.5 px.
    assert 1.0 < res.reproj_px < 4.0  # measured 2.72 px
    assert res.reproj_rel == pytest.approx(res.reproj_px / res.person_height_px)  # the library's own float64 division
    assert res.landmark_mm < 25.0  # measured 10.5 mm
    assert abs(np.mean(pred[:, 0, 2] - gt[:, 0, 2])) < 0.05  # absolute depth from the landmarks; measured 0.0002 m

    # The world: y-up Motion at the keypoints' fps, pelvis of frame 0 at x = z = 0, feet on y = 0.
    m = res.motion
    assert m.up_axis == "y" and m.fps == FPS and m.num_frames == len(gt)
    world = m.joints(builtin_skeleton())
    # The offset is computed in float64 from the fitted joints, and FK of the offset motion re-adds it: the
    # fit's round-off cancels, leaving float64 rounding of metre-scale values (~1e-16, measured 1.4e-16).
    np.testing.assert_allclose(world[0, 0, [0, 2]], 0.0, atol=1e-9)
    assert world[:, [7, 8, 10, 11], 1].min() == pytest.approx(0.0, abs=1e-9)
    assert res.camera.focal == FOCAL and res.camera.focal_estimated == 0.0  # copied config values: exact
    # camera.project() reproduces the reported reprojection error from the world motion.
    idx, weights = smpl_correspondences("mediapipe33")
    keep = ~derived_rows("mediapipe33")
    px = res.camera.project(world[:, idx[keep]])
    obs = (weights @ keypoints[..., :2])[:, keep]
    # the same float64 projection of the same fitted motion (only the world offset added and removed): ~1e-15 relative
    assert np.linalg.norm(px - obs, axis=-1).mean() == pytest.approx(res.reproj_px, rel=1e-6)


def test_fit_from_2d_only(scene) -> None:
    gt, keypoints, _ = scene
    res = fit_smpl(keypoints, "mediapipe33", (WIDTH, HEIGHT), FPS, config=FitConfig(focal=FOCAL))
    pred = fitted_camera_joints(res)
    pa = pa_mpjpe_mm(pred, gt)
    print(f"2D only: PA-MPJPE {pa:.1f} mm, MPJPE {mpjpe_mm(pred, gt):.1f} mm, "
          f"reprojection {res.reproj_px:.2f} px, {res.seconds:.1f} s")
    assert res.ok and np.isnan(res.landmark_mm)
    assert pa <= 60.0  # measured 31 mm (seeds 0-4: 24-45 mm)
    assert res.reproj_px < 4.0  # measured 1.63 px
    # Metric depth comes from the known bone lengths: the pelvis is within 15 cm of its true depth (measured 1.2 cm).
    assert np.abs(pred[:, 0, 2] - gt[:, 0, 2]).mean() < 0.15


def test_garbage_keypoints_are_rejected() -> None:
    rng = np.random.default_rng(7)
    T, K = 45, len(MEDIAPIPE33)
    kp = np.stack([rng.uniform(0, WIDTH, (T, K)), rng.uniform(0, HEIGHT, (T, K)), rng.uniform(0.5, 1.0, (T, K))], -1)
    res = fit_smpl(kp, "mediapipe33", (WIDTH, HEIGHT), FPS)
    assert not res.ok
    assert "reprojection" in res.reason
    assert res.reproj_rel > FitConfig().max_reproj  # measured 0.62 vs 0.08
    assert res.camera.focal == WIDTH and res.camera.focal_estimated == 1.0  # max(W, H), an integer: exact

    kp[..., 2] = 0.1  # below min_confidence: nothing to fit
    res = fit_smpl(kp, "mediapipe33", (WIDTH, HEIGHT), FPS)
    assert not res.ok and "too few confident keypoints" in res.reason
    assert res.motion.num_frames == T


def test_short_fit_is_deterministic_and_validates_inputs() -> None:
    _, keypoints, landmarks = camera_scene(seed=1, seconds=0.5, skeleton="vitpose25")
    cfg = FitConfig(focal=FOCAL, iterations=30, iterations_landmarks=30, root_iterations=10)
    a = fit_smpl(keypoints, "vitpose25", (WIDTH, HEIGHT), FPS, landmarks3d=landmarks, config=cfg)
    b = fit_smpl(keypoints, "vitpose25", (WIDTH, HEIGHT), FPS, landmarks3d=landmarks, config=cfg)
    # Bit-identical: the same process and thread count run the same float32 kernels with the same reduction
    # splits, and the fit seeds its own RNG (a claim about repeat runs, not about other CPUs or thread counts).
    np.testing.assert_array_equal(a.motion.poses, b.motion.poses)
    np.testing.assert_array_equal(a.motion.trans, b.motion.trans)
    assert set(cfg.to_dict()) >= {"w_2d", "w_3d", "w_smooth", "w_prior", "w_limits", "focal", "max_reproj"}
    with pytest.raises(ValidationError):
        fit_smpl(keypoints[..., :2], "vitpose25", (WIDTH, HEIGHT), FPS)
    with pytest.raises(ValidationError):
        fit_smpl(keypoints, "mediapipe33", (WIDTH, HEIGHT), FPS)
    with pytest.raises(ValidationError):
        fit_smpl(keypoints, "vitpose25", (WIDTH, HEIGHT), FPS, landmarks3d=landmarks[:, :5])
    with pytest.raises(ValidationError):
        fit_smpl(keypoints, "vitpose25", (0, HEIGHT), FPS)
    with pytest.raises(ValidationError):
        FitConfig(optimizer="sgd")


def test_build_fit_cache_hit_returns_the_same_motion_and_meta(tmp_path, monkeypatch) -> None:
    """A dataset build's SMPL fit served from the cache equals a fresh fit, meta included (before FIT_CACHE_VERSION
    2 a hit lost the motion's meta, so a video redone from a warm cache wrote a different motion file)."""
    from macedance.datasets.from_video.params import BuildParams
    from macedance.datasets.from_video.stages import fit_clip
    from macedance.io.video import VideoInfo

    monkeypatch.setenv("MACEDANCE_CACHE_DIR", str(tmp_path))
    _, keypoints, landmarks = camera_scene(seed=2, seconds=0.5, skeleton="mediapipe33")
    info = VideoInfo("clip.mp4", FPS, WIDTH, HEIGHT, len(keypoints), len(keypoints) / FPS, 0, "h264", False, 0, 0)
    params = BuildParams(fit={"focal": FOCAL, "iterations": 20, "iterations_landmarks": 20, "root_iterations": 5})
    from macedance.pose.fitters import get_fitter

    kw = dict(fitter=get_fitter(params.fitter, params.fit), video=Path("clip.mp4"), window=(0, len(keypoints)))
    fresh = fit_clip(keypoints, landmarks, "mediapipe33", info, builtin_skeleton(), params, **kw)
    hit = fit_clip(keypoints, landmarks, "mediapipe33", info, builtin_skeleton(), params, **kw)
    assert fresh["motion"].meta and hit["motion"].meta == fresh["motion"].meta
    np.testing.assert_array_equal(hit["motion"].poses, fresh["motion"].poses)
    np.testing.assert_array_equal(hit["motion"].trans, fresh["motion"].trans)
    assert {k: v for k, v in hit.items() if k != "motion"} == {k: v for k, v in fresh.items() if k != "motion"}


def test_fit_without_landmarks_and_no_minimum_frame_fraction_runs() -> None:
    """min_frame_fraction=0 with no 3D landmarks used to crash (the root initialisation was never set): the fit now
    starts from the 2D initialisation as any fit without landmarks does."""
    _, keypoints, _ = camera_scene(seed=3, seconds=0.5, skeleton="vitpose25")
    cfg = FitConfig(focal=FOCAL, iterations=10, iterations_landmarks=10, root_iterations=5, min_frame_fraction=0.0)
    res = fit_smpl(keypoints, "vitpose25", (WIDTH, HEIGHT), FPS, config=cfg)
    assert res.motion.num_frames == len(keypoints) and np.isfinite(res.motion.poses).all()
