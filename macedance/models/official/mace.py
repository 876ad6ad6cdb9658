"""The MACE-Dance Motion Expert exactly as released (AMAP-ML/MACE-Dance ``Expert-Motion/model/model.py`` @ 8f92d12):
the official module tree and parameter names, so that the released ``train-3750.pt`` loads with ``strict=True``.

* conditioning: t = time_mlp(t) + beta_mlp(1000·β), each sinusoid(d) → Linear(d, 4d) → Mish → Linear(4d, d)
  (frequencies exp(−ln(10⁴)·i/(d/2 − 1)), sin then cos);
* music encoder: cond_projection(music) → 2 × MusicFiLMLayer: x + FiLM_genre(BiMamba(x)), each layer with its own
  genre MLP Embedding(16, d) → Linear(d, ff) → Mish → Linear(ff, d);
* null condition: cond · keep + null_cond_embed — the null embedding is **added on the conditional path too**;
* 8 × DanceFiLMLayer: x + FiLM1_t(BiMamba(x)); x + FiLM2_t(FFN(LN(CrossAttn(LN(x), LN(cond))))) — no residual
  around the cross-attention;
* final_layer: Linear(d, 151), no final norm; the network predicts x0.

The sizes the released code hard-codes (8 dance layers, 2 music layers, 16 genres, Mamba d_state 16 / d_conv 4 /
expand 2) are fields of :class:`MaceConfig` with those defaults; the released model is ``MaceConfig()``.
BiMamba uses :class:`macedance.models.mamba.Mamba` (``mamba_ssm``'s parameters; its CUDA kernel when present).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from macedance.models.mamba import Mamba
from macedance.presets import ConfigRecord

#: The 16 genres of the released model (FineDance ``style2`` labels), in the official index order.
MACE_GENRES: tuple[str, ...] = ("Dai", "ShenYun", "Wei", "Korean", "Urban", "Hiphop", "Popping", "Miao", "HanTang", "Breaking",
                                "Kun", "Locking", "Jazz", "Choreography", "Chinese", "DunHuang")


@dataclass(frozen=True)
class MaceConfig(ConfigRecord):
    """Sizes of the official ``DanceDecoder`` (defaults: the released model, 66,680,983 parameters)."""

    nfeats: int = 151
    latent_dim: int = 512
    ff_size: int = 1024
    num_heads: int = 8
    dropout: float = 0.1
    cond_feature_dim: int = 35
    dance_layers: int = 8
    music_layers: int = 2
    num_genres: int = 16
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor], *, num_heads: int = 8) -> "MaceConfig":
        """Sizes read from a state dict's shapes (the head count is not visible in shapes)."""
        def count(prefix: str) -> int:
            return len({k.split(".")[1] for k in sd if k.startswith(prefix + ".")})

        latent, nfeats = sd["input_projection.weight"].shape[0], sd["input_projection.weight"].shape[1]
        inner, d_state = sd["dancelayerstack.0.bimamba.mamba_forward.A_log"].shape
        return cls(nfeats=int(nfeats), latent_dim=int(latent), ff_size=int(sd["dancelayerstack.0.transformer.linear1.weight"].shape[0]),
                   num_heads=num_heads, cond_feature_dim=int(sd["cond_projection.weight"].shape[1]),
                   dance_layers=count("dancelayerstack"), music_layers=count("musiclayerstack"),
                   num_genres=int(sd["musiclayerstack.0.genre_MLP.0.weight"].shape[0]), d_state=int(d_state),
                   d_conv=int(sd["dancelayerstack.0.bimamba.mamba_forward.conv1d.weight"].shape[-1]), expand=int(inner) // int(latent))


class SinusoidalPosEmb(nn.Module):
    """(B,) scalars → (B, dim): sin then cos of x·exp(−ln(10⁴)·i/(dim/2 − 1)) (EDGE's ``SinusoidalPosEmb``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=x.device) * -(math.log(10000) / (half - 1)))
        args = x[:, None] * freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1)


def embedding_mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim))


class DenseFiLM(nn.Module):
    """(B, d) conditioning → (scale, shift), each (B, 1, d): Mish → Linear(d, 2d)."""

    def __init__(self, embed_channels: int):
        super().__init__()
        self.block = nn.Sequential(nn.Mish(), nn.Linear(embed_channels, embed_channels * 2))

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = self.block(cond)[:, None].chunk(2, dim=-1)
        return scale, shift


def featurewise_affine(x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    scale, shift = scale_shift
    return (scale + 1) * x + shift


class IntraModalMamba(nn.Module):
    """BiMamba: LayerNorm, then a forward and a time-reversed Mamba on the normed input, summed; (B, T, d) → same."""

    def __init__(self, cfg: MaceConfig):
        super().__init__()
        d = cfg.latent_dim
        self.mamba_forward = Mamba(d, cfg.d_state, cfg.d_conv, cfg.expand)
        self.mamba_backward = Mamba(d, cfg.d_state, cfg.d_conv, cfg.expand)
        self.dropout = nn.Dropout(cfg.dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return self.dropout(self.mamba_forward(x) + self.mamba_backward(x.flip(1)).flip(1))


class CrossModalTransformer(nn.Module):
    """FFN(LN(CrossAttn(LN_dance(x), LN_music(c)))) — the FFN reads the attention output, no residual in between."""

    def __init__(self, cfg: MaceConfig):
        super().__init__()
        d = cfg.latent_dim
        self.cross_attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.dropout_cross = nn.Dropout(cfg.dropout)
        self.norm_dance = nn.LayerNorm(d)
        self.norm_music = nn.LayerNorm(d)
        self.norm = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, cfg.ff_size)
        self.linear2 = nn.Linear(cfg.ff_size, d)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
        m = self.norm_music(mem)
        x = self.dropout_cross(self.cross_attn(self.norm_dance(x), m, m, need_weights=False)[0])
        return self.dropout2(self.linear2(self.dropout1(F.gelu(self.linear1(self.norm(x))))))


class DanceFiLMLayer(nn.Module):
    def __init__(self, cfg: MaceConfig):
        super().__init__()
        self.bimamba = IntraModalMamba(cfg)
        self.transformer = CrossModalTransformer(cfg)
        self.film1 = DenseFiLM(cfg.latent_dim)
        self.film2 = DenseFiLM(cfg.latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x + featurewise_affine(self.bimamba(x), self.film1(t))
        return x + featurewise_affine(self.transformer(x, cond), self.film2(t))


class MusicFiLMLayer(nn.Module):
    def __init__(self, cfg: MaceConfig):
        super().__init__()
        d = cfg.latent_dim
        self.bimamba = IntraModalMamba(cfg)
        self.film = DenseFiLM(d)
        self.genre_MLP = nn.Sequential(nn.Embedding(cfg.num_genres, d), nn.Linear(d, cfg.ff_size), nn.Mish(), nn.Linear(cfg.ff_size, d))

    def forward(self, x: torch.Tensor, genre: torch.Tensor) -> torch.Tensor:
        return x + featurewise_affine(self.bimamba(x), self.film(self.genre_MLP(genre)))


class MaceDanceDecoder(nn.Module):
    """The official ``DanceDecoder``: x0 prediction from (x_t (B, T, 151), music (B, T, 35), genre (B,) int,
    t (B,) int, β (B,) float, keep (B,) bool)."""

    def __init__(self, cfg: MaceConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or MaceConfig()
        d = cfg.latent_dim
        self.time_mlp = embedding_mlp(d)
        self.beta_mlp = embedding_mlp(d)
        self.input_projection = nn.Linear(cfg.nfeats, d)
        self.cond_projection = nn.Linear(cfg.cond_feature_dim, d)
        self.final_layer = nn.Linear(d, cfg.nfeats)
        self.dancelayerstack = nn.ModuleList(DanceFiLMLayer(cfg) for _ in range(cfg.dance_layers))
        self.musiclayerstack = nn.ModuleList(MusicFiLMLayer(cfg) for _ in range(cfg.music_layers))
        self.null_cond_embed = nn.Parameter(torch.zeros(1, 1, d))

    def forward(self, x: torch.Tensor, music: torch.Tensor, genre: torch.Tensor, times: torch.Tensor, beta: torch.Tensor, *,
                keep: torch.Tensor) -> torch.Tensor:
        """``keep`` (B,) bool: True uses the music (the official ``cond_drop_prob=0``), False only the null
        embedding (``cond_drop_prob=1``). β must have shape (B,) — the released ``infer_pred`` squeezes a (1, 1)
        β to a scalar for B = 1 and crashes; here any B works."""
        B = x.shape[0]
        if beta.shape != (B,) or times.shape != (B,) or keep.shape != (B,) or genre.shape != (B,):
            raise ValueError(f"times, beta, genre and keep must have shape ({B},), got {tuple(times.shape)}, {tuple(beta.shape)}, "
                             f"{tuple(genre.shape)}, {tuple(keep.shape)}")
        h = self.input_projection(x)
        t = self.time_mlp(times) + self.beta_mlp(beta * 1000)
        cond = self.cond_projection(music)
        for layer in self.musiclayerstack:
            cond = layer(cond, genre)
        cond = cond * keep.to(cond.dtype).view(B, 1, 1) + self.null_cond_embed
        for dance in self.dancelayerstack:
            h = dance(h, cond, t)
        return self.final_layer(h)

    def gft_loss_pred(self, x: torch.Tensor, music: torch.Tensor, genre: torch.Tensor, times: torch.Tensor,
                      beta: torch.Tensor) -> torch.Tensor:
        """The training prediction of the released ``train_pred``: β·x̂(c, β) + (1 − β)·stopgrad x̂(∅, β)."""
        B = x.shape[0]
        yes = torch.ones(B, dtype=torch.bool, device=x.device)
        cond_pred = self(x, music, genre, times, beta, keep=yes)
        with torch.no_grad():
            uncond_pred = self(x, music, genre, times, beta, keep=~yes)
        b = beta.view(B, 1, 1)
        return b * cond_pred + (1.0 - b) * uncond_pred.detach()

