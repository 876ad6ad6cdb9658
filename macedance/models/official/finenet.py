"""FineDance's FineNet (``SeqModel``) exactly as released (li-ronghui/FineDance ``model/model.py`` @ bb13fe8): the
official module tree and parameter names, so that a released ``train-2000.pt`` state dict loads with ``strict=True``
and no key map.

``SeqModel`` is two EDGE ``DanceDecoder`` s in ``network`` (an ``nn.ModuleDict``): FineDance's ``DanceDecoder`` is
EDGE's line for line (only the default ``cond_feature_dim`` differs), so both are
:class:`~macedance.models.official.edge.EdgeDanceDecoder`:

* ``network.body_net``: 139 features (4 foot contacts, root position, 22 SMPL-X body joints × 6D), conditioned on the
  35-d music features;
* ``network.hand_net``: 180 features (30 hand joints × 6D), conditioned on ``[body x0 prediction (139); music (35)]``
  (174-d) — the body's output of the same evaluation;
* output ``[body; hand]`` (319-d: the FineDance layout, 52 SMPL-H joints in 6D after the contacts and the root).

Both decoders use rotary embeddings (``SeqModel`` never passes ``use_rotary`` on), and both drop the music together
(classifier-free guidance drops the body's music and, through the null embeddings, the hand's whole condition).
``train_seq.py`` builds ``SeqModel(nfeats=319, seq_len=120, latent_dim=512, ff_size=1024, num_layers=8,
num_heads=8)``: ``FineNetConfig()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from macedance.errors import DataFormatError, ValidationError
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.presets import ConfigRecord

BODY_FEATS = 4 + 3 + 22 * 6  # 139: contacts, root, 22 body joints in 6D
HAND_FEATS = 30 * 6  # 180: 30 hand joints in 6D


@dataclass(frozen=True)
class FineNetConfig(ConfigRecord):
    """Sizes of ``SeqModel`` as ``train_seq.py`` builds it (defaults: the released model, 120-frame windows)."""

    seq_len: int = 120  # 4 s at 30 fps (args.py --full_seq_len)
    latent_dim: int = 512
    ff_size: int = 1024
    num_layers: int = 8
    num_heads: int = 8
    dropout: float = 0.1
    cond_feature_dim: int = 35  # the librosa "baseline" music features

    @property
    def nfeats(self) -> int:
        return BODY_FEATS + HAND_FEATS

    def decoder(self, part: str) -> EdgeConfig:
        """The ``EdgeConfig`` of ``body_net`` or ``hand_net``."""
        nfeats, cond = (BODY_FEATS, self.cond_feature_dim) if part == "body" else (HAND_FEATS, BODY_FEATS + self.cond_feature_dim)
        return EdgeConfig(nfeats=nfeats, seq_len=self.seq_len, latent_dim=self.latent_dim, ff_size=self.ff_size,
                          num_layers=self.num_layers, num_heads=self.num_heads, dropout=self.dropout, cond_feature_dim=cond)

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], *, num_heads: int = 8, source: str = "state dict") -> "FineNetConfig":
        """Sizes read from a ``SeqModel`` state dict's shapes (pass the head count when not 8)."""
        parts = {}
        for part in ("body", "hand"):
            prefix = f"network.{part}_net."
            sub = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            if not sub:
                raise DataFormatError(f"{source}: `{prefix}*`: expected FineDance SeqModel entries, found none")
            parts[part] = EdgeConfig.from_state_dict(sub, num_heads=num_heads, source=source)
        body = parts["body"]
        cfg = cls(seq_len=body.seq_len, latent_dim=body.latent_dim, ff_size=body.ff_size, num_layers=body.num_layers,
                  num_heads=num_heads, cond_feature_dim=body.cond_feature_dim)
        for part, found in parts.items():
            want = cfg.decoder(part)
            if found != want:
                raise DataFormatError(f"{source}: `network.{part}_net`: expected a decoder of sizes {want.to_dict()}, found {found.to_dict()}")
        return cfg


class FineNet(nn.Module):
    """The official ``SeqModel``: x0 prediction (B, T, 319) from x_t (B, T, 319), music (B, seq_len, 35), t (B,) int and
    keep (B,) bool."""

    def __init__(self, cfg: FineNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or FineNetConfig()
        self.network = nn.ModuleDict({"body_net": EdgeDanceDecoder(cfg.decoder("body")), "hand_net": EdgeDanceDecoder(cfg.decoder("hand"))})

    def forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, keep: torch.Tensor) -> torch.Tensor:
        """``keep`` as :meth:`EdgeDanceDecoder.forward` (all True: ``cond_drop_prob=0``; all False: ``cond_drop_prob=1``)."""
        if x.ndim != 3 or x.shape[-1] != self.cfg.nfeats:
            raise ValidationError("x", f"shape (B, T, {self.cfg.nfeats})", str(tuple(x.shape)))
        body = self.network["body_net"](x[..., :BODY_FEATS], cond, times, keep=keep)
        hand = self.network["hand_net"](x[..., BODY_FEATS:], torch.cat([body, cond], dim=-1), times, keep=keep)
        return torch.cat([body, hand], dim=-1)

    def guided_forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, weight: float) -> torch.Tensor:
        """Classifier-free guidance as released: uncond + (cond − uncond)·weight (weight 0: unconditional)."""
        B = x.shape[0]
        unc = self(x, cond, times, keep=torch.zeros(B, dtype=torch.bool, device=x.device))
        conditioned = self(x, cond, times, keep=torch.ones(B, dtype=torch.bool, device=x.device))
        return unc + (conditioned - unc) * weight
