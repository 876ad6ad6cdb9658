"""FineDance's released sampling and long-form output (li-ronghui/FineDance ``model/diffusion.py`` @ bb13fe8, as
``test.py`` → ``EDGE.render_sample(mode="long")`` runs them).

The sampler is EDGE's, unchanged (``ddim_sample`` / ``long_ddim_sample`` are the same lines, guidance weight 2 in
``train_seq.py``): :func:`~macedance.models.official.edge_sampling.edge_long_ddim_sample` runs a
:class:`~macedance.models.official.finenet.FineNet` as it is. The stitching is EDGE's too (linear fades for the root,
``quat_slerp`` for rotations) over 52 joints; without ``--do_normalize`` (the released setting) nothing is
unnormalised. What differs is the rotation convention: FineDance's environment pins pytorch3d "0.3.0", whose
``matrix_to_quaternion`` takes w ≥ 0 and the signs of x, y, z from the matrix (``_copysign``), so axis-angles have
θ ∈ [0, π]. (Release 0.3.0 itself does not export ``axis_angle_to_quaternion``, which FineDance imports: the file is
that of 0.3.0–0.4.0, where the function is unchanged; the other conversions are the same formulas as v0.7.2.)
"""

from __future__ import annotations

import numpy as np
import torch

from macedance.models.official.edge_sampling import _quaternion_to_axis_angle, _rotation_6d_to_matrix, stitch_long
from macedance.models.official.finenet import BODY_FEATS, HAND_FEATS

JOINTS = 52  # SMPL-H order: 22 body + 30 hand joints


def _copysign(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where((a < 0) != (b < 0), -a, a)


def _matrix_to_quaternion_v04(m: torch.Tensor) -> torch.Tensor:
    """pytorch3d 0.3/0.4 ``matrix_to_quaternion``: (…, 3, 3) → (…, 4) (w, x, y, z), w ≥ 0."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]

    def half_sqrt(v: torch.Tensor) -> torch.Tensor:  # 0.5 · _sqrt_positive_part
        return 0.5 * torch.where(v > 0, v.clamp(min=0).sqrt(), torch.zeros_like(v))

    w, x, y, z = half_sqrt(1 + m00 + m11 + m22), half_sqrt(1 + m00 - m11 - m22), half_sqrt(1 - m00 + m11 - m22), half_sqrt(1 - m00 - m11 + m22)
    return torch.stack((w, _copysign(x, m[..., 2, 1] - m[..., 1, 2]), _copysign(y, m[..., 0, 2] - m[..., 2, 0]),
                        _copysign(z, m[..., 1, 0] - m[..., 0, 1])), -1)


def ax_from_6v_v04(d6: torch.Tensor) -> torch.Tensor:
    """FineDance's ``dataset/quaternion.py`` ``ax_from_6v`` with pytorch3d 0.3/0.4: (…, 6) → (…, 3), θ ∈ [0, π]."""
    return _quaternion_to_axis_angle(_matrix_to_quaternion_v04(_rotation_6d_to_matrix(d6)))


def stitch_finenet(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, 319) sampled windows (at half-window stride) → stitched (T', 52, 3) axis-angle and (T', 3) root."""
    if samples.ndim != 3 or samples.shape[-1] != BODY_FEATS + HAND_FEATS:
        from macedance.errors import ValidationError
        raise ValidationError("samples", f"shape (B, T, {BODY_FEATS + HAND_FEATS})", str(tuple(samples.shape)))
    return stitch_long(samples, joints=JOINTS, ax_from_6v=ax_from_6v_v04)


def render_long_finenet(samples: torch.Tensor) -> dict[str, np.ndarray]:
    """The file ``render_sample(mode="long", fk_out=…)`` writes: ``{"smpl_poses": (T', 156), "smpl_trans": (T', 3)}``
    (float32, y-up SMPL-X ``transl``, 30 fps)."""
    poses, trans = stitch_finenet(samples)
    return {"smpl_poses": poses.reshape(-1, JOINTS * 3).cpu().numpy(), "smpl_trans": trans.cpu().numpy()}
