"""EDGE's ``DanceDecoder`` exactly as released (Stanford-TML/EDGE ``model/model.py`` @ 17c3428): the official module
tree and parameter/buffer names, so that a released ``checkpoint.pt`` state dict loads with ``strict=True`` and no
key map.

* positions: a rotary embedding (``rotary.freqs``, one module shared by every layer, so its buffer appears under each
  layer's prefix too) applied to the **inputs** of the q and k projections of every self- and cross-attention (the
  values are not rotated); with ``use_rotary=False`` an absolute sinusoidal encoding is added to x and to the music
  tokens instead (``abs_pos_encoding.pe``);
* time: sinusoid(d) → Linear(d, 4d) → Mish (``time_mlp``), then ``to_time_cond`` Linear(4d, d) → t and
  ``to_time_tokens`` Linear(4d, 2d) → 2 time tokens;
* music: ``cond_projection`` Linear(C, d) → 2 pre-norm Transformer encoder layers (``cond_encoder``) → tokens, replaced
  by ``null_cond_embed`` (1, seq_len, d) where the condition is dropped; their mean goes through
  ``non_attn_cond_projection`` (LN → Linear → SiLU → Linear), replaced by ``null_cond_hidden`` where dropped, and is
  added to t; cross-attention memory = ``norm_cond([music tokens; time tokens])``;
* ``seqTransDecoder.stack``: pre-norm layers x + FiLM_t(SelfAttn(LN x)), x + FiLM_t(CrossAttn(LN x, memory)),
  x + FiLM_t(FFN(LN x)) (GELU), each FiLM = Mish → Linear(d, 2d) on t, (1 + scale)·h + shift;
* ``final_layer`` Linear(d, nfeats), no final norm; the network predicts x0.

The released model is ``EdgeConfig()`` (Jukebox features, 4800-d) or ``EdgeConfig(cond_feature_dim=35)`` (the
"baseline" librosa features). Modules are created in the original order, so ``torch.manual_seed(s)`` then
``EdgeDanceDecoder(cfg)`` gives the original's initial weights too. Only the ``norm_first=True`` branch exists here:
EDGE never builds the other one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from macedance.errors import DataFormatError, ValidationError
from macedance.models.official.mace import DenseFiLM, SinusoidalPosEmb, featurewise_affine
from macedance.presets import ConfigRecord


@dataclass(frozen=True)
class EdgeConfig(ConfigRecord):
    """Sizes of the official ``DanceDecoder`` as ``EDGE.py`` builds it (defaults: the released Jukebox model)."""

    nfeats: int = 151
    seq_len: int = 150  # 5 s at 30 fps; the length of null_cond_embed, hence of the music window
    latent_dim: int = 512
    ff_size: int = 1024
    num_layers: int = 8
    num_heads: int = 8
    dropout: float = 0.1
    cond_feature_dim: int = 4800  # 4800: Jukebox layer 66; 35: the "baseline" librosa features
    use_rotary: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_dim % self.num_heads or self.latent_dim % 2:
            raise ValidationError("EdgeConfig.latent_dim", f"an even multiple of num_heads={self.num_heads}", str(self.latent_dim))

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], *, num_heads: int = 8, source: str = "state dict") -> "EdgeConfig":
        """Sizes read from a state dict's shapes (the head count is not visible in shapes: pass it when not 8)."""
        def shape(key: str, ndim: int) -> tuple[int, ...]:
            if key not in sd:
                raise DataFormatError(f"{source}: `{key}`: expected an EDGE DanceDecoder entry, found no such entry")
            if sd[key].ndim != ndim:
                raise DataFormatError(f"{source}: `{key}`: expected a {ndim}-d tensor, found shape {tuple(sd[key].shape)}")
            return tuple(int(n) for n in sd[key].shape)

        latent, nfeats = shape("input_projection.weight", 2)
        layers = {k.split(".")[2] for k in sd if k.startswith("seqTransDecoder.stack.")}
        return cls(nfeats=nfeats, seq_len=shape("null_cond_embed", 3)[1], latent_dim=latent,
                   ff_size=shape("seqTransDecoder.stack.0.linear1.weight", 2)[0], num_layers=len(layers), num_heads=num_heads,
                   cond_feature_dim=shape("cond_projection.weight", 2)[1], use_rotary="rotary.freqs" in sd)


