"""The MACE-Dance Motion Expert denoiser and its ablations/baselines, as one configurable network.

* Music encoder: music features (35-d per frame) → linear → ``music_layers`` sequence mixers, each
  output FiLM-modulated by a genre embedding (the "Genre-Gate"; 16 genres + unknown), residual.
* Denoiser: motion (151-d) → linear → ``layers`` blocks of
  mixer (BiMamba) → FiLM(t, β) residual → cross-attention (motion queries; music keys/values,
  pre-LN) residual → FFN → FiLM(t, β) residual; then linear → 151 (x0 prediction).
* t and β get sinusoidal embeddings (β × 1000), each through an MLP, summed.
* ``mixer``: ``"bimamba"`` (MACE-Dance), ``"mamba"`` (unidirectional ablation) or ``"transformer"``
  (self-attention with sinusoidal positions: the BiMamba→Transformer ablation and the EDGE-style
  baseline). A learned zero-initialised null embedding replaces the music for unconditional passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from macedance.models.mamba import BiMamba
from macedance.models.representation import REP_DIM
from macedance.presets import ConfigRecord

NUM_GENRES = 16  # + 1 "unknown"


@dataclass(frozen=True)
class ExpertConfig(ConfigRecord):
    """Every size of the network (paper values by default; see ``tiny`` for tests)."""

    latent: int = 512
    layers: int = 8
    music_layers: int = 2
    heads: int = 8
    ffn: int = 1024
    dropout: float = 0.1
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    mixer: Literal["bimamba", "mamba", "transformer"] = "bimamba"
    music_dim: int = 35
    guidance: Literal["gft", "cfg"] = "gft"  # "gft" (one pass, β input) | "cfg" (two passes)
    max_len: int = 4096  # positions for the transformer mixer
    # "macedance": this module's network (the re-implementation; the ablations use it); "mace-official" / "edge-official":
    # the released MACE-Dance / EDGE module trees (models.official), trained through the same interface
    network: Literal["macedance", "mace-official", "edge-official"] = "macedance"
    seq_len: int = 150  # edge-official: EDGE's window (the null embedding's length) = the training window

    @classmethod
    def tiny(cls, **kw: Any) -> "ExpertConfig":
        base = dict(latent=32, layers=2, music_layers=1, heads=2, ffn=64, dropout=0.0, d_state=4, expand=2)
        return cls(**{**base, **kw})


def sinusoidal(x: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) scalars → (B, dim) sinusoidal embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


class FiLM(nn.Module):
    """(scale + 1) · h + shift from a conditioning vector (zero-initialised: identity at start)."""

    def __init__(self, cond_dim: int, dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * dim))
        nn.init.zeros_(self.proj[1].weight)
        nn.init.zeros_(self.proj[1].bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(cond).unsqueeze(1).chunk(2, dim=-1)
        return (scale + 1) * h + shift


class SelfAttentionMixer(nn.Module):
    """Pre-LN multi-head self-attention with sinusoidal positions (the Transformer ablation)."""

    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        self.norm = nn.LayerNorm(cfg.latent)
        self.attn = nn.MultiheadAttention(cfg.latent, cfg.heads, dropout=cfg.dropout, batch_first=True)
        pos = sinusoidal(torch.arange(cfg.max_len), cfg.latent)
        self.register_buffer("pos", pos, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x) + self.pos[: x.shape[1]].to(x)
        return self.attn(h, h, h, need_weights=False)[0]


def make_mixer(cfg: ExpertConfig) -> nn.Module:
    if cfg.mixer == "transformer":
        return SelfAttentionMixer(cfg)
    if cfg.mixer not in ("bimamba", "mamba"):
        raise ValueError(f"mixer must be bimamba, mamba or transformer, got {cfg.mixer!r}")
    return BiMamba(cfg.latent, cfg.d_state, cfg.d_conv, cfg.expand, bidirectional=cfg.mixer == "bimamba")


class DenoiserBlock(nn.Module):
    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        d = cfg.latent
        self.mixer = make_mixer(cfg)
        self.film1 = FiLM(d, d)
        self.norm_q, self.norm_kv = nn.LayerNorm(d), nn.LayerNorm(d)
        self.cross = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, cfg.ffn), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.ffn, d))
        self.film2 = FiLM(d, d)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, music: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.film1(self.mixer(x), cond))
        kv = self.norm_kv(music)
        x = x + self.drop(self.cross(self.norm_q(x), kv, kv, need_weights=False)[0])
        return x + self.drop(self.film2(self.ff(self.norm_ff(x)), cond))


class MusicEncoder(nn.Module):
    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        self.inp = nn.Linear(cfg.music_dim, cfg.latent)
        self.mixers = nn.ModuleList(make_mixer(cfg) for _ in range(cfg.music_layers))
        self.genre = nn.Embedding(NUM_GENRES + 1, cfg.latent)
        self.genre_mlp = nn.Sequential(nn.Linear(cfg.latent, cfg.latent), nn.SiLU(), nn.Linear(cfg.latent, cfg.latent))
        self.films = nn.ModuleList(FiLM(cfg.latent, cfg.latent) for _ in range(cfg.music_layers))

    def forward(self, music: torch.Tensor, genre: torch.Tensor) -> torch.Tensor:
        h = self.inp(music)
        g = self.genre_mlp(self.genre(genre))
        for mixer, film in zip(self.mixers, self.films, strict=True):
            h = h + film(mixer(h), g)
        return h


class MotionExpert(nn.Module):
    """x0-predicting denoiser: (x_t (B,T,151), t (B,), music (B,T,35), genre (B,), β (B,), keep (B,))."""

    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.latent
        self.inp = nn.Linear(REP_DIM, d)
        self.music_encoder = MusicEncoder(cfg)
        self.null_music = nn.Parameter(torch.zeros(1, 1, d))
        self.t_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.beta_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(DenoiserBlock(cfg) for _ in range(cfg.layers))
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, REP_DIM)

    def forward(self, x: torch.Tensor, t: torch.Tensor, music: torch.Tensor, genre: torch.Tensor,
                beta: torch.Tensor | None = None, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``keep`` (B,) bool: use the music (True) or the null condition (False)."""
        cond = self.t_mlp(sinusoidal(t, self.cfg.latent))
        if self.cfg.guidance == "gft":
            b = beta if beta is not None else torch.ones_like(t, dtype=torch.float32)
            cond = cond + self.beta_mlp(sinusoidal(b * 1000, self.cfg.latent))
        m = self.music_encoder(music, genre)
        if keep is not None:
            m = torch.where(keep[:, None, None], m, self.null_music.expand_as(m))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, m, cond)
        return self.out(self.out_norm(h))
