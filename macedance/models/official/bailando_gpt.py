"""Bailando's choreographic memory GPT exactly as released (lisiyao21/Bailando ``models/cross_cond_gpt2_ac.py`` and
``cross_cond_gpt2.py`` @ cc90b98): the official module tree and parameter/buffer names (``gpt_base.tok_emb_up``,
``gpt_base.blocks.0.attn.mask``, ``gpt_head.head_up``, ``critic_net.…``), so the released
``experiments/actor_critic/ckpt/epoch_10.pt`` (or ``cc_motion_gpt/ckpt/epoch_400.pt``, no critic) loads once the
``module.`` prefix is stripped.

* Input of length 3t: [music (t steps, ``cond_emb`` Linear(438 → C)); up tokens (t); down tokens (t)] + learned
  positions (``pos_emb`` (1, 3·block_size, C), one block per stream).
* Attention: every stream attends causally to all three (the lower-triangular mask repeated 3 × 3), multi-head,
  scale 1/√(C/heads); pre-norm blocks x + Attn(LN x), x + MLP(LN x) (GELU, 4C).
* ``gpt_base`` (n_layer blocks) → ``gpt_head`` (n_layer blocks, ``ln_f``, ``head_up`` / ``head_down`` on the up and
  down thirds); ``critic_net`` (actor-critic only) is a head whose 1-d outputs are summed into a value.
* :meth:`CrossCondGPT2AC.sample` is greedy (top-1), so generation is deterministic; the context is the last
  ``block_size − 1`` (28) steps. Tokens are 8 motion frames (7.5 per second); music features are 438-d at 7.5 fps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from macedance.errors import DataFormatError, ValidationError
from macedance.models.official.bailando import BailandoCheckpoint, SepVQVAER, integrate_root
from macedance.presets import ConfigRecord

log = logging.getLogger(__name__)

DEMO_FIRST_TOKENS: tuple[int, int] = (423, 12)  # (up, down) seed of ``actor_critic.py`` in demo mode (no GT motion)


@dataclass(frozen=True)
class GPTPartConfig(ConfigRecord):
    """One of ``structure_generate.{base, head, critic_net}`` (defaults: the released base/head)."""

    vocab_size_up: int = 512
    vocab_size_down: int = 512
    block_size: int = 29
    n_layer: int = 6
    n_head: int = 12
    n_embd: int = 768
    n_music: int = 438  # base only


@dataclass(frozen=True)
class BailandoGPTConfig:
    """``structure_generate``: the base, the head and (actor-critic) the critic; ``critic=None``: ``CrossCondGPT2``."""

    base: GPTPartConfig = GPTPartConfig()
    head: GPTPartConfig = GPTPartConfig()
    critic: GPTPartConfig | None = GPTPartConfig(block_size=29, n_layer=3, vocab_size_up=1, vocab_size_down=1)
    block_size: int = 29

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BailandoGPTConfig:
        """From the yaml/EasyDict ``structure_generate`` mapping (dropout rates and other keys are ignored)."""
        def part(key: str) -> GPTPartConfig | None:
            sub = record.get(key)
            if sub is None:
                return None
            if not isinstance(sub, Mapping):
                raise DataFormatError(f"structure_generate.{key}: expected a mapping, found {type(sub).__name__}")
            return GPTPartConfig.from_dict(dict(sub))  # type: ignore[no-any-return]

        base, head = part("base"), part("head")
        if base is None or head is None:
            raise DataFormatError(f"structure_generate: expected `base` and `head`, found {sorted(map(str, record))}")
        return cls(base=base, head=head, critic=part("critic_net"), block_size=int(record.get("block_size", base.block_size)))


class CausalCrossConditionalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTPartConfig):
        super().__init__()
        c = cfg.n_embd
        self.key, self.query, self.value, self.proj = (nn.Linear(c, c) for _ in range(4))
        self.register_buffer("mask", torch.tril(torch.ones(cfg.block_size, cfg.block_size)).view(1, 1, cfg.block_size, cfg.block_size))
        self.n_head = cfg.n_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape  # n = 3t (music, up, down)
        k = self.key(x).view(b, n, self.n_head, c // self.n_head).transpose(1, 2)
        q = self.query(x).view(b, n, self.n_head, c // self.n_head).transpose(1, 2)
        v = self.value(x).view(b, n, self.n_head, c // self.n_head).transpose(1, 2)
        t = n // 3
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :t, :t].repeat(1, 1, 3, 3) == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, n, c))


class Block(nn.Module):
    def __init__(self, cfg: GPTPartConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = CausalCrossConditionalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CrossCondGPTBase(nn.Module):
    def __init__(self, cfg: GPTPartConfig):
        super().__init__()
        self.tok_emb_up = nn.Embedding(cfg.vocab_size_up, cfg.n_embd)
        self.tok_emb_down = nn.Embedding(cfg.vocab_size_down, cfg.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, cfg.block_size * 3, cfg.n_embd))
        self.cond_emb = nn.Linear(cfg.n_music, cfg.n_embd)
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.block_size = cfg.block_size

    def forward(self, idx_up: torch.Tensor, idx_down: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, t) up/down tokens and (B, t, 438) music → (B, 3t, C) features."""
        t, bs = idx_up.shape[1], self.block_size
        if t > bs or idx_down.shape[1] > bs:
            raise ValidationError("Bailando GPT input steps", f"at most block_size={bs}", str(max(t, idx_down.shape[1])))
        tok = torch.cat([self.cond_emb(cond), self.tok_emb_up(idx_up), self.tok_emb_down(idx_down)], dim=1)
        pos = torch.cat([self.pos_emb[:, :t], self.pos_emb[:, bs:bs + t], self.pos_emb[:, 2 * bs:2 * bs + t]], dim=1)
        return self.blocks(tok + pos)


