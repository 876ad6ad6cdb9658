"""EDGE's released sampler and long-form stitching (Stanford-TML/EDGE ``model/diffusion.py`` @ 17c3428, as
``test.py`` → ``EDGE.render_sample`` → ``GaussianDiffusion.render_sample(mode="long")`` runs them).

* :func:`edge_ddim_sample` = ``ddim_sample``: 50 evaluations at t = 999, 979, …, 19 (the last returns its x0),
  η = 1, x0 clipped to [−1, 1] and ε recomputed from it (``model_predictions``), classifier-free guidance at the
  constant ``guidance_weight`` (2 in ``EDGE.py``). ``p_mean_variance``'s guidance clipping (weight ≤ 1 below
  t = 100) belongs to the DDPM ``p_sample`` path, which the released inference never runs.
* :func:`edge_long_ddim_sample` = ``long_ddim_sample``: B windows of T frames, each overlapping the next by T/2; the
  guidance weight ramps ``clip(linspace(0, 2w, 50), max=w)`` (the first step is unconditional) and after every step
  with t > 0 the first half of each window is overwritten by the second half of the previous one. B = 1 falls back
  to :func:`edge_ddim_sample`, as released.
* :func:`stitch_long` = the ``mode="long"`` part of ``render_sample``: root positions cross-faded linearly over each
  overlap, joint rotations slerped (EDGE's ``quat_slerp``) → one (T·(B+1)/2)-frame motion.

``compile_mode`` / ``cuda_graph`` run the guided network evaluation of each step under ``torch.compile`` and/or replay
it from a CUDA graph (:func:`~macedance.models.official.mace_sampling.accelerate_step`; the guidance weight becomes a
0-d tensor, so the ramp neither recompiles nor needs a graph per weight); default: the plain eager loop.

The rotation conversions follow pytorch3d's ``rotation_conversions.py`` of v0.7.1–v0.7.5 (the pytorch3d of EDGE's
release, PyTorch 1.12): quaternions are **not** sign-standardised, so an axis-angle of ``smpl_poses`` may have an
angle in (π, 2π) — the same rotation as pytorch3d ≥ 0.7.6 writes with angle 2π − θ about the opposite axis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from macedance.errors import ValidationError
from macedance.models.official.ddim import DiffusionSchedule, Noise, cosine_schedule, ddim_time_pairs
from macedance.models.official.edge import EdgeDanceDecoder
from macedance.models.official.mace_sampling import CompileMode, accelerate_step
from macedance.models.official.normalizer import MinMaxNormalizer
from macedance.models.official.skeleton import edge_fk

GUIDANCE_WEIGHT = 2.0  # EDGE.py: GaussianDiffusion(..., guidance_weight=2)


def long_guidance_weights(weight: float, steps: int) -> list[float]:
    """The per-step weights of ``long_ddim_sample``: ``np.clip(np.linspace(0, 2w, steps), None, w)`` (float64)."""
    return [float(w) for w in np.clip(np.linspace(0, weight * 2, steps), None, weight)]


@torch.no_grad()
def _ddim(model: EdgeDanceDecoder, cond: torch.Tensor, weights: list[float], *, noise: Noise, eta: float, overlap: bool,
          schedule: DiffusionSchedule | None, progress: Callable[[int, int], None] | None, compile_mode: CompileMode | None = None,
          cuda_graph: bool = False) -> torch.Tensor:
    B, T = cond.shape[:2]
    dev = cond.device
    sched = (schedule or cosine_schedule()).to(dev)
    pairs = ddim_time_pairs(steps=len(weights))
    half = T // 2
    x = noise.randn((B, T, model.cfg.nfeats), device=dev)
    fast = compile_mode is not None or cuda_graph

    def step(x_t: torch.Tensor, times: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return model.guided_forward(x_t, cond, times, weight=w)  # type: ignore[arg-type]  # a 0-d tensor: same arithmetic

    net = accelerate_step(step, device=dev, compile_mode=compile_mode, cuda_graph=cuda_graph)
    for i, ((t, t_next), w) in enumerate(zip(pairs, weights, strict=True)):
        times = torch.full((B,), t, device=dev, dtype=torch.long)
        if fast:
            x0 = net(x, times, torch.full((), w, device=dev)).clamp(-1.0, 1.0)
        else:
            x0 = model.guided_forward(x, cond, times, weight=w).clamp(-1.0, 1.0)
        x = sched.ddim_step(x, x0, t, t_next, eta=eta, noise=noise)
        if t_next >= 0 and overlap and t > 0:
            x[1:, :half] = x[:-1, half:]  # the first half of each window is the second half of the previous one
        if progress is not None:
            progress(i + 1, len(pairs))
    return x


def edge_ddim_sample(model: EdgeDanceDecoder, cond: torch.Tensor, *, noise: Noise, weight: float = GUIDANCE_WEIGHT, steps: int = 50,
                     eta: float = 1.0, schedule: DiffusionSchedule | None = None,
                     progress: Callable[[int, int], None] | None = None, compile_mode: CompileMode | None = None,
                     cuda_graph: bool = False) -> torch.Tensor:
    """Sample independent windows (``ddim_sample``).

    Args:
        cond: (B, seq_len, C) music features of each window.
        noise: the random numbers (``Noise(seed=s, mode="official")`` on CPU = the original after ``torch.manual_seed(s)``).
        compile_mode, cuda_graph: speed options (module docstring); default: eager.
    Returns:
        (B, seq_len, nfeats) normalised representation (4 contacts, root, 24 × 6D).
    """
    return _ddim(model, cond, [float(weight)] * steps, noise=noise, eta=eta, overlap=False, schedule=schedule, progress=progress,
                 compile_mode=compile_mode, cuda_graph=cuda_graph)


def edge_long_ddim_sample(model: EdgeDanceDecoder, cond: torch.Tensor, *, noise: Noise, weight: float = GUIDANCE_WEIGHT,
                          steps: int = 50, eta: float = 1.0, schedule: DiffusionSchedule | None = None,
                          progress: Callable[[int, int], None] | None = None, compile_mode: CompileMode | None = None,
                          cuda_graph: bool = False) -> torch.Tensor:
    """Sample B consecutive windows, each starting half a window after the previous one (``long_ddim_sample``).

    Args:
        cond: (B, seq_len, C) music features of windows with a stride of seq_len/2 (``test.py``: 5 s every 2.5 s).
        compile_mode, cuda_graph: speed options (module docstring); default: eager.
    Returns:
        (B, seq_len, nfeats) normalised windows; :func:`stitch_long` joins them.
    """
    if cond.shape[0] == 1:
        return edge_ddim_sample(model, cond, noise=noise, weight=weight, steps=steps, eta=eta, schedule=schedule, progress=progress,
                                compile_mode=compile_mode, cuda_graph=cuda_graph)
    if cond.shape[1] % 2:
        raise ValidationError("cond", "an even number of frames per window", str(cond.shape[1]))
    return _ddim(model, cond, long_guidance_weights(weight, steps), noise=noise, eta=eta, overlap=True, schedule=schedule,
                 progress=progress, compile_mode=compile_mode, cuda_graph=cuda_graph)


# ---- pytorch3d v0.7.2 rotation conversions (see the module docstring), written with torch.where -------------------
def _rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(…, 6) → (…, 3, 3) rows b1, b2, b1 × b2 (Gram–Schmidt)."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    return torch.stack((b1, b2, torch.linalg.cross(b1, b2, dim=-1)), dim=-2)


def _matrix_to_quaternion(m: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) → (…, 4) (w, x, y, z), the best-conditioned candidate; its sign is NOT standardised."""
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.reshape(*m.shape[:-2], 9).unbind(-1)
    sq = torch.stack([1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22], dim=-1)
    q_abs = torch.where(sq > 0, sq.clamp(min=0).sqrt(), torch.zeros_like(sq))
    candidates = torch.stack([
        torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
        torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
        torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
    ], dim=-2) / (2.0 * q_abs[..., None].clamp(min=0.1))
    best = q_abs.argmax(dim=-1)[..., None, None].expand(*q_abs.shape[:-1], 1, 4)
    return candidates.gather(-2, best)[..., 0, :]


