"""The Jukebox networks EDGE's released checkpoint reads its music through, exactly as ``jukemirlib`` runs them
(openai/jukebox as forked by rodrigo-castellon @ 6b44861; jukemirlib @ 98223a6): the official module trees and
parameter names, so the released ``vqvae.pth.tar`` and ``prior_level_2.pth.tar`` state dicts load with ``strict=True``
and no key map.

* :class:`~macedance.models.official.jukebox_vqvae.JukeboxVQVAE` — the VQ-VAE's encoders and bottleneck; only the
  top level (hop 128: 344.5 tokens/s at 44.1 kHz) is evaluated. The decoders of the released file are not built
  (nothing here decodes audio).
* :class:`JukeboxTopPrior` — the 5B top-level prior's label conditioner (``y_emb``) and its transformer (``prior``):
  72 ``ResAttnBlock`` s of width 4800, 8 heads, ``attn_order=2`` (block, transpose-block and previous-block
  attention in turn, blocks of 64 tokens). Only the first ``layers`` blocks are built: EDGE reads layer 66.

:func:`JukeboxTopPrior.activations` is ``jukemirlib.lib.get_activations_custom``: every block is called on the whole
sequence in the original's "sample" mode, which pads query, key and value to whole 64-token blocks and then runs the
training-mode attention — reproduced here op for op (the same ``addmm``/``matmul``/mask/softmax sequence), which is
what makes the features equal. Conv1D weights stay in the dtype they were stored in (the released prior keeps them in
float16) and are cast to the activations' float32 on use, as ``Conv1D.forward`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from macedance.errors import ValidationError
from macedance.models.official.jukebox_vqvae import JukeboxVQVAE, JukeboxVQVAEConfig
from macedance.presets import ConfigRecord

__all__ = ["JukeboxPriorConfig", "JukeboxTopPrior", "JukeboxVQVAE", "JukeboxVQVAEConfig", "fft_resample", "jukebox_features",
           "peak_normalised"]

SAMPLE_RATE = 44100  # JUKEBOX_SAMPLE_RATE
CTX_WINDOW_LENGTH = 1048576  # jukemirlib's DEFAULT_DURATION = 1048576 / 44100 s
MAX_SECONDS = 25  # jukemirlib's get_z keeps the first 25 s
CONDITION_SECONDS = 62  # jukemirlib's get_cond: "model only accepts sample length conditioning of >60 seconds"


@dataclass(frozen=True)
class JukeboxPriorConfig(ConfigRecord):
    """``hparams.prior_5b`` (with ``hparams.labels``): the released top-level prior."""

    n_ctx: int = 8192
    width: int = 4800
    depth: int = 72
    heads: int = 8
    blocks: int = 128
    m_attn: float = 0.25
    m_mlp: float = 1.0
    bins: int = 2048  # the VQ-VAE's l_bins
    y_bins: tuple[int, int] = (120, 4111)  # (genre words, artists)
    t_bins: int = 128
    max_bow_genre_size: int = 5
    min_duration: float = 60.0
    max_duration: float = 600.0

    @property
    def block_ctx(self) -> int:
        return self.n_ctx // self.blocks


# --- top prior (jukebox/transformer/{ops,factored_attention,transformer}.py, prior/{conditioners,autoregressive}.py) --

class Conv1D(nn.Module):
    """``x @ w + b`` with ``w`` of shape (n_in, n_out), cast to the input's dtype on use."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.n_out = n_out
        self.w = nn.Parameter(torch.empty(n_in, n_out))
        self.b = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size_out = (*x.size()[:-1], self.n_out)
        return torch.addmm(self.b.type_as(x), x.view(-1, x.size(-1)), self.w.type_as(x)).view(*size_out)


class LayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type_as(x)


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