class CrossCondGPTHead(nn.Module):
    def __init__(self, cfg: GPTPartConfig):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.block_size = cfg.block_size
        self.head_up = nn.Linear(cfg.n_embd, cfg.vocab_size_up, bias=False)
        self.head_down = nn.Linear(cfg.n_embd, cfg.vocab_size_down, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3t, C) → up and down logits, each (B, t, vocab)."""
        x = self.ln_f(self.blocks(x))
        t = x.shape[1] // 3
        return self.head_up(x[:, t:2 * t]), self.head_down(x[:, 2 * t:3 * t])


class CrossCondGPT2AC(nn.Module):
    """The released GPT: ``gpt_base`` → ``gpt_head`` (+ ``critic_net`` when the config has one)."""

    def __init__(self, cfg: BailandoGPTConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or BailandoGPTConfig()
        self.gpt_base = CrossCondGPTBase(cfg.base)
        self.gpt_head = CrossCondGPTHead(cfg.head)
        if cfg.critic is not None:
            self.critic_net = CrossCondGPTHead(cfg.critic)
        self.block_size = cfg.block_size

    def forward(self, up: torch.Tensor, down: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, t) up/down tokens, (B, t, 438) music → up and down next-token logits, each (B, t, vocab)."""
        return self.gpt_head(self.gpt_base(up, down, cond))

    def critic(self, up: torch.Tensor, down: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The critic's value of each state, (B, t, 1) (actor-critic checkpoints only)."""
        value_up, value_down = self.critic_net(self.gpt_base(up, down, cond))
        return value_up + value_down

    @torch.no_grad()
    def sample(self, up: torch.Tensor, down: torch.Tensor, *, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy generation (``sample`` with ``shift=None``): (B, t0) first tokens and (B, S, 438) music → (B, t0 + S)
        up and down tokens, one step per music step; the context is the last ``block_size − 1`` steps."""
        window = self.block_size - 1
        for k in range(cond.shape[1]):
            up_in = up if up.shape[1] <= window else up[:, -window:]
            down_in = down if down.shape[1] <= window else down[:, -window:]
            cond_in = cond[:, :k + 1] if k < window else cond[:, k - window + 1:k + 1]
            logit_up, logit_down = self(up_in, down_in, cond_in)
            # softmax then top-1, as the original (not argmax of the logits: equal after rounding must tie alike)
            _, ix_up = torch.topk(F.softmax(logit_up[:, -1], dim=-1), k=1, dim=-1)
            _, ix_down = torch.topk(F.softmax(logit_down[:, -1], dim=-1), k=1, dim=-1)
            up, down = torch.cat((up, ix_up), dim=1), torch.cat((down, ix_down), dim=1)
        return up, down


def load_bailando_gpt(ckpt: BailandoCheckpoint) -> CrossCondGPT2AC:
    """The GPT of a released ``actor_critic`` / ``cc_motion_gpt`` checkpoint, built from ``config.structure_generate``
    (``strict=True`` on the GPT's own entries)."""
    record = ckpt.config.get("structure_generate")
    if not isinstance(record, Mapping):
        raise DataFormatError(f"{ckpt.source}: `config.structure_generate`: expected the yaml section, found "
                              f"{type(record).__name__}")
    if any(k.startswith("music_trans.") for k in ckpt.state_dict):
        raise DataFormatError(f"{ckpt.source}: a Bailando++ GPT (it has a music_trans), not Bailando's CrossCondGPT2AC: use "
                              "bailandopp-official (weights import bailandopp-gpt)")
    model = CrossCondGPT2AC(BailandoGPTConfig.from_record(record))
    state = {k: v for k, v in ckpt.state_dict.items() if k.startswith(("gpt_base.", "gpt_head.", "critic_net."))}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataFormatError(f"{ckpt.source}: not a Bailando CrossCondGPT2AC state dict ({str(exc).splitlines()[0]})") from None
    log.info("loaded Bailando GPT from %s", ckpt.source)
    return model.eval()


@torch.no_grad()
def bailando_generate(vqvae: SepVQVAER, gpt: CrossCondGPT2AC, *, first_up: torch.Tensor, first_down: torch.Tensor,
                      music: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``actor_critic.py`` ``eval()``: (B, 1) first up/down tokens and (B, Tm, 438) music features at 7.5 fps →
    (up tokens, down tokens, positions (B, 8·Tm, 72) at 60 fps, root integrated). The first music step is dropped
    (``music_seq[:, 1:]``), so Tm steps give 1 + (Tm − 1) tokens per half."""
    n_music = gpt.cfg.base.n_music
    cond = music[:, :, :n_music].contiguous().float()[:, 1:]
    up, down = gpt.sample(first_up, first_down, cond=cond)
    return up, down, integrate_root(vqvae.decode(up, down))