class RotaryEmbedding(nn.Module):
    """The part of ``rotary-embedding-torch`` (as vendored by EDGE) that EDGE uses: "lang" frequencies
    θ^(−2i/dim) for i < dim/2 (buffer ``freqs``, (dim/2,)), each used for one interleaved pair of features."""

    def __init__(self, dim: int, *, theta: float = 10000.0):
        super().__init__()
        self.register_buffer("freqs", 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim)))

    def rotate_queries_or_keys(self, t: torch.Tensor) -> torch.Tensor:
        """(…, T, dim) → same: pair (2i, 2i+1) at position n rotated by the angle n·freqs[i]."""
        freqs: torch.Tensor = self.freqs  # type: ignore[assignment]
        angles = torch.arange(t.shape[-2], device=t.device).type(freqs.dtype)[:, None] * freqs[None, :]
        angles = angles.repeat_interleave(2, dim=-1).to(t)  # (T, dim): f0 f0 f1 f1 …
        pairs = t.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)  # (x0, x1) → (−x1, x0)
        return t * angles.cos() + rotated * angles.sin()


class PositionalEncoding(nn.Module):
    """EDGE's absolute sinusoidal encoding (``use_rotary=False``): x + pe[:T], then dropout; buffer ``pe`` (max_len, 1, d)."""

    def __init__(self, d_model: int, dropout: float, *, max_len: int = 500):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) → same."""
        pe: torch.Tensor = self.pe  # type: ignore[assignment]
        return self.dropout(x + pe.permute(1, 0, 2)[:, : x.shape[1], :])


class _TimeTokens(nn.Module):
    """(B, r·d) → (B, r, d) (the original's einops ``Rearrange("b (r d) -> b r d", r=2)``)."""

    def __init__(self, tokens: int):
        super().__init__()
        self.tokens = tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.tokens, -1))


def _rotate(rotary: RotaryEmbedding | None, x: torch.Tensor) -> torch.Tensor:
    return x if rotary is None else rotary.rotate_queries_or_keys(x)


class TransformerEncoderLayer(nn.Module):
    """A pre-norm music encoder layer: x + SelfAttn(LN x) (q, k rotated), then x + FFN(LN x) (GELU); (B, T, d) → same."""

    def __init__(self, cfg: EdgeConfig, rotary: RotaryEmbedding | None):
        super().__init__()
        d = cfg.latent_dim
        self.self_attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.linear1 = nn.Linear(d, cfg.ff_size)
        self.dropout = nn.Dropout(cfg.dropout)
        self.linear2 = nn.Linear(cfg.ff_size, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)
        self.rotary = rotary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        qk = _rotate(self.rotary, h)
        x = x + self.dropout1(self.self_attn(qk, qk, h, need_weights=False)[0])
        return x + self.dropout2(self.linear2(self.dropout(F.gelu(self.linear1(self.norm2(x))))))


