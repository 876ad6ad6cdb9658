"""Rotation conversions, written once for numpy arrays and torch tensors.

Conventions:
- axis-angle: (..., 3), rotation angle in radians = vector norm, right-handed.
- rotation matrix: (..., 3, 3), acting on column vectors (``v' = R @ v``).
- quaternion: (..., 4) as (w, x, y, z), unit norm.
- 6D: (..., 6) = the first two *rows* of the rotation matrix, flattened; this is the
  ``pytorch3d.transforms.matrix_to_rotation_6d`` convention used by EDGE, FineDance and LODGE.

All functions are vectorised over leading axes and differentiable for torch inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from macedance.motion._xp import cross, norm, swap_last2, xp

_SMALL = 1e-6


def axis_angle_to_quaternion(aa: Any) -> Any:
    """(..., 3) axis-angle → (..., 4) unit quaternion (w, x, y, z) with w ≥ 0 for angles ≤ π."""
    m = xp(aa)
    sq = (aa * aa).sum(-1)[..., None]
    small = sq < _SMALL**2
    angle = m.sqrt(m.where(small, m.ones_like(sq), sq))  # never sqrt(0): finite gradients at 0
    # sin(θ/2)/θ and cos(θ/2), with their Taylor series near 0.
    s = m.where(small, 0.5 - sq / 48.0, m.sin(0.5 * angle) / angle)
    c = m.where(small, 1.0 - sq / 8.0, m.cos(0.5 * angle))
    return m.concatenate([c, aa * s], -1)


def quaternion_to_axis_angle(q: Any) -> Any:
    """(..., 4) quaternion (w, x, y, z) → (..., 3) axis-angle with angle in [0, π]."""
    m = xp(q)
    q = q / norm(q, keepdims=True)
    q = m.where(q[..., :1] < 0, -q, q)  # same rotation, w ≥ 0
    w, v = q[..., :1], q[..., 1:]
    sq = (v * v).sum(-1)[..., None]
    small = sq < (0.5 * _SMALL) ** 2
    vn = m.sqrt(m.where(small, m.ones_like(sq), sq))  # |v| = sin(θ/2)
    # θ/sin(θ/2) = 2·atan2(|v|, w)/|v|; near 0 it tends to 2/w.
    factor = m.where(small, 2.0 / w, 2.0 * m.arctan2(vn, w) / vn)
    return v * factor


def quaternion_to_matrix(q: Any) -> Any:
    """(..., 4) quaternion (w, x, y, z), normalised internally → (..., 3, 3)."""
    m = xp(q)
    q = q / norm(q, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return m.stack(rows, -1).reshape(tuple(q.shape[:-1]) + (3, 3))


def matrix_to_quaternion(R: Any) -> Any:
    """(..., 3, 3) rotation matrix → (..., 4) unit quaternion (w, x, y, z), w ≥ 0.

    Shepperd's method: of the four algebraically equal candidates, each row is taken from the one
    with the largest denominator, so the result is accurate for every angle including π.
    """
    m = xp(R)
    r00, r01, r02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    r10, r11, r12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    r20, r21, r22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    four_sq = m.stack(
        [1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], -1
    )
    k = m.sqrt(m.clip(four_sq, 1e-12, None))  # 2|q_i| for each candidate
    cand = m.stack(
        [
            m.stack([k[..., 0] ** 2, r21 - r12, r02 - r20, r10 - r01], -1) / (2 * k[..., 0:1]),
            m.stack([r21 - r12, k[..., 1] ** 2, r10 + r01, r02 + r20], -1) / (2 * k[..., 1:2]),
            m.stack([r02 - r20, r10 + r01, k[..., 2] ** 2, r12 + r21], -1) / (2 * k[..., 2:3]),
            m.stack([r10 - r01, r20 + r02, r21 + r12, k[..., 3] ** 2], -1) / (2 * k[..., 3:4]),
        ],
        -2,
    )  # (..., 4 candidates, 4)
    best = four_sq.argmax(-1)
    if m is np:
        q = np.take_along_axis(cand, best[..., None, None].repeat(4, -1), -2)[..., 0, :]
    else:
        idx = best[..., None, None].expand(*best.shape, 1, 4)
        q = cand.gather(-2, idx)[..., 0, :]
    q = q / norm(q, keepdims=True)
    return m.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(aa: Any) -> Any:
    """(..., 3) axis-angle → (..., 3, 3) rotation matrix (Rodrigues, stable near 0).

    ``R = cos θ · I + (sin θ / θ) [a]× + ((1 − cos θ) / θ²) a aᵀ`` with θ = |a|.
    """
    m = xp(aa)
    sq = (aa * aa).sum(-1)
    small = sq < _SMALL**2
    safe_sq = m.where(small, m.ones_like(sq), sq)
    th = m.sqrt(safe_sq)
    cos = m.cos(th)
    c = m.where(small, 1.0 - sq / 2.0, cos)
    s = m.where(small, 1.0 - sq / 6.0, m.sin(th) / th)
    C = m.where(small, 0.5 - sq / 24.0, (1.0 - cos) / safe_sq)
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    Cx, Cy, Cz = C * x, C * y, C * z
    sx, sy, sz = s * x, s * y, s * z
    rows = [c + Cx * x, Cx * y - sz, Cx * z + sy,
            Cx * y + sz, c + Cy * y, Cy * z - sx,
            Cx * z - sy, Cy * z + sx, c + Cz * z]
    if m is np:  # filling a preallocated array avoids one full copy
        R = np.empty(aa.shape[:-1] + (3, 3), dtype=np.result_type(aa.dtype, np.float32))
        for k, row in enumerate(rows):
            R[..., k // 3, k % 3] = row
        return R
    return m.stack(rows, -1).reshape(tuple(aa.shape[:-1]) + (3, 3))


def matrix_to_axis_angle(R: Any) -> Any:
    """(..., 3, 3) rotation matrix → (..., 3) axis-angle with angle in [0, π]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def matrix_to_rot6d(R: Any) -> Any:
    """(..., 3, 3) → (..., 6): the first two rows (pytorch3d convention)."""
    return R[..., :2, :].reshape(tuple(R.shape[:-2]) + (6,))


