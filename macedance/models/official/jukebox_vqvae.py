"""The Jukebox VQ-VAE's encoders and codebooks exactly as released (openai/jukebox ``vqvae/{resnet,encdec,bottleneck,
vqvae}.py``, fork rodrigo-castellon @ 6b44861): the official module tree and parameter names (``encoders.{0,1,2}``,
``bottleneck.level_blocks``), so ``vqvae.pth.tar`` loads with ``strict=True`` once its decoders are left out. Only the
top level is evaluated (see :mod:`macedance.models.official.jukebox`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from macedance.presets import ConfigRecord


@dataclass(frozen=True)
class JukeboxVQVAEConfig(ConfigRecord):
    """``hparams.vqvae`` (the released 5B VQ-VAE; ``sr`` 44.1 kHz)."""

    levels: int = 3
    downs_t: tuple[int, ...] = (3, 2, 2)
    strides_t: tuple[int, ...] = (2, 2, 2)
    emb_width: int = 64
    l_bins: int = 2048
    width: int = 32
    depth: int = 4
    m_conv: float = 1.0
    dilation_growth_rate: int = 3
    multipliers: tuple[int, ...] = (2, 1, 1)

    @property
    def hop(self) -> int:
        """Audio samples per top-level token (128 as released)."""
        return int(np.prod([s**d for s, d in zip(self.strides_t, self.downs_t, strict=True)]))


class ResConv1DBlock(nn.Module):
    def __init__(self, n_in: int, n_state: int, dilation: int):
        super().__init__()
        self.model = nn.Sequential(nn.ReLU(), nn.Conv1d(n_in, n_state, 3, 1, dilation, dilation), nn.ReLU(),
                                   nn.Conv1d(n_state, n_in, 1, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0 * self.model(x)  # res_scale 1.0


class Resnet1D(nn.Module):
    def __init__(self, n_in: int, n_depth: int, m_conv: float, dilation_growth_rate: int):
        super().__init__()
        self.model = nn.Sequential(*[ResConv1DBlock(n_in, int(m_conv * n_in), dilation_growth_rate**d) for d in range(n_depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class EncoderConvBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, down_t: int, stride_t: int, width: int, depth: int, m_conv: float,
                 dilation_growth_rate: int):
        super().__init__()
        filter_t, pad_t = stride_t * 2, stride_t // 2
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv1d(n_in if i == 0 else width, width, filter_t, stride_t, pad_t),
                                                 Resnet1D(width, depth, m_conv, dilation_growth_rate)) for i in range(down_t)]
        blocks.append(nn.Conv1d(width, n_out, 3, 1, 1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Encoder(nn.Module):
    """The encoder of one level: its level blocks in sequence (audio → tokens' embeddings at that level's hop)."""

    def __init__(self, cfg: JukeboxVQVAEConfig, level: int):
        super().__init__()
        width, depth = cfg.width * cfg.multipliers[level], cfg.depth * cfg.multipliers[level]
        self.level_blocks = nn.ModuleList(
            EncoderConvBlock(1 if lv == 0 else cfg.emb_width, cfg.emb_width, cfg.downs_t[lv], cfg.strides_t[lv], width, depth,
                             cfg.m_conv, cfg.dilation_growth_rate) for lv in range(level + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.level_blocks:
            x = block(x)
        return x


class BottleneckBlock(nn.Module):
    def __init__(self, k_bins: int, emb_width: int):
        super().__init__()
        self.register_buffer("k", torch.zeros(k_bins, emb_width))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T) embeddings → (N, T) nearest codebook entries (``BottleneckBlock.encode``)."""
        n, _, t = x.shape
        x = x.permute(0, 2, 1).contiguous()
        x = x.view(-1, x.shape[-1])
        k_w = self.k.t()
        distance = torch.sum(x**2, dim=-1, keepdim=True) - 2 * torch.matmul(x, k_w) + torch.sum(k_w**2, dim=0, keepdim=True)
        _, x_l = torch.min(distance, dim=-1)
        return x_l.view(n, t)

    def decode(self, x_l: torch.Tensor) -> torch.Tensor:
        """(N, T) indices → (N, C, T) codebook rows."""
        n, t = x_l.shape
        return torch.nn.functional.embedding(x_l, self.k).view(n, t, -1).permute(0, 2, 1).contiguous()


class Bottleneck(nn.Module):
    def __init__(self, cfg: JukeboxVQVAEConfig):
        super().__init__()
        self.level_blocks = nn.ModuleList(BottleneckBlock(cfg.l_bins, cfg.emb_width) for _ in range(cfg.levels))


class JukeboxVQVAE(nn.Module):
    """The released VQ-VAE without its decoders."""

    def __init__(self, cfg: JukeboxVQVAEConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or JukeboxVQVAEConfig()
        self.encoders = nn.ModuleList(Encoder(cfg, level) for level in range(cfg.levels))
        self.bottleneck = Bottleneck(cfg)

    @torch.no_grad()
    def encode_top(self, audio: torch.Tensor) -> torch.Tensor:
        """(N, samples) audio in [-1, 1] at 44.1 kHz → (N, samples // 128) top-level tokens (``encode(x)[-1]``)."""
        top = self.cfg.levels - 1
        x = audio[..., None].permute(0, 2, 1).float()  # VQVAE.preprocess: NTC → NCT
        return self.bottleneck.level_blocks[top].encode(self.encoders[top](x))
