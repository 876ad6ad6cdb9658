"""Gaussian diffusion for the Motion Expert: cosine schedule (T = 1000), x0 prediction, the paper's
losses, Guidance-Free Training (GFT) or classifier-free guidance (CFG), and DDIM sampling with
optional masked denoising (in-betweening / editing)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from macedance.models.representation import CONTACT, Normalizer, rep_joints
from macedance.presets import ConfigRecord

FOOT = (7, 8, 10, 11)  # contact order of the representation: L ankle, R ankle, L foot, R foot


@dataclass(frozen=True)
class DiffusionConfig(ConfigRecord):
    steps: int = 1000
    w_rec: float = 0.636
    w_joint: float = 0.636
    w_vel: float = 2.964
    w_foot: float = 10.942
    cond_drop: float = 0.1  # probability of training with the null condition
    gft_uncond_beta: Literal["one", "same"] = "one"  # β of the stop-gradient unconditional pass: "one" (paper) or "same" (code)
    sample_steps: int = 50
    eta: float = 1.0
    beta: float = 0.75  # GFT inference temperature
    cfg_weight: float = 2.0  # CFG guidance weight




def cosine_alphas_cumprod(steps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t of the cosine schedule (Nichol & Dhariwal), β_t clipped at 0.999; (steps,) float64."""
    x = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    f = torch.cos(((x / steps) + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


@dataclass
class TrainingDraws:
    """The random draws of one training batch: timesteps, noise, condition-keep mask and GFT β."""

    t: torch.Tensor  # (B,) int64
    noise: torch.Tensor  # (B, T, D)
    keep: torch.Tensor  # (B,) bool
    beta: torch.Tensor | None  # (B,) for GFT, else None

    def part(self, rows: slice) -> "TrainingDraws":
        """The draws of a slice of the batch (a process's or a micro-step's share)."""
        return TrainingDraws(self.t[rows], self.noise[rows], self.keep[rows], None if self.beta is None else self.beta[rows])


class Diffusion:
    """Training losses and sampling around a ``MotionExpert``."""

    def __init__(self, cfg: DiffusionConfig, normalizer: Normalizer):
        self.cfg = cfg
        self.norm = normalizer
        self.ab = cosine_alphas_cumprod(cfg.steps).float()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        ab = self.ab.to(x0.device)[t][:, None, None]
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def gft_target(self, cond_pred: torch.Tensor, uncond_pred: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """x_β = β·x̂(c, β) + (1 − β)·stopgrad[x̂(∅)]."""
        b = beta[:, None, None]
        return b * cond_pred + (1 - b) * uncond_pred.detach()

    def draw(self, shape: tuple[int, ...], gen: torch.Generator | None, gft: bool) -> TrainingDraws:
        """Random draws for a batch of ``shape`` (B, T, D), on the CPU generator ``gen``."""
        B = shape[0]
        t = torch.randint(0, self.cfg.steps, (B,), generator=gen, device="cpu")
        noise = torch.randn(shape, generator=gen, device="cpu")
        keep = torch.rand(B, generator=gen) >= self.cfg.cond_drop
        return TrainingDraws(t, noise, keep, torch.rand(B, generator=gen) if gft else None)

    def losses(self, model: torch.nn.Module, x0: torch.Tensor, music: torch.Tensor, genre: torch.Tensor,
               gen: torch.Generator | None = None, draws: TrainingDraws | None = None) -> dict[str, torch.Tensor]:
        """All loss terms for a batch of normalised representations x0 (B, T, 151); the random draws
        come from ``draws`` (a share of a larger batch's) or are made here from ``gen``."""
        dev = x0.device
        net = getattr(model, "module", model)  # DDP-wrapped or not
        d = draws if draws is not None else self.draw(tuple(x0.shape), gen, net.cfg.guidance == "gft")
        t, noise, keep = d.t.to(dev), d.noise.to(dev), d.keep.to(dev)
        xt = self.q_sample(x0, t, noise)
        if net.cfg.guidance == "gft":
            assert d.beta is not None
            beta = d.beta.to(dev)
            pred = model(xt, t, music, genre, beta, keep)
            with torch.no_grad():
                ub = torch.ones_like(beta) if self.cfg.gft_uncond_beta == "one" else beta
                uncond = model(xt, t, music, genre, ub, torch.zeros_like(keep))
            pred = self.gft_target(pred, uncond, beta)
        else:
            pred = model(xt, t, music, genre, None, keep)
        rec = F.mse_loss(pred, x0)
        vel = F.mse_loss(pred[:, 1:] - pred[:, :-1], x0[:, 1:] - x0[:, :-1])
        p_raw, g_raw = self.norm.unnormalize(pred, clip=False), self.norm.unnormalize(x0, clip=False)
        pj, gj = rep_joints(p_raw), rep_joints(g_raw)
        joint = F.mse_loss(pj, gj)
        foot_v = pj[:, 1:, list(FOOT)] - pj[:, :-1, list(FOOT)]
        static = (p_raw[:, :-1, CONTACT] > 0.95).unsqueeze(-1)
        foot = F.mse_loss(foot_v * static, torch.zeros_like(foot_v))
        c = self.cfg
        total = c.w_rec * rec + c.w_joint * joint + c.w_vel * vel + c.w_foot * foot
        return {"loss": total, "rec": rec, "joint": joint, "vel": vel, "foot": foot}

    def predict_x0(self, model: torch.nn.Module, xt: torch.Tensor, t: torch.Tensor, music: torch.Tensor,
                   genre: torch.Tensor) -> torch.Tensor:
        """One network evaluation (GFT) or two (CFG) at inference."""
        B = xt.shape[0]
        yes = torch.ones(B, dtype=torch.bool, device=xt.device)
        if model.cfg.guidance == "gft":
            beta = torch.full((B,), self.cfg.beta, device=xt.device)
            return model(xt, t, music, genre, beta, yes)
        cond = model(xt, t, music, genre, None, yes)
        uncond = model(xt, t, music, genre, None, ~yes)
        return uncond + self.cfg.cfg_weight * (cond - uncond)

    @torch.no_grad()
    def sample(self, model: torch.nn.Module, music: torch.Tensor, genre: torch.Tensor, gen: torch.Generator,
               known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
               progress: Any = None) -> torch.Tensor:
        """DDIM (``sample_steps`` steps, η = ``eta``) from noise; x0 clipped to [−1, 1].

        Args:
            music: (B, T, 35) features; the motion has the same T.
            genre: (B,) genre ids.
            gen: random generator (CPU) — sampling is deterministic under a seed.
            known, mask: optional normalised frames (B, T, 151) and a bool mask (B, T, 1|151) of values
                to keep (masked denoising: in-betweening, joint or trajectory editing).
        Returns:
            (B, T, 151) normalised representation.
        """
        B, T = music.shape[:2]
        dev = music.device
        ab = self.ab.to(dev)
        times = torch.linspace(self.cfg.steps - 1, 0, self.cfg.sample_steps, device="cpu").round().long()
        x = torch.randn((B, T, 151), generator=gen).to(dev)
        for i, t_now in enumerate(times):
            if known is not None and mask is not None:
                noised = self.q_sample(known, t_now.repeat(B).to(dev), torch.randn(known.shape, generator=gen).to(dev))
                x = torch.where(mask, noised, x)
            t = t_now.repeat(B).to(dev)
            x0 = self.predict_x0(model, x, t, music, genre).clamp(-1, 1)
            a_t = ab[t_now]
            a_prev = ab[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0, device=dev)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            sigma = self.cfg.eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
            noise = torch.randn(x.shape, generator=gen).to(dev) if i + 1 < len(times) else torch.zeros_like(x)
            x = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps + sigma * noise
            if progress:
                progress(i + 1, len(times))
        if known is not None and mask is not None:
            x = torch.where(mask, known, x)
        return x