def rot6d_to_matrix(d6: Any) -> Any:
    """(..., 6) → (..., 3, 3) by Gram–Schmidt on the two rows (pytorch3d convention)."""
    m = xp(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / norm(a1, keepdims=True)
    b2 = a2 - (b1 * a2).sum(-1)[..., None] * b1
    b2 = b2 / norm(b2, keepdims=True)
    b3 = cross(b1, b2)
    return m.stack([b1, b2, b3], -2)


def axis_angle_to_rot6d(aa: Any) -> Any:
    """(..., 3) axis-angle → (..., 6)."""
    return matrix_to_rot6d(axis_angle_to_matrix(aa))


def rot6d_to_axis_angle(d6: Any) -> Any:
    """(..., 6) → (..., 3) axis-angle."""
    return matrix_to_axis_angle(rot6d_to_matrix(d6))


def quaternion_slerp(q0: Any, q1: Any, t: Any) -> Any:
    """Spherical linear interpolation between unit quaternions (..., 4) at fractions ``t`` (...,).

    Takes the shorter arc; falls back to normalised linear interpolation for nearly equal inputs.
    """
    m = xp(q0)
    dot = (q0 * q1).sum(-1)
    q1 = m.where((dot < 0)[..., None], -q1, q1)
    dot = m.abs(dot)
    t = t[..., None]
    close = (dot > 1 - 1e-8)[..., None]
    omega = m.arccos(m.clip(dot, -1.0, 1.0))[..., None]
    sin_omega = m.where(close, m.ones_like(omega), m.sin(omega))
    w0 = m.where(close, 1 - t, m.sin((1 - t) * omega) / sin_omega)
    w1 = m.where(close, t, m.sin(t * omega) / sin_omega)
    q = w0 * q0 + w1 * q1
    return q / norm(q, keepdims=True)


def rotation_matrix_error(R: Any) -> Any:
    """Per-matrix max |RᵀR − I| (…,) plus a large penalty when det(R) < 0."""
    m = xp(R)
    eye = m.eye(3, dtype=R.dtype) if m is np else m.eye(3, dtype=R.dtype, device=R.device)
    err = m.abs(swap_last2(R) @ R - eye).reshape(tuple(R.shape[:-2]) + (9,)).max(-1)
    err = err.values if m is not np else err
    det = m.linalg.det(R)
    return m.where(det < 0, m.abs(det) + 1.0 + err, err)


def rot_x(angle: float) -> np.ndarray:
    """(3, 3) float64 rotation by ``angle`` radians about +x (right-handed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(angle: float) -> np.ndarray:
    """(3, 3) float64 rotation by ``angle`` radians about +z (right-handed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
