"""MACE-Dance's released sampler (``GaussianDiffusion.ddim_sample`` of ``Expert-Motion/model/diffusion.py``): DDIM
over the whole sequence in one pass, 50 evaluations at t = 999, 979, …, 19 (the last returns its x0), η = 1, x0
clipped to [−1, 1] with ε recomputed from the clipped x0, Guidance-Free Training inference at β = 0.75 (one
network evaluation per step)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from macedance.models.official.ddim import DiffusionSchedule, Noise, cosine_schedule, ddim_time_pairs
from macedance.models.official.mace import MaceDanceDecoder


@torch.no_grad()
def mace_ddim_sample(model: MaceDanceDecoder, music: torch.Tensor, genre: torch.Tensor, *, noise: Noise, beta: float = 0.75,
                     steps: int = 50, eta: float = 1.0, schedule: DiffusionSchedule | None = None,
                     progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Sample normalised motion.

    Args:
        music: (B, T, 35) music features at 30 fps; the motion has the same T.
        genre: (B,) genre indices (:data:`~macedance.models.official.mace.MACE_GENRES`).
        noise: the random numbers (``Noise(seed=…, mode="official")`` reproduces the original's draws on CPU).
        beta: GFT inference temperature (released: 0.75).
    Returns:
        (B, T, nfeats) normalised representation (contacts, root, 24 × 6D).
    """
    B, T = music.shape[:2]
    dev = music.device
    sched = (schedule or cosine_schedule()).to(dev)
    x = noise.randn((B, T, model.cfg.nfeats), device=dev)
    keep = torch.ones(B, dtype=torch.bool, device=dev)
    b = torch.full((B,), beta, device=dev)
    pairs = ddim_time_pairs(steps=steps)
    for i, (t, t_next) in enumerate(pairs):
        noise.model_call(B)
        x0 = model(x, music, genre, torch.full((B,), t, device=dev, dtype=torch.long), b, keep=keep).clamp(-1.0, 1.0)
        if t_next < 0:
            x = x0
        else:
            eps = sched.predict_noise_from_start(x, t, x0)
            alpha, alpha_next = sched.alphas_cumprod[t], sched.alphas_cumprod[t_next]
            sigma = eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
            c = (1 - alpha_next - sigma**2).sqrt()
            x = x0 * alpha_next.sqrt() + c * eps + sigma * noise.randn(tuple(x.shape), device=dev)
        if progress is not None:
            progress(i + 1, len(pairs))
    return x
