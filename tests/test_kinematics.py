import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct

from macedance.errors import BodyModelError
from macedance.motion import kinematics as kin
from macedance.motion.rotations import axis_angle_to_matrix
from macedance.motion.skeleton import (
    SMPL_PARENTS,
    SMPLH_PARENTS,
    builtin_skeleton,
    kinematic_levels,
    skeleton_from_smplx,
)
from macedance.schema import Motion

from conftest import SHARED_DATA, make_smpl_model_file, random_axis_angle


def _smplx_joints(model_file, aa, trans, betas):
    """The reference: smplx's own SMPL forward pass (smplx reads .pkl itself; .npz via data_struct).

    smplx rounds the model arrays to float32 when it loads them (``to_np``), then computes in float64: the
    reference carries that data rounding (~1e-7 m on the joints, measured 2e-8), the same on every CPU."""
    kw = {}
    if model_file.suffix == ".npz":
        kw["data_struct"] = Struct(**dict(np.load(model_file)))
    body = smplx.SMPL(model_path=str(model_file), gender="neutral", dtype=torch.float64, **kw)
    T = aa.shape[0]
    out = body(
        betas=torch.tensor(betas)[None].expand(T, -1),
        global_orient=torch.tensor(aa[:, 0]),
        body_pose=torch.tensor(aa[:, 1:].reshape(T, 69)),
        transl=torch.tensor(trans),
    )
    return out.joints[:, :24].detach().numpy()


@pytest.mark.parametrize("fmt", ["pkl", "npz"])
def test_fk_equals_smplx(tmp_path, rng, fmt):
    model = make_smpl_model_file(tmp_path / f"SMPL_NEUTRAL.{fmt}", seed=3, fmt=fmt)
    aa = random_axis_angle(rng, (16, 24))
    trans = rng.normal(size=(16, 3))
    betas = rng.normal(size=10)
    expected = _smplx_joints(model, aa, trans, betas)
    skel = skeleton_from_smplx(tmp_path, betas=betas)
    ours = kin.forward_kinematics(axis_angle_to_matrix(aa), trans, skel)
    # Tolerances: the float32 rounding of smplx's model arrays (measured 2e-8 m, data, not CPU-dependent);
    # float64 kernel differences (AVX2/AVX-512, threads) are ~1e-15 m. 1e-5 m leaves 500×.
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)
    ours_t = kin.forward_kinematics(torch.tensor(axis_angle_to_matrix(aa)), torch.tensor(trans), skel)
    np.testing.assert_allclose(ours_t.numpy(), expected, atol=1e-5, rtol=0)
    # and through the Motion data model
    np.testing.assert_allclose(Motion(aa, trans, 30).joints(skel), expected, atol=1e-5)


def test_fk_batched_over_leading_axes(rng):
    aa = random_axis_angle(rng, (3, 5, 24))
    trans = rng.normal(size=(3, 5, 3))
    skel = builtin_skeleton()
    batched = kin.forward_kinematics(axis_angle_to_matrix(aa), trans, skel)
    single = kin.forward_kinematics(axis_angle_to_matrix(aa[1, 2]), trans[1, 2], skel)
    # float64, ~30 ops per joint: batched and single matmul paths may differ by ~1e-15 on some CPU (measured 0)
    np.testing.assert_allclose(batched[1, 2], single, atol=1e-12)


def test_fk_rest_pose_and_gradients():
    skel = builtin_skeleton()
    zero = np.broadcast_to(np.eye(3), (2, 24, 3, 3))
    trans = np.array([[0, 0, 0], [1.0, 2.0, 3.0]])
    out = kin.forward_kinematics(zero, trans, skel)
    # Identity rotations: every product is by 1 or 0 (exact with or without FMA, in any summation order), so
    # only the IEEE-rounded offset sums remain, the same bits on every CPU (measured 4.4e-16 m, 1 ulp at 3 m).
    np.testing.assert_allclose(out[0], skel.joints, atol=1e-15)
    np.testing.assert_allclose(out[1], skel.joints + trans[1], atol=1e-15)
    aa = torch.zeros(2, 24, 3, dtype=torch.float64, requires_grad=True)
    kin.forward_kinematics(axis_angle_to_matrix(aa), torch.zeros(2, 3, dtype=torch.float64), skel).sum().backward()
    assert torch.isfinite(aa.grad).all()


def test_builtin_skeleton_matches_real_aistpp_bone_lengths():
    """The GT clips were made with FK over the SMPL template: rigid bones equal ours to 1e-6 m.

    The CSV holds float32-printed positions (8 digits): up to 2 m that is ≤ 1.2e-7 m per coordinate, ≤ 4e-7 m
    on a bone length (measured 2.8e-7); the float64 norms add ~1e-16. Data rounding, the same on every CPU."""
    gt = SHARED_DATA / "aistpp-joints" / "gt" / "true_gBR_sBM_cAll_d04_mBR0_ch02_slice0.csv"
    if not gt.exists():
        pytest.skip("shared AIST++ joint data not available")
    joints = np.loadtxt(gt, delimiter=",").reshape(-1, 24, 3)
    parents = np.array(SMPL_PARENTS)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(builtin_skeleton().bone_lengths, lengths.shape), atol=1e-6)


