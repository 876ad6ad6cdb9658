"""The released MACE-Dance and EDGE networks behind the interface our trainer and samplers use
(``net(x_t, t, music, genre, β, keep)`` and ``net.cfg``: an :class:`~macedance.models.motion_expert.ExpertConfig`),
so that ``train motion`` trains the official module trees. ``net.decoder`` is the official module: its
``state_dict()`` is the released layout (exported by :mod:`macedance.methods.official.export`).

Genres: the official genre table has 16 rows (FineDance's 16 styles); a run's vocabulary keeps at most 15 named
genres and row 15 stands for "unknown" (our vocabulary's unknown id, 16, maps to it).
"""

from __future__ import annotations

import torch
from torch import nn

from macedance.models.motion_expert import NUM_GENRES, ExpertConfig
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.mace import MaceConfig, MaceDanceDecoder
from macedance.models.representation import REP_DIM

OFFICIAL_GENRE_ROWS = NUM_GENRES  # 16: the official table; row 15 = unknown for runs trained here


def mace_config(cfg: ExpertConfig) -> MaceConfig:
    return MaceConfig(nfeats=REP_DIM, latent_dim=cfg.latent, ff_size=cfg.ffn, num_heads=cfg.heads, dropout=cfg.dropout,
                      cond_feature_dim=cfg.music_dim, dance_layers=cfg.layers, music_layers=cfg.music_layers,
                      num_genres=OFFICIAL_GENRE_ROWS, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand)


def edge_config(cfg: ExpertConfig) -> EdgeConfig:
    return EdgeConfig(nfeats=REP_DIM, seq_len=cfg.seq_len, latent_dim=cfg.latent, ff_size=cfg.ffn, num_layers=cfg.layers,
                      num_heads=cfg.heads, dropout=cfg.dropout, cond_feature_dim=cfg.music_dim, use_rotary=True)


class OfficialMaceNet(nn.Module):
    """The official MACE-Dance ``DanceDecoder`` (GFT: β input)."""

    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        self.cfg = cfg
        self.decoder = MaceDanceDecoder(mace_config(cfg))

    def forward(self, x: torch.Tensor, t: torch.Tensor, music: torch.Tensor, genre: torch.Tensor, beta: torch.Tensor | None = None,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        B = x.shape[0]
        b = beta if beta is not None else torch.ones(B, device=x.device)
        k = keep if keep is not None else torch.ones(B, dtype=torch.bool, device=x.device)
        return self.decoder(x, music, genre.clamp(max=OFFICIAL_GENRE_ROWS - 1), t, b, keep=k)


class OfficialEdgeNet(nn.Module):
    """EDGE's ``DanceDecoder`` (classifier-free guidance; no genre, no β); x and music have ``cfg.seq_len`` frames."""

    def __init__(self, cfg: ExpertConfig):
        super().__init__()
        self.cfg = cfg
        self.decoder = EdgeDanceDecoder(edge_config(cfg))

    def forward(self, x: torch.Tensor, t: torch.Tensor, music: torch.Tensor, genre: torch.Tensor, beta: torch.Tensor | None = None,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        k = keep if keep is not None else torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        return self.decoder(x, music, t, keep=k)


def make_network(cfg: ExpertConfig) -> nn.Module:
    """The network ``cfg.network`` names: ours (:class:`MotionExpert`) or a released module tree behind the same interface."""
    if cfg.network == "mace-official":
        return OfficialMaceNet(cfg)
    if cfg.network == "edge-official":
        return OfficialEdgeNet(cfg)
    from macedance.models.motion_expert import MotionExpert

    return MotionExpert(cfg)