def _sin_half_over_angle(angles: torch.Tensor) -> torch.Tensor:
    small = angles.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(angles), angles)
    return torch.where(small, 0.5 - angles * angles / 48, torch.sin(safe * 0.5) / safe)


def _axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    """(…, 3) → (…, 4): (cos θ/2, a·sin(θ/2)/θ); w < 0 for θ > π."""
    angles = torch.linalg.vector_norm(aa, dim=-1, keepdim=True)
    return torch.cat([torch.cos(angles * 0.5), aa * _sin_half_over_angle(angles)], dim=-1)


def _quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(…, 4), not necessarily unit or w ≥ 0 → (…, 3) with θ = 2·atan2(|v|, w) ∈ [0, 2π)."""
    angles = 2 * torch.atan2(torch.linalg.vector_norm(q[..., 1:], dim=-1, keepdim=True), q[..., :1])
    return q[..., 1:] / _sin_half_over_angle(angles)


def _ax_from_6v(d6: torch.Tensor) -> torch.Tensor:
    return _quaternion_to_axis_angle(_matrix_to_quaternion(_rotation_6d_to_matrix(d6)))


def quat_slerp(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """EDGE's ``quat_slerp``: (N, S, J, 4) × (N, S, J, 4) at weights ``a`` (broadcast to (N, S, J)) → (N, S, J, 4).

    The shorter arc (y negated where x·y < 0); plain linear blending where 1 − |x·y| < 0.01; no renormalisation.
    """
    dot = (x * y).sum(-1)
    neg = dot < 0.0
    dot = dot.abs()
    y = torch.where(neg[..., None], -y, y)
    a = torch.zeros_like(x[..., 0]) + a
    linear = (1.0 - dot) < 0.01
    omega = torch.arccos(torch.where(linear, torch.zeros_like(dot), dot))
    sin_omega = torch.where(linear, torch.ones_like(omega), torch.sin(omega))
    amount0 = torch.where(linear, 1.0 - a, torch.sin((1.0 - a) * omega) / sin_omega)
    amount1 = torch.where(linear, a, torch.sin(a * omega) / sin_omega)
    return amount0[..., None] * x + amount1[..., None] * y


def stitch_long(motion: torch.Tensor, *, joints: int = 24,
                ax_from_6v: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Join overlapping windows as ``render_sample(mode="long")`` does.

    Args:
        motion: (B, T, 151) unnormalised windows (contacts, root, 24 × 6D; or (B, T, 147) without contacts), window
            b + 1 starting T/2 frames after window b.
        joints: joints in 6D (24: EDGE; 52: FineDance's 319-d layout).
        ax_from_6v: (…, 6) → (…, 3) conversion; default pytorch3d v0.7.2's (EDGE's).
    Returns:
        poses (T + (B − 1)·T/2, joints, 3) axis-angle and trans (same T', 3) root positions.
        B = 1 returns the window as it is.
    """
    width = 3 + 6 * joints
    if motion.ndim != 3 or motion.shape[-1] not in (width, width + 4) or motion.shape[1] % 2:
        raise ValidationError("motion", f"(B, T, {width + 4}) or (B, T, {width}) with T even", str(tuple(motion.shape)))
    motion = motion[..., -width:]
    b, s = motion.shape[:2]
    pos = motion[..., :3]
    q = (ax_from_6v or _ax_from_6v)(motion[..., 3:].reshape(b, s, joints, 6))
    if b == 1:
        return q[0], pos[0]
    half = s // 2
    ramp = torch.linspace(0, 1, half, device=motion.device)
    fade_out = torch.ones((1, s, 1), device=motion.device)
    fade_in = torch.ones((1, s, 1), device=motion.device)
    fade_out[:, half:, :] = torch.linspace(1, 0, half, device=motion.device)[None, :, None]
    fade_in[:, :half, :] = ramp[None, :, None]
    pos = pos.clone()
    pos[:-1] *= fade_out
    pos[1:] *= fade_in
    full_pos = torch.zeros((s + half * (b - 1), 3), device=motion.device)
    for i in range(b):
        full_pos[i * half: i * half + s] += pos[i]
    merged = _quaternion_to_axis_angle(quat_slerp(_axis_angle_to_quaternion(q[:-1, half:]), _axis_angle_to_quaternion(q[1:, :half]),
                                                  ramp[None, :, None]))
    full_q = torch.cat([q[0, :half], merged.reshape(-1, joints, 3), q[-1, half:]], dim=0)
    return full_q, full_pos


def render_long(samples: torch.Tensor, *, normalizer: MinMaxNormalizer) -> dict[str, np.ndarray]:
    """The file ``render_sample(mode="long", fk_out=…)`` writes, from the sampler's normalised windows (B, T, 151):
    ``{"smpl_poses": (T', 72), "smpl_trans": (T', 3), "full_pose": (T', 24, 3)}`` (float32, z-up, 30 fps)."""
    poses, trans = stitch_long(normalizer.unnormalize(samples))
    joints = edge_fk(poses, trans)
    return {"smpl_poses": poses.reshape(-1, 72).cpu().numpy(), "smpl_trans": trans.cpu().numpy(), "full_pose": joints.cpu().numpy()}