class FiLMTransformerDecoderLayer(nn.Module):
    """Pre-norm self-attention, cross-attention and FFN sublayers, each FiLM-modulated by t before its residual."""

    def __init__(self, cfg: EdgeConfig, rotary: RotaryEmbedding | None):
        super().__init__()
        d = cfg.latent_dim
        self.self_attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.linear1 = nn.Linear(d, cfg.ff_size)
        self.dropout = nn.Dropout(cfg.dropout)
        self.linear2 = nn.Linear(cfg.ff_size, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)
        self.dropout3 = nn.Dropout(cfg.dropout)
        self.film1 = DenseFiLM(d)
        self.film2 = DenseFiLM(d)
        self.film3 = DenseFiLM(d)
        self.rotary = rotary

    def forward(self, x: torch.Tensor, memory: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (B, T, d), memory (B, M, d), t (B, d) → (B, T, d)."""
        h = self.norm1(x)
        qk = _rotate(self.rotary, h)
        x = x + featurewise_affine(self.dropout1(self.self_attn(qk, qk, h, need_weights=False)[0]), self.film1(t))
        h = self.norm2(x)
        q, k = _rotate(self.rotary, h), _rotate(self.rotary, memory)
        x = x + featurewise_affine(self.dropout2(self.multihead_attn(q, k, memory, need_weights=False)[0]), self.film2(t))
        h = self.dropout3(self.linear2(self.dropout(F.gelu(self.linear1(self.norm3(x))))))
        return x + featurewise_affine(h, self.film3(t))


class DecoderLayerStack(nn.Module):
    def __init__(self, stack: nn.ModuleList):
        super().__init__()
        self.stack = stack

    def forward(self, x: torch.Tensor, cond: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        for layer in self.stack:
            x = layer(x, cond, t)
        return x


class EdgeDanceDecoder(nn.Module):
    """The official ``DanceDecoder``: x0 prediction from x_t (B, T, nfeats), music (B, seq_len, C), t (B,) int and
    keep (B,) bool."""

    def __init__(self, cfg: EdgeConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or EdgeConfig()
        d = cfg.latent_dim
        # registration order = the original's (state-dict order, optimizer parameter order, initialisation RNG order)
        self.rotary: RotaryEmbedding | None = RotaryEmbedding(d) if cfg.use_rotary else None
        self.abs_pos_encoding: nn.Module = nn.Identity() if cfg.use_rotary else PositionalEncoding(d, cfg.dropout)
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(d), nn.Linear(d, d * 4), nn.Mish())
        self.to_time_cond = nn.Sequential(nn.Linear(d * 4, d))
        self.to_time_tokens = nn.Sequential(nn.Linear(d * 4, d * 2), _TimeTokens(2))
        self.null_cond_embed = nn.Parameter(torch.randn(1, cfg.seq_len, d))
        self.null_cond_hidden = nn.Parameter(torch.randn(1, d))
        self.norm_cond = nn.LayerNorm(d)
        self.input_projection = nn.Linear(cfg.nfeats, d)
        self.cond_encoder = nn.Sequential(*(TransformerEncoderLayer(cfg, self.rotary) for _ in range(2)))
        self.cond_projection = nn.Linear(cfg.cond_feature_dim, d)
        self.non_attn_cond_projection = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.seqTransDecoder = DecoderLayerStack(nn.ModuleList(FiLMTransformerDecoderLayer(cfg, self.rotary)
                                                               for _ in range(cfg.num_layers)))
        self.final_layer = nn.Linear(d, cfg.nfeats)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, keep: torch.Tensor) -> torch.Tensor:
        """x (B, T, nfeats), cond (B, seq_len, C), times (B,) int, keep (B,) bool → x0 (B, T, nfeats).

        ``keep`` True uses the music, False the null embeddings: all True is the official ``cond_drop_prob=0``, all
        False ``cond_drop_prob=1`` (the official ``prob_mask_like`` draws no random numbers for those two).
        """
        B = x.shape[0]
        if cond.shape[:2] != (B, self.cfg.seq_len) or cond.shape[-1] != self.cfg.cond_feature_dim or cond.ndim != 3:
            raise ValidationError("cond", f"shape ({B}, {self.cfg.seq_len}, {self.cfg.cond_feature_dim})", str(tuple(cond.shape)))
        if times.shape != (B,) or keep.shape != (B,) or keep.dtype != torch.bool:
            raise ValidationError("times, keep", f"shape ({B},), keep of dtype bool",
                                  f"{tuple(times.shape)}, {tuple(keep.shape)} {keep.dtype}")
        x = self.abs_pos_encoding(self.input_projection(x))
        tokens = self.cond_encoder(self.abs_pos_encoding(self.cond_projection(cond)))
        tokens = torch.where(keep[:, None, None], tokens, self.null_cond_embed.to(tokens.dtype))
        cond_hidden = self.non_attn_cond_projection(tokens.mean(dim=-2))
        t_hidden = self.time_mlp(times)
        t = self.to_time_cond(t_hidden)
        t_tokens = self.to_time_tokens(t_hidden)
        t = t + torch.where(keep[:, None], cond_hidden, self.null_cond_hidden.to(t.dtype))
        memory = self.norm_cond(torch.cat((tokens, t_tokens), dim=-2))
        return self.final_layer(self.seqTransDecoder(x, memory, t))

    def guided_forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, weight: float) -> torch.Tensor:
        """Classifier-free guidance as released: uncond + (cond − uncond)·weight (weight 0: unconditional)."""
        B = x.shape[0]
        unc = self(x, cond, times, keep=torch.zeros(B, dtype=torch.bool, device=x.device))
        conditioned = self(x, cond, times, keep=torch.ones(B, dtype=torch.bool, device=x.device))
        return unc + (conditioned - unc) * weight
