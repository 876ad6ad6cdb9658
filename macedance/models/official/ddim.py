"""The diffusion schedule and DDIM time grid of the EDGE-family code (EDGE, MACE-Dance, FineNet, POPDG), and the
source of their random numbers.

The official ``GaussianDiffusion`` computes the cosine β schedule in float64, clips β to [0, 0.999], casts β to
float32 and only then forms ᾱ = cumprod(1 − β) in float32; the buffers below are built the same way, so that
every DDIM coefficient is bit-for-bit the official one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

RngMode = Literal["official", "macedance"]
RNG_MODES: tuple[RngMode, ...] = ("official", "macedance")


@dataclass(frozen=True)
class DiffusionSchedule:
    """float32 buffers of the official ``GaussianDiffusion`` (index = timestep)."""

    alphas_cumprod: torch.Tensor  # (n,)
    sqrt_recip_alphas_cumprod: torch.Tensor  # (n,) √(1/ᾱ)
    sqrt_recipm1_alphas_cumprod: torch.Tensor  # (n,) √(1/ᾱ − 1)

    def to(self, device: torch.device | str) -> "DiffusionSchedule":
        return DiffusionSchedule(*(t.to(device) for t in (self.alphas_cumprod, self.sqrt_recip_alphas_cumprod,
                                                          self.sqrt_recipm1_alphas_cumprod)))

    def predict_noise_from_start(self, x_t: torch.Tensor, t: int, x0: torch.Tensor) -> torch.Tensor:
        """ε from x_t and a predicted x0 at timestep ``t`` (the same arithmetic order as the original)."""
        return (self.sqrt_recip_alphas_cumprod[t] * x_t - x0) / self.sqrt_recipm1_alphas_cumprod[t]

    def ddim_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, t_next: int, *, eta: float, noise: "Noise") -> torch.Tensor:
        """One released DDIM update from t to t_next (x0 itself when t_next < 0), in the original's arithmetic order;
        draws the step's noise. The one change: √(1 − ᾱ_next − σ²) is taken of max(0, ·) — with 3 steps the
        released schedule's first coefficient rounds to −6e-8 in float32 and the original returns NaN everywhere;
        where the value is not negative (every released setting) the result is unchanged, bit for bit."""
        if t_next < 0:
            return x0
        eps = self.predict_noise_from_start(x_t, t, x0)
        alpha, alpha_next = self.alphas_cumprod[t], self.alphas_cumprod[t_next]
        sigma = eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
        c = (1 - alpha_next - sigma**2).clamp(min=0).sqrt()
        return x0 * alpha_next.sqrt() + c * eps + sigma * noise.randn(tuple(x_t.shape), device=x_t.device)


def cosine_schedule(*, n_timestep: int = 1000, cosine_s: float = 8e-3) -> DiffusionSchedule:
    """The cosine schedule of EDGE's ``make_beta_schedule("cosine")`` and the buffers derived from it."""
    steps = torch.arange(n_timestep + 1, dtype=torch.float64) / n_timestep + cosine_s
    f = torch.cos(steps / (1 + cosine_s) * math.pi / 2).pow(2)
    f = f / f[0]
    betas = (1 - f[1:] / f[:-1]).clamp(min=0, max=0.999).to(torch.float32)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    return DiffusionSchedule(alphas_cumprod, torch.sqrt(1.0 / alphas_cumprod), torch.sqrt(1.0 / alphas_cumprod - 1))


def ddim_time_pairs(*, n_timestep: int = 1000, steps: int = 50) -> list[tuple[int, int]]:
    """The released DDIM grid: ``reversed(linspace(−1, n − 1, steps + 1).int())`` as (t, t_next) pairs, i.e.
    (999, 979), …, (39, 19), (19, −1) for 50 steps: the last evaluation is at t = 19 and returns its x0."""
    times = list(reversed(torch.linspace(-1, n_timestep - 1, steps=steps + 1).int().tolist()))
    return list(zip(times[:-1], times[1:], strict=True))


class Noise:
    """The random numbers of a sampler, from a CPU ``torch.Generator`` seeded with ``seed`` (then moved to the
    device, so a seed gives the same noise on CPU and GPU).

    ``mode="official"`` also consumes the draws that the official code makes and throws away — MACE-Dance's
    forward pass draws ``torch.rand(B)`` for its condition-drop mask on every call — so that on CPU a seed gives
    exactly the output of the original code run after ``torch.manual_seed(seed)``. ``"macedance"`` skips them.
    """

    def __init__(self, *, seed: int, mode: RngMode = "macedance"):
        if mode not in RNG_MODES:
            from macedance.errors import ValidationError

            raise ValidationError("rng", "one of " + ", ".join(RNG_MODES), repr(mode))
        self.mode = mode
        self.generator = torch.Generator().manual_seed(int(seed))

    def randn(self, shape: tuple[int, ...], *, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.randn(shape, generator=self.generator).to(device)

    def model_call(self, batch: int) -> None:
        """Account for one network evaluation of ``batch`` rows (the official forward's ``torch.rand(B)``)."""
        if self.mode == "official":
            torch.rand(batch, generator=self.generator)