def test_builtin_skeleton_constants():
    skel = builtin_skeleton()
    # the geometric-feature template points quoted from Bailando/AIST++ (6 decimals): the quoted rounding
    # (measured ≤ 5.4e-7) is the only difference; a few float64 additions of constants add ~1e-16
    np.testing.assert_allclose(skel.joints[1], [0.056408, -0.323069, 0.010920], atol=1e-6)
    np.testing.assert_allclose(skel.joints[2], [-0.062483, -0.331302, 0.015041], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(skel.joints[16] - skel.joints[18]), 0.256838, atol=1e-6)
    assert len(kinematic_levels(SMPL_PARENTS)) == 9
    assert len(SMPLH_PARENTS) == 52


def test_smpl_model_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("MACEDANCE_SMPL_DIR", raising=False)
    with pytest.raises(BodyModelError, match="`smpl_model` .a folder. or set MACEDANCE_SMPL_DIR"):
        skeleton_from_smplx(None)
    with pytest.raises(BodyModelError, match="no SMPL neutral model file found"):
        skeleton_from_smplx(tmp_path)
    with pytest.raises(BodyModelError, match="does not exist"):
        skeleton_from_smplx(tmp_path / "nope")
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"not a pickle")
    with pytest.raises(BodyModelError, match="cannot load SMPL model"):
        skeleton_from_smplx(tmp_path)


def test_smpl_dir_from_environment(smpl_model_dir, monkeypatch):
    monkeypatch.setenv("MACEDANCE_SMPL_DIR", str(smpl_model_dir))
    skel = skeleton_from_smplx()
    assert skel.name.startswith("smplx:SMPL_NEUTRAL.pkl")


def test_up_axis_conversion_rotates_joints_exactly(rng):
    m = Motion(random_axis_angle(rng, (10, 24)), rng.normal(size=(10, 3)), 30, "y")
    z = m.to_up_axis("z")
    assert z.up_axis == "z"
    R = kin.up_axis_rotation("y", "z")
    np.testing.assert_allclose(R @ [0, 1, 0], [0, 0, 1], atol=1e-15)  # old up becomes +z (entries 0/±1: exact)
    # float64 FK on coordinates ≤ 3 m: round-off and kernel differences ~1e-15 (measured 9e-16); 1e-12 leaves 1000×
    np.testing.assert_allclose(z.joints(), m.joints() @ R.T, atol=1e-12)
    np.testing.assert_allclose(z.to_up_axis("y").joints(), m.joints(), atol=1e-12)
    # the documented component mapping: (x, y, z)_yup = (x, z, -y)_zup
    jy, jz = m.joints(), z.joints()
    np.testing.assert_allclose(jy, np.stack([jz[..., 0], jz[..., 2], -jz[..., 1]], -1), atol=1e-12)


def test_resample_halves_and_doubles(rng):
    aa = random_axis_angle(rng, (61, 24), max_angle=1.0)
    m = Motion(aa, rng.normal(size=(61, 3)), 60)
    half = m.resample(30)
    assert half.num_frames == 31 and half.fps == 30
    # frames land exactly on source frames (fractions 0): float64 quaternion round trips, ~1e-15 (measured 4e-16)
    np.testing.assert_allclose(half.rotmat, m.rotmat[::2], atol=1e-12)
    np.testing.assert_allclose(half.trans, m.trans[::2], atol=1e-12)
    double = half.resample(60)
    assert double.num_frames == 61
    np.testing.assert_allclose(double.rotmat[::2], half.rotmat, atol=1e-12)
    np.testing.assert_allclose(double.trans[1::2], (half.trans[:-1] + half.trans[1:]) / 2, atol=1e-12)


def test_resample_slerp_is_constant_speed():
    T = 5
    aa = np.zeros((T, 24, 3))
    aa[:, 3, 2] = np.linspace(0, 2.0, T)  # spine1 turning at a constant rate
    m = Motion(aa, np.zeros((T, 3)), 10).resample(25)
    angle = np.linalg.norm(m.poses[:, 3], axis=-1)
    np.testing.assert_allclose(angle, np.arange(m.num_frames) * 0.5 * 10 / 25, atol=1e-12)  # float64 slerp, angles ≤ 2 rad: ~1e-16
    # The frame count is floor(0.4 s × 25 + 1e-9) + 1 on Python floats (IEEE scalars, no kernels): 11 on every CPU.
    assert m.duration == pytest.approx(0.44)  # 11 frames at 25 fps, source spans 0.4 s


def test_foot_contacts_from_speed():
    T, fps = 10, 30.0
    joints = np.zeros((T, 24, 3))
    joints[:, 7, 0] = np.arange(T) * 0.005  # 0.15 m/s → contact
    joints[:, 8, 0] = np.arange(T) * 0.02  # 0.6 m/s → no contact
    joints[5:, 10, 1] = 1.0  # jumps at frame 4→5
    c = kin.foot_contacts(joints, fps)
    # Speeds 0.15, 0.6, 0 and 30 m/s against the 0.3 m/s threshold: margins ≥ 0.15 m/s, far beyond round-off,
    # so the numpy and torch labels (different kernels) are equal exactly.
    assert c.shape == (T, 4)
    assert c[:, 0].all() and not c[:, 1].any()
    assert not c[4, 2] and c[[0, 1, 2, 3, 5, 6, 7, 8, 9], 2].all()
    assert c[:, 3].all()
    ct = kin.foot_contacts(torch.tensor(joints), fps)
    np.testing.assert_array_equal(ct.numpy(), c)