class MLP(nn.Module):
    def __init__(self, n_in: int, n_state: int):
        super().__init__()
        self.c_fc = Conv1D(n_in, n_state)
        self.c_proj = Conv1D(n_state, n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(quick_gelu(self.c_fc(x)))


AttnFunc = int  # 1: block, 2: transpose block, 3: previous block (attn_order 2 cycles through them)


class FactoredAttention(nn.Module):
    def __init__(self, n_in: int, n_state: int, n_head: int, attn_func: AttnFunc, block_ctx: int):
        super().__init__()
        self.n_state, self.n_head, self.attn_func, self.block_ctx = n_state, n_head, attn_func, block_ctx
        self.c_attn = Conv1D(n_in, n_state * 3)
        self.c_proj = Conv1D(n_state, n_in)

    def _heads(self, x: torch.Tensor, k: bool = False) -> torch.Tensor:
        x = x.view(*x.size()[:-1], self.n_head, x.size(-1) // self.n_head)
        return x.permute(0, 2, 3, 1) if k else x.permute(0, 2, 1, 3)

    def _dense(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, masked: bool) -> torch.Tensor:
        """``dense_attn`` + ``_attn`` in eval mode (``mask=True`` for block and transpose-block attention)."""
        q, k, v = self._heads(q), self._heads(k, k=True), self._heads(v)
        scale = 1.0 / math.sqrt(math.sqrt(self.n_state // self.n_head))
        w = torch.matmul(q, k)
        w.mul_(scale * scale)
        wtype = w.dtype
        w = w.float()
        q_l, kv_l = q.size(-2), k.size(-1)
        if masked and q_l != 1:  # get_mask(..., sample=False): tril with offset max(kv_l - q_l, 0)
            mask = torch.ones(q_l, kv_l, device=w.device).tril(max(kv_l - q_l, 0)).view(1, 1, q_l, kv_l)
            w = w * mask + -1e9 * (1 - mask)
        w = F.softmax(w, dim=-1).type(wtype)
        a = torch.matmul(w, v)
        a = a.permute(0, 2, 1, 3).contiguous()
        return a.view(*a.size()[:-2], a.size(-2) * a.size(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, n_in) → (N, L, n_in): the whole sequence at once, as ``forward(x, sample=True)`` on empty caches."""
        curr_ctx = x.shape[1]
        query, key, value = self.c_attn(x).chunk(3, dim=2)
        bc = self.block_ctx
        pad = (curr_ctx + bc - 1) // bc * bc - curr_ctx  # _pad_to_block_ctx (offset 0 on an empty cache)
        if pad:
            query, key, value = (F.pad(t, (0, 0, 0, pad)) for t in (query, key, value))
        bs, length, d = value.shape
        nb = length // bc
        if self.attn_func == 1:  # block_attn
            a = self._dense(query.view(bs * nb, bc, d), key.view(bs * nb, bc, d), value.view(bs * nb, bc, d), True).view(bs, length, d)
        elif self.attn_func == 2:  # transpose_block_attn
            q, k, v = (t.view(bs, nb, bc, d).transpose(1, 2).contiguous().view(bs * bc, nb, d) for t in (query, key, value))
            a = self._dense(q, k, v, True).view(bs, bc, nb, d).transpose(1, 2).contiguous().view(bs, length, d)
        elif self.attn_func == 3:  # prev_block_attn: no mask
            q = query.view(bs * nb, bc, d)
            k, v = (F.pad(t.view(bs, nb, bc, d)[:, :-1, :, :], (0, 0, 0, 0, 1, 0)).view(bs * nb, bc, d) for t in (key, value))
            a = self._dense(q, k, v, False).view(bs, length, d)
        else:
            raise ValidationError("attn_func", "1, 2 or 3 (attn_order 2)", str(self.attn_func))
        if a.shape[1] != curr_ctx:
            a = a[:, :curr_ctx, :].contiguous()
        return self.c_proj(a)


class ResAttnBlock(nn.Module):
    def __init__(self, cfg: JukeboxPriorConfig, attn_func: AttnFunc):
        super().__init__()
        self.attn = FactoredAttention(cfg.width, int(cfg.m_attn * cfg.width), cfg.heads, attn_func, cfg.block_ctx)
        self.ln_0 = LayerNorm(cfg.width)
        self.mlp = MLP(cfg.width, int(cfg.m_mlp * cfg.width))
        self.ln_1 = LayerNorm(cfg.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.ln_0(x))
        m = self.mlp(self.ln_1(x + a))
        return x + a + m


class Transformer(nn.Module):
    def __init__(self, cfg: JukeboxPriorConfig, layers: int):
        super().__init__()
        self._attn_mods = nn.ModuleList(ResAttnBlock(cfg, [1, 2, 3][d % 3]) for d in range(layers))


class PositionEmbedding(nn.Module):
    def __init__(self, n_ctx: int, width: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.empty(n_ctx, width))


class ConditionalAutoregressive2D(nn.Module):
    """The prior's embeddings and transformer (``only_encode``: ``x_out`` is not built)."""

    def __init__(self, cfg: JukeboxPriorConfig, layers: int):
        super().__init__()
        self.x_emb = nn.Embedding(cfg.bins, cfg.width)
        self.pos_emb = PositionEmbedding(cfg.n_ctx, cfg.width)
        self.transformer = Transformer(cfg, layers)


class SimpleEmbedding(nn.Module):
    def __init__(self, bins: int, width: int):
        super().__init__()
        self.emb = nn.Embedding(bins, width)


class RangeEmbedding(nn.Module):
    """Position ``pos_start … pos_end`` interpolated over ``n_time`` steps, binned in ``[pos_min, pos_max)``."""

    def __init__(self, n_time: int, bins: int, pos_range: tuple[float, float], width: int, clamp: bool = False):
        super().__init__()
        self.n_time, self.bins, self.clamp = n_time, bins, clamp
        self.pos_min, self.pos_max = pos_range
        self.emb = nn.Embedding(bins, width)

    def forward(self, pos_start: torch.Tensor, pos_end: torch.Tensor | None = None) -> torch.Tensor:
        pos_start = pos_start.float()
        if pos_end is not None:
            if self.clamp:
                pos_end = pos_end.clamp(self.pos_min, self.pos_max)
            pos_end = pos_end.float()
        if self.n_time != 1:
            assert pos_end is not None
            interpolation = torch.arange(0, self.n_time, dtype=torch.float, device=pos_start.device).view(1, self.n_time) / self.n_time
            position = pos_start + (pos_end - pos_start) * interpolation
        else:
            position = pos_start
        normalised = (position - self.pos_min) / (self.pos_max - self.pos_min)
        return self.emb((self.bins * normalised).floor().long())


class LabelConditioner(nn.Module):
    """Artist, genre and timing embeddings of the top level (``include_time_signal``)."""

    def __init__(self, cfg: JukeboxPriorConfig):
        super().__init__()
        genre_bins, artist_bins = cfg.y_bins
        sr, width = SAMPLE_RATE, cfg.width
        self.max_bow_genre_size = cfg.max_bow_genre_size
        self.bow_genre_emb = SimpleEmbedding(genre_bins, width)
        self.artist_emb = SimpleEmbedding(artist_bins, width)
        self.total_length_emb = RangeEmbedding(1, cfg.t_bins, (cfg.min_duration * sr, cfg.max_duration * sr), width)
        self.absolute_pos_emb = RangeEmbedding(cfg.n_ctx, cfg.t_bins, (0.0, cfg.max_duration * sr), width)
        self.relative_pos_emb = RangeEmbedding(cfg.n_ctx, cfg.t_bins, (0.0, 1.0), width, clamp=True)

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 4 + genre words) labels ``[total_length, offset, length, artist, *genres]`` → start (N, 1, W) and
        position (N, n_ctx, W) embeddings."""
        total_length, offset, length, artist, genre = y[:, 0:1], y[:, 1:2], y[:, 2:3], y[:, 3:4], y[:, 4:]
        artist_emb = self.artist_emb.emb(artist)
        mask = (genre >= 0).float().unsqueeze(2)
        genre_emb = (self.bow_genre_emb.emb(genre.clamp(0)) * mask).sum(dim=1, keepdim=True)
        start_emb = genre_emb + artist_emb
        start, end = offset, offset + length
        total_length, start, end = total_length.float(), start.float(), end.float()
        pos_emb = (self.total_length_emb(total_length) + self.absolute_pos_emb(start, end)
                   + self.relative_pos_emb(start / total_length, end / total_length))
        return start_emb, pos_emb


class JukeboxTopPrior(nn.Module):
    """The released 5B top-level prior up to block ``layers`` (its ``y_emb`` and ``prior`` trees)."""

    def __init__(self, cfg: JukeboxPriorConfig | None = None, *, layers: int | None = None, hop: int = 128):
        super().__init__()
        self.cfg = cfg = cfg or JukeboxPriorConfig()
        self.layers = cfg.depth if layers is None else layers
        if not 1 <= self.layers <= cfg.depth:
            raise ValidationError("layers", f"1..{cfg.depth}", str(self.layers))
        self.hop = hop
        self.y_emb = LabelConditioner(cfg)
        self.prior = ConditionalAutoregressive2D(cfg, self.layers)

    def labels(self) -> torch.Tensor:
        """jukemirlib's fixed conditioning: artist and genre ``unknown`` (id 0), a 62-s song, offset 0, and the
        level's sample length (``get_cond`` + ``SimplePrior.get_y``): (1, 4 + max_bow_genre_size) int64."""
        total = int(CONDITION_SECONDS * SAMPLE_RATE) // self.hop * self.hop
        genres = [0] + [-1] * (self.cfg.max_bow_genre_size - 1)
        return torch.tensor([[total, 0, self.cfg.n_ctx * self.hop, 0, *genres]], dtype=torch.int64)

    @torch.no_grad()
    def activations(self, tokens: torch.Tensor, *, progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """(1, L) top-level tokens (L ≤ n_ctx) → (L, width) float32 output of block ``layers`` (1-based), as
        ``get_activations_custom(z, x_cond, y_cond, layers_to_extract=[layers])``."""
        cfg, dev = self.cfg, self.prior.x_emb.weight.device
        x = tokens[:, : cfg.n_ctx].long().to(dev)
        n, length = x.shape
        y_cond, x_cond = self.y_emb(self.labels().to(dev))
        x_cond = x_cond[:, :length]
        h = self.prior.x_emb(x)
        h = torch.cat((h[:, -1:], h[:, :-1]), dim=1)  # roll by 1: the start token goes first
        h[:, 0] = y_cond.view(n, cfg.width)
        h = h + self.prior.pos_emb.pos_emb[:length] + x_cond
        blocks = self.prior.transformer._attn_mods
        for i, block in enumerate(blocks):
            h = block(h)
            if progress is not None:
                progress(i + 1, len(blocks))
        return h.squeeze(0).float()


def fft_resample(reps: np.ndarray, *, target_fps: float) -> np.ndarray:
    """(L, C) token-rate features (``CTX_WINDOW_LENGTH`` samples per 8192 tokens, i.e. 344.53 Hz) → target frame rate,
    as jukemirlib's ``downsample(method="librosa_fft")``: ``librosa.resample(res_type="fft")`` along time."""
    import librosa

    duration = CTX_WINDOW_LENGTH / SAMPLE_RATE  # DEFAULT_DURATION
    rate = 8192 / duration  # jukemirlib's VQVAE_RATE: 344.53125 tokens/s
    out = librosa.resample(np.asfortranarray(reps.T), orig_sr=rate, target_sr=target_fps, res_type="fft").T
    return np.asarray(out, dtype=np.float32)


def peak_normalised(samples: np.ndarray) -> np.ndarray:
    """``jukemirlib.load_audio``'s normalisation: divide by the largest magnitude (silence stays as it is)."""
    audio = np.array(samples, dtype=np.float32)
    norm = np.abs(audio).max() if audio.size else 0
    if norm > 0:
        audio /= norm
    return audio


@torch.no_grad()
def jukebox_features(samples: np.ndarray, *, vqvae: JukeboxVQVAE, prior: JukeboxTopPrior, fps: float = 30.0,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(samples,) mono audio at 44.1 kHz → (frames, width) features of prior block ``prior.layers`` at ``fps``:
    ``jukemirlib.extract(load_audio(...), layers=[prior.layers], downsample_target_rate=fps)`` — peak
    normalisation, the first 25 s, top-level tokens, the block's activations, FFT resampling to ``fps``."""
    audio = peak_normalised(samples)[: SAMPLE_RATE * MAX_SECONDS]
    dev = next(vqvae.parameters()).device
    tokens = vqvae.encode_top(torch.from_numpy(audio[None]).to(dev))
    reps = prior.activations(tokens, progress=progress).cpu().numpy()
    return fft_resample(reps, target_fps=fps)
