"""Rotation conversions, all in float64. Round trips and numpy/torch comparisons differ by a few ulp: numpy
(SVML on AVX-512, libm otherwise) and torch (Sleef, per-ISA kernels) evaluate sin/cos/atan2 to ≤ 4 ulp, so
on any CPU and thread count the errors stay ~1e-15 (measured ≤ 1.1e-15 with AVX-512 and AVX2 kernels):
1e-12 leaves 1000×, 1e-6 far more."""

import numpy as np
import torch

from macedance.motion import rotations as rot

from conftest import random_axis_angle


def test_axis_angle_matrix_round_trip(rng):
    aa = random_axis_angle(rng, (200, 24), max_angle=np.pi - 1e-3)
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
    np.testing.assert_allclose(back, aa, atol=1e-6)  # Shepperd's branch stays well conditioned up to π: measured 1.1e-15


def test_matrix_round_trip_any_angle_including_pi(rng):
    aa = random_axis_angle(rng, (500,), max_angle=np.pi)
    aa[:5] *= np.pi / np.linalg.norm(aa[:5], axis=-1, keepdims=True)  # exactly π
    aa[5:10] *= 1e-9  # nearly zero
    R = rot.axis_angle_to_matrix(aa)
    # at exactly π the axis sign is arbitrary, hence compared as matrices; measured 9e-16
    np.testing.assert_allclose(rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(R)), R, atol=1e-6)
    np.testing.assert_allclose(rot.quaternion_to_matrix(rot.matrix_to_quaternion(R)), R, atol=1e-6)


def test_matrices_are_rotations_and_match_rodrigues(rng):
    aa = random_axis_angle(rng, (100,))
    R = rot.axis_angle_to_matrix(aa)
    assert rot.rotation_matrix_error(R).max() < 1e-12  # |RᵀR − I| of a float64 Rodrigues matrix: a few ulp (~1e-15)
    theta = np.linalg.norm(aa, axis=-1)
    k = aa / theta[:, None]
    K = np.zeros((100, 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K -= np.swapaxes(K, 1, 2)
    expected = np.eye(3) + np.sin(theta)[:, None, None] * K + (1 - np.cos(theta))[:, None, None] * K @ K
    np.testing.assert_allclose(R, expected, atol=1e-12)  # two float64 Rodrigues formulas: measured 8e-16


def test_rot6d_round_trip_and_convention(rng):
    aa = random_axis_angle(rng, (50, 24))
    R = rot.axis_angle_to_matrix(aa)
    d6 = rot.matrix_to_rot6d(R)
    # exact: the 6D vector is a reshaped copy of the matrix entries, no arithmetic
    np.testing.assert_array_equal(d6[..., :3], R[..., 0, :])  # first row (pytorch3d convention)
    np.testing.assert_array_equal(d6[..., 3:], R[..., 1, :])  # second row
    np.testing.assert_allclose(rot.rot6d_to_matrix(d6), R, atol=1e-12)
    # Gram–Schmidt repairs a scaled / skewed 6D input to the nearest frame on the first row
    noisy = d6 * 3.0
    noisy[..., 3:] += 0.1 * noisy[..., :3]
    np.testing.assert_allclose(rot.rot6d_to_matrix(noisy), R, atol=1e-12)  # float64 Gram–Schmidt: measured 6e-16
    np.testing.assert_allclose(rot.rot6d_to_axis_angle(rot.axis_angle_to_rot6d(aa)),
                               rot.matrix_to_axis_angle(R), atol=1e-6)


def test_torch_matches_numpy_and_has_gradients(rng):
    aa = random_axis_angle(rng, (30, 24))
    ta = torch.tensor(aa, requires_grad=True)
    for fn in (rot.axis_angle_to_matrix, rot.axis_angle_to_rot6d, rot.axis_angle_to_quaternion):
        # torch (Sleef) vs numpy (SVML/libm) transcendental kernels, float64: measured ≤ 6.7e-16
        np.testing.assert_allclose(fn(ta).detach().numpy(), fn(aa), atol=1e-12)
    R = rot.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(rot.matrix_to_axis_angle(torch.tensor(R)).numpy(), rot.matrix_to_axis_angle(R), atol=1e-12)
    np.testing.assert_allclose(rot.rot6d_to_matrix(torch.tensor(rot.matrix_to_rot6d(R))).numpy(), R, atol=1e-12)
    loss = rot.matrix_to_axis_angle(rot.rot6d_to_matrix(rot.axis_angle_to_rot6d(ta))).sum()
    loss.backward()
    assert torch.isfinite(ta.grad).all()


def test_zero_rotation_gradient_is_finite():
    ta = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix(ta).sum().backward()
    assert torch.isfinite(ta.grad).all()


def test_slerp_endpoints_and_midpoint():
    q0 = rot.axis_angle_to_quaternion(np.array([0.0, 0.0, 0.0]))
    q1 = rot.axis_angle_to_quaternion(np.array([0.0, 0.0, 1.2]))
    for t, angle in ((0.0, 0.0), (0.25, 0.3), (0.5, 0.6), (1.0, 1.2)):
        q = rot.quaternion_slerp(q0, q1, np.array(t))
        np.testing.assert_allclose(rot.quaternion_to_axis_angle(q), [0, 0, angle], atol=1e-12)  # float64: measured ≤ 6e-17
    # shorter arc: -q1 is the same rotation
    q = rot.quaternion_slerp(q0, -q1, np.array(0.5))
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(q), [0, 0, 0.6], atol=1e-12)
