"""Physical plausibility (:mod:`macedance.motion.plausibility`): floor plane, diagnostics on mocap and on
motions spoiled in known ways, the tilted camera, and the fit's physical refinement and floor levelling.

The diagnostics are float64 numpy on fixed inputs (exact up to round-off); the fit runs float32 L-BFGS whose
last bits depend on the CPU's kernels and thread count, so its bounds sit far from the measured values (noted)."""

from __future__ import annotations

import numpy as np
import pytest

from macedance.datasets.synthetic import synthetic_motion
from macedance.motion.camera import PinholeCamera
from macedance.motion.plausibility import PLAUSIBLE, Diagnostics, diagnose, estimate_floor, level_rotation
from macedance.motion.rotations import rot_x, rot_z
from macedance.motion.skeleton import builtin_skeleton

from conftest import SHARED_DATA


def _dance(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """(T, 24, 3) joints of a generated dance at 30 fps, lowest foot joint at y = 0."""
    J = synthetic_motion(seconds=seconds, fps=30.0, seed=seed).joints(builtin_skeleton())
    return J - np.array([0.0, J[:, [7, 8, 10, 11], 1].min(), 0.0])


def test_diagnostics_of_a_clean_dance_are_within_the_limits() -> None:
    d = diagnose(_dance(), 30.0)
    assert d.problems() == [], d
    assert d.floor_tilt_deg < 1.0 and d.float_cm < 6.0 and d.penetration_cm < 2.0


def test_each_spoiled_motion_is_caught_by_its_own_diagnostic() -> None:
    J = _dance()
    T = len(J)
    t = np.arange(T)[:, None, None] / 30.0
    base = diagnose(J, 30.0)
    drift = diagnose(J + t * np.array([0.0, 0.0, -0.6]), 30.0)  # recedes from the camera at 0.6 m/s
    assert drift.depth_drift_ms == pytest.approx(0.6 + base.depth_drift_ms, abs=0.05) and any("depth drift" in p for p in drift.problems())
    rng = np.random.default_rng(0)
    jitter = diagnose(J + rng.normal(scale=0.02, size=(T, 1, 3)), 30.0)  # the whole body shakes by 2 cm
    assert jitter.root_jitter_mm > 40 and any("root jitter" in p for p in jitter.problems())
    slide = J.copy()
    slide[..., 0] += 1.5 * t[..., 0]  # the body glides sideways at 1.5 m/s: every foot slides
    assert diagnose(slide, 30.0).skate_ms > 1.2 > base.skate_ms + 0.5
    floating = J.copy()
    floating[::2, :, 1] += 0.3  # every other frame 30 cm up: the feet float half the time
    f = diagnose(floating, 30.0)
    assert f.float_cm > base.float_cm + 10 and any("float" in p for p in f.problems())


def test_root_jitter_is_in_30_fps_units_at_any_frame_rate() -> None:
    for fps in (15.0, 24.0, 30.0, 60.0):
        t = np.arange(int(3 * fps)) / fps
        J = np.zeros((len(t), 24, 3))
        J[:, :, 0] = 0.5 * 9.0 * t[:, None] ** 2  # 9 m/s² constant acceleration: Δ² = 9 / fps² m exactly
        # 9 m/s² at 30 fps is 10 mm/frame²; float64 differences of a quadratic: round-off only
        assert diagnose(J, fps).root_jitter_mm == pytest.approx(10.0, rel=1e-6)


def test_floor_of_a_tilted_view_is_found_and_levelled() -> None:
    J = _dance(seconds=8.0, seed=3)
    spots = np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 1.0], [-1.0, 0.0, 1.8], [0.6, 0.0, -1.0]])  # dances at 4 spots, 2 s each
    J += spots[np.minimum(np.arange(len(J)) // 60, 3)][:, None]
    R = rot_x(np.radians(8.0)) @ rot_z(np.radians(-3.0))  # a camera pitched and rolled: the floor tilts in its frame
    floor = estimate_floor(J @ R.T, 30.0)
    true_n = R @ np.array([0.0, 1.0, 0.0])
    assert np.degrees(np.arccos(floor.normal @ true_n)) < 1.5  # measured 0.67° (the ridge shrinks the slope a little)
    R_level, pitch, roll = level_rotation(floor.normal)
    np.testing.assert_allclose(R_level @ floor.normal, [0.0, 1.0, 0.0], atol=1e-12)  # float64 3×3 products of one unit vector, no reductions to reorder: ~1e-16 on any CPU and thread count
    cam = PinholeCamera(focal=1000, cx=640, cy=360, width=1280, height=720, pitch=pitch, roll=roll)
    np.testing.assert_allclose(cam.rotation(), R_level, atol=1e-12)  # the same cos/sin and 3×3 products in float64, no threaded reduction: ~1e-16 on any CPU and thread count


def test_tilted_camera_projects_through_its_rotation() -> None:
    cam = PinholeCamera(focal=800, cx=320, cy=240, width=640, height=480, cam_x=0.5, cam_y=1.2, cam_z=3.0, pitch=-0.2, roll=0.05)
    pts = np.random.default_rng(1).normal(size=(50, 3)) + np.array([0.0, 1.0, -1.0])
    local = (pts - [0.5, 1.2, 3.0]) @ cam.rotation()  # R^T (p − c) as row vectors
    uv = cam.project(pts)
    np.testing.assert_allclose(uv, np.stack([320 + 800 * local[:, 0] / -local[:, 2], 240 - 800 * local[:, 1] / -local[:, 2]], -1), rtol=1e-12)  # same float64 formula, 3-term dot products: a few ulp on any CPU/threads
    np.testing.assert_allclose(cam.depth(pts), -local[:, 2], rtol=1e-12)  # the same float64 3×3 product: a few ulp on any CPU/threads
    old = {k: v for k, v in cam.to_dict().items() if k not in ("pitch", "roll")}  # a dataset written before the fields existed
    assert PinholeCamera.from_dict(old).level and PinholeCamera.from_dict(cam.to_dict()) == cam


@pytest.mark.skipif(not (SHARED_DATA / "aistpp-joints" / "gt").is_dir(), reason="shared/data/aistpp-joints absent")
def test_aistpp_mocap_is_plausible_on_a_level_floor() -> None:
    for f in sorted((SHARED_DATA / "aistpp-joints" / "gt").glob("*.csv")):
        a = np.loadtxt(f, delimiter=",").reshape(-1, 24, 3)
        d = diagnose(np.stack([a[..., 0], a[..., 2], -a[..., 1]], -1), 30.0, view=None)
        assert d.problems() == [] and d.floor_tilt_deg < 2.0, (f.name, d)  # measured tilt ≤ 1.3° on the level mocap floor


def test_problems_name_the_diagnostic_value_and_limit() -> None:
    d = Diagnostics(skate_ms=1.2, float_cm=3.0, penetration_cm=0.5, contact_frac=0.5, root_jitter_mm=30.0, depth_drift_ms=0.1,
                    floor_tilt_deg=2.0)
    assert d.problems() == ["skate 1.2 m/s > 1", "root jitter 30 mm/frame² > 20"]
    assert d.problems({"floor_tilt_deg": 1.0}) == ["floor tilt 2 ° > 1"]
    assert set(d.to_dict()) == {f"phys_{k}" for k in Diagnostics.__dataclass_fields__}
    assert set(PLAUSIBLE) <= set(Diagnostics.__dataclass_fields__)


def test_refinement_plants_the_feet_and_levels_a_pitched_camera() -> None:
    """A generated dance at three spots a metre or more apart (the floor is seen over a wide area), seen by a
    camera pitched down 10°, 2D keypoints with 3 px noise: the refinement with ``level_floor`` cuts foot
    skating and float, tilts the world toward the true floor (the camera gets a downward pitch), and keeps
    MPJPE."""
    from macedance.motion.kinematics import forward_kinematics
    from macedance.motion.rotations import axis_angle_to_matrix
    from macedance.pose.fit import FitConfig, fit_smpl
    from macedance.pose.mapping import smpl_joints_to_keypoints
    from macedance.pose.metrics import mpjpe

    rest = builtin_skeleton()
    m = synthetic_motion(seconds=3.0, fps=30.0, seed=2)
    world = forward_kinematics(axis_angle_to_matrix(m.poses), m.trans, rest)
    world = world - np.array([world[0, 0, 0], world[:, [7, 8, 10, 11], 1].min(), world[0, 0, 2]])
    spots = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -1.2], [-0.9, 0.0, 0.8]])
    world = world + spots[np.arange(len(world)) // 30][:, None]
    cam = PinholeCamera(focal=1000, cx=640, cy=360, width=1280, height=720, cam_x=0.0, cam_y=1.6, cam_z=4.0, pitch=np.radians(-10.0))
    pts, filled = smpl_joints_to_keypoints(world, "mediapipe33")
    uv = cam.project(pts) + np.random.default_rng(0).normal(scale=3.0, size=pts.shape[:-1] + (2,))
    kp = np.concatenate([np.where(filled[:, None], uv, 0.0), np.broadcast_to(filled.astype(float), uv.shape[:-1])[..., None]], -1)
    base = fit_smpl(kp, "mediapipe33", (1280, 720), 30.0, config=FitConfig(focal=1000, physics_iterations=0))
    ref = fit_smpl(kp, "mediapipe33", (1280, 720), 30.0, config=FitConfig(focal=1000, level_floor=True))
    assert base.camera.level and np.degrees(ref.camera.pitch) < -2.0  # measured −5.3° (true −10°)
    d0, d1 = diagnose(base.motion.joints(), 30.0), diagnose(ref.motion.joints(), 30.0, view=ref.camera.rotation() @ [0, 0, -1.0])
    assert d1.skate_ms < 0.7 * d0.skate_ms and d1.float_cm < 0.5 * d0.float_cm, (d0, d1)  # measured 1.48 → 0.52 m/s, 19.4 → 1.3 cm
    assert mpjpe(ref.motion.joints(), world) < mpjpe(base.motion.joints(), world) + 5.0
