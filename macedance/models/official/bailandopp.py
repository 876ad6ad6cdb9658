"""Bailando++ (TPAMI 2023) exactly as released: lisiyao21/Bailando ``tpami_bailandopp/models/{sep_vqvae_root_mix,
vqvae_mix,vqvae_root_mix,cross_cond_gpt2_music_window,cross_cond_gpt2_music_window_ac}.py`` @ cc90b98, with the
official module tree and parameter/buffer names (``vqvae_up.decoders_rot.0…``, ``vqvae_down.decoders_root.0…``,
``music_trans.blocks.0.attn.mask``, ``gpt_base…``, ``critic_net…``), so the released
``experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt`` (``SepVQVAERmix``) and ``experiments/actor_critic/ckpt/
epoch_10.pt`` (``CrossCondGPT2MWAC``; ``cc_gpt_music_trans/ckpt/epoch_400.pt``: ``CrossCondGPT2MW``, no critic) load
once the ``module.`` prefix is stripped. What the ++ code shares with Bailando byte for byte (``encdec``, ``resnet``,
``bottleneck``; the GPT's base, head and critic) is imported from :mod:`~macedance.models.official.bailando` and
:mod:`~macedance.models.official.bailando_gpt`.

* VQ-VAE input (encoder, Bailando's, frozen while the ++ decoders were trained): 24 SMPL joint positions (72 channels,
  metres, y-up) at 60 fps, root-relative with the root first (zeroed before encoding); 8 frames per token.
* VQ-VAE output: per half, ``decoders_rot`` gives a 3×3 rotation matrix per joint (9 channels, row-major, raw network
  output, not orthonormalised; :data:`SMPL_UP` 15 joints, :data:`SMPL_DOWN` 9) scattered into SMPL joint order; the
  lower half's ``decoders_root`` gives the root **velocity** (translation per 60-fps frame, metres, AIST++
  ``smpl_trans / smpl_scaling``, y-up). :meth:`SepVQVAERmix.decode`: ``[velocity (3), 24 × 9]`` = 219 channels. The
  position decoders ``decoders`` are in the file but never run by the ++ code.
* Music input (``actor_critic_music_trans_400_mix_rotmat.yaml``: ``external_wav ../data/aistpp_music_feat_60fps``,
  ``n_music 55``, ``external_wav_rate`` = ``music_ds_rate`` = ``music_relative_rate`` = 1, ``wav_padding 5``):
  Bailando's ``_prepro_aistpp_music.py --sampling_rate 30720`` (+ ``extractor.py``), i.e. the macedance music preset
  ``bailando`` (60 fps, hop 512), of which the model reads the first **55** of 438 columns: 0–19 MFCC of the dB mel
  spectrogram, 20–39 ΔMFCC (width 3), 40–51 chroma_cqt of the HPSS harmonic part (7 octaves), 52 the onset envelope of
  the percussive part (median over mel bands), 53 beats (one-hot, ``beat_track`` on it), 54 the tempogram's lag-0 row
  (≈ 1 everywhere under its per-frame max normalisation). ``load_test_data_aist`` adds 40 zero rows before, a copy of
  the last row and 40 zero rows after (:func:`pad_music`); ``eval()`` drops the first 8 rows.
* ``music_trans``: Linear(55 → C) per frame (its ``pos_emb`` is never added), ``n_layer`` pre-norm blocks whose
  attention is banded, not causal (frame i sees |i − j| ≤ 40 = ``window_size // 2`` tokens × ``downsample_rate`` 8),
  then the 40 context frames at each end are cut and each 8 frames concatenated → Linear(8C → C): one music step per
  motion token, the ``cond`` of Bailando's GPT. :meth:`CrossCondGPT2MWAC.sample` (greedy, ``shift=None``) feeds the
  last ≤ 28 tokens and their frames ±40; token j is predicted from the 8 frames of token j + 1 (rows 8(j + 1) …).
* :func:`bailandopp_generate` returns what ``eval()`` holds before writing files: root translation integrated from
  the velocity (``global_vel``; :func:`integrate_root`) + the 24 raw matrices, 60 fps, y-up. ``visualizeAndWrite``
  then writes ``smpl_poses`` = axis-angle of the SVD-closest rotation of each matrix (``get_closest_rotmat`` + scipy
  ``as_rotvec``, as :func:`macedance.io.motion_layouts.closest_rotations`), ``smpl_trans`` = the root.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from macedance.errors import DataFormatError, ValidationError
from macedance.models.official.bailando import (
    SMPL_DOWN,
    SMPL_UP,
    VQVAE,
    BailandoCheckpoint,
    BailandoVQVAEConfig,
    Bottleneck,
    Decoder,
    Encoder,
    SepVQVAER,
    _structure,
    integrate_root,
)
from macedance.models.official.bailando_gpt import (
    DEMO_FIRST_TOKENS,
    BailandoGPTConfig,
    Block,
    CausalCrossConditionalSelfAttention,
    CrossCondGPTBase,
    CrossCondGPTHead,
    GPTPartConfig,
)
from macedance.models.official.jukebox_vqvae import BottleneckBlock
from macedance.presets import ConfigRecord

log = logging.getLogger(__name__)

__all__ = ["DEMO_FIRST_TOKENS", "BailandoppGPTConfig", "BailandoppVQVAEConfig", "CrossCondGPT2MWAC", "MusicTransConfig",
           "SepVQVAERmix", "VQVAEmix", "bailandopp_generate", "integrate_root", "load_bailandopp_gpt", "load_bailandopp_vqvae",
           "load_strict", "pad_music"]


@dataclass(frozen=True)
class BailandoppVQVAEConfig:
    """``structure`` of ``sep_vqvae_root_mix_full_again.yaml`` (the released sizes by default)."""

    up: BailandoVQVAEConfig = field(default_factory=BailandoVQVAEConfig)
    down: BailandoVQVAEConfig = field(default_factory=BailandoVQVAEConfig)
    joint_channel: int = 3  # channels per joint of the encoder input (positions)
    rot_channel: int = 9  # channels per joint of the decoder output (a 3×3 matrix)

    @classmethod
    def from_record(cls, structure: Mapping[str, Any], *, source: str = "structure") -> BailandoppVQVAEConfig:
        """From the yaml/EasyDict ``structure`` mapping; ``use_6d_rotation: True`` (never released) is refused."""
        if structure.get("use_6d_rotation"):
            raise DataFormatError(f"{source}: `use_6d_rotation: True` is not supported (the released configs use 3×3 matrices)")
        if int(structure.get("rot_channel", 9)) != 9:
            raise DataFormatError(f"{source}: `rot_channel`: expected 9 (3×3 matrices), found {structure.get('rot_channel')!r}")
        halves = [BailandoVQVAEConfig.from_record(_structure(structure, key, source)) for key in ("up_half", "down_half")]
        return cls(up=halves[0], down=halves[1], joint_channel=int(structure.get("joint_channel", 3)))


class VQVAEmix(VQVAE):
    """One half (``models/vqvae_mix.py``; ``root=True``: ``models/vqvae_root_mix.py``): Bailando's encoder, codebook
    and position decoder, plus ``decoders_rot`` (and ``decoders_root``, the root velocity). :meth:`encode` is Bailando's."""

    def __init__(self, cfg: BailandoVQVAEConfig, channels: int, rot_channels: int, *, root: bool = False):
        nn.Module.__init__(self)  # not VQVAE.__init__: the released order puts decoders_rot before decoders_root
        self.cfg, self.root = cfg, root
        levels = range(cfg.levels)
        self.encoders = nn.ModuleList(Encoder(channels, cfg, lv + 1) for lv in levels)
        self.decoders = nn.ModuleList(Decoder(channels, cfg, lv + 1) for lv in levels)
        self.decoders_rot = nn.ModuleList(Decoder(rot_channels, cfg, lv + 1) for lv in levels)
        if root:
            self.decoders_root = nn.ModuleList(Decoder(cfg.joint_channel, cfg, lv + 1) for lv in levels)
        self.bottleneck = Bottleneck(cfg)

    def decode_rot(self, z: torch.Tensor, *, level: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, T') tokens → rotations (N, 8·T', joints · 9) and, for the root half, the root velocity (N, 8·T', 3)."""
        xq = cast(BottleneckBlock, self.bottleneck.level_blocks[level]).decode(z)
        rot = self.decoders_rot[level](xq).permute(0, 2, 1)
        vel = self.decoders_root[level](xq).permute(0, 2, 1) if self.root else None
        return rot, vel


class SepVQVAERmix(SepVQVAER):
    """The released ++ tokenizer: ``vqvae_up`` (15 joints) and ``vqvae_down`` (9 joints, root velocity); encodes
    positions as Bailando's :class:`SepVQVAER` (:meth:`encode`, inherited), decodes rotation matrices."""

    vqvae_up: VQVAEmix
    vqvae_down: VQVAEmix

    def __init__(self, cfg: BailandoppVQVAEConfig | None = None):
        nn.Module.__init__(self)  # not SepVQVAER.__init__: other halves
        self.cfg = cfg = cfg or BailandoppVQVAEConfig()
        self.chanel_num, self.chanel_num_rot = cfg.joint_channel, cfg.rot_channel  # sic
        self.vqvae_up = VQVAEmix(cfg.up, len(SMPL_UP) * cfg.joint_channel, len(SMPL_UP) * cfg.rot_channel)
        self.vqvae_down = VQVAEmix(cfg.down, len(SMPL_DOWN) * cfg.joint_channel, len(SMPL_DOWN) * cfg.rot_channel, root=True)

    @torch.no_grad()
    def decode(self, up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
        """(B, T') up and down tokens → (B, 8·T', 219): root velocity (3, per frame), then joint j's 3×3 matrix
        (row-major) at channels 3 + 9j … 11 + 9j in SMPL order."""
        if up.ndim != 2 or up.shape != down.shape:
            raise ValidationError("Bailando++ tokens", "up and down of the same shape (B, T')",
                                  f"{tuple(up.shape)} and {tuple(down.shape)}")
        xup, _ = self.vqvae_up.decode_rot(up)
        xdown, vel = self.vqvae_down.decode_rot(down)
        assert vel is not None  # the down half has decoders_root
        b, t, _ = xup.shape
        ch = self.chanel_num_rot
        x = torch.zeros(b, t, len(SMPL_UP) + len(SMPL_DOWN), ch, dtype=xup.dtype, device=xup.device)
        x[:, :, list(SMPL_UP)] = xup.reshape(b, t, -1, ch)
        x[:, :, list(SMPL_DOWN)] = xdown.reshape(b, t, -1, ch)
        return torch.cat([vel, x.view(b, t, -1)], dim=2)


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str, what: str) -> nn.Module:
    """``model`` with ``state`` (``strict=True``), in eval mode; a mismatch is a one-line DataFormatError naming
    ``source`` and the first missing / unexpected / differently shaped entry."""
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    extra = [k for k in state if k not in ours]
    resized = [k for k in ours if k in state and tuple(state[k].shape) != tuple(ours[k].shape)]
    problems = [f"{label} {len(keys)} entries, e.g. {keys[0]}" for label, keys in (("missing", missing), ("unexpected", extra)) if keys]
    problems += [f"size mismatch for {k}: file {tuple(state[k].shape)}, model {tuple(ours[k].shape)}" for k in resized[:1]]
    if problems:
        raise DataFormatError(f"{source}: not {what} state dict ({'; '.join(problems)})")
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_bailandopp_vqvae(ckpt: BailandoCheckpoint) -> SepVQVAERmix:
    """The ``SepVQVAERmix`` of a released ``sep_vqvae_root_mix`` checkpoint (read with
    :func:`~macedance.models.official.bailando.read_bailando_checkpoint`), built from its ``config.structure``,
    ``strict=True`` on the ``vqvae_up.`` / ``vqvae_down.`` entries; a mismatch is a one-line DataFormatError."""
    cfg = BailandoppVQVAEConfig.from_record(_structure(ckpt.config, "structure", ckpt.source), source=ckpt.source)
    model = SepVQVAERmix(cfg)
    state = {k: v for k, v in ckpt.state_dict.items() if k.startswith(("vqvae_up.", "vqvae_down."))}
    load_strict(model, state, source=ckpt.source, what="a Bailando++ SepVQVAERmix")
    log.info("loaded Bailando++ VQ-VAE from %s", ckpt.source)
    return model


@dataclass(frozen=True)
class MusicTransConfig(ConfigRecord):
    """``structure_generate.music_trans`` (the released sizes by default; dropout rates are ignored)."""

    window_size: int = 11  # tokens of music context: ± window_size // 2 around each token
    n_music: int = 55
    n_layer: int = 3
    n_embd: int = 768
    n_head: int = 12
    downsample_rate: int = 8  # music frames per token (60 fps → 7.5)
    block_size: int = 29

    @property
    def pad(self) -> int:
        """Context frames at each end of the music input (40 as released)."""
        return self.window_size // 2 * self.downsample_rate

    @property
    def max_frames(self) -> int:
        """Longest music input, (block_size + 2 · window_size // 2) · downsample_rate frames (312 as released)."""
        return (self.block_size + self.window_size // 2 * 2) * self.downsample_rate


@dataclass(frozen=True)
class BailandoppGPTConfig:
    """``structure_generate``: ``music_trans`` and Bailando's base/head/critic (base ``n_music`` = C, music_trans's output)."""

    music_trans: MusicTransConfig = field(default_factory=MusicTransConfig)
    gpt: BailandoGPTConfig = field(default_factory=lambda: BailandoGPTConfig(base=GPTPartConfig(n_music=768)))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BailandoppGPTConfig:
        """From the yaml/EasyDict ``structure_generate`` mapping (no ``critic_net``: ``CrossCondGPT2MW``)."""
        music = record.get("music_trans")
        if not isinstance(music, Mapping):
            raise DataFormatError(f"structure_generate.music_trans: expected a mapping, found {type(music).__name__}")
        return cls(music_trans=MusicTransConfig.from_dict(dict(music)), gpt=BailandoGPTConfig.from_record(record))


def _band_mask(cfg: MusicTransConfig) -> torch.Tensor:
    """``get_subsequent_mask``: (1, 1, F, F) float, 1 where |i − j| ≤ pad frames."""
    ones = torch.ones(cfg.max_frames, cfg.max_frames)
    return torch.tril(torch.triu(ones, diagonal=-cfg.pad), diagonal=cfg.pad)[None, None]


class MaskAttention(CausalCrossConditionalSelfAttention):
    """Multi-head self-attention over music frames, banded (``mask`` (1, 1, F, F)), not split into streams."""

    mask: torch.Tensor

    def __init__(self, cfg: MusicTransConfig):
        super().__init__(GPTPartConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, block_size=1))
        self.register_buffer("mask", _band_mask(cfg))  # replaces the stream mask, same place in the state dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        k, q, v = (lin(x).view(b, n, self.n_head, c // self.n_head).transpose(1, 2) for lin in (self.key, self.query, self.value))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :n, :n] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, n, c))


class MusicBlock(Block):
    def __init__(self, cfg: MusicTransConfig):
        super().__init__(GPTPartConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, block_size=1))
        self.attn = MaskAttention(cfg)


class MusicTrans(nn.Module):
    """(B, F, 55) music frames (F = 8t + 80) → (B, t, C), one step per motion token."""

    def __init__(self, cfg: MusicTransConfig):
        super().__init__()
        self.cfg = cfg
        self.pos_emb = nn.Parameter(torch.zeros(1, cfg.max_frames, cfg.n_embd))  # in the file, unused by forward
        self.cond_emb = nn.Linear(cfg.n_music, cfg.n_embd)
        self.blocks = nn.Sequential(*[MusicBlock(cfg) for _ in range(cfg.n_layer)])
        self.downsample = nn.Linear(cfg.n_embd * cfg.downsample_rate, cfg.n_embd)

    def forward(self, music: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if music.ndim != 3 or music.shape[1] > cfg.max_frames or music.shape[-1] != cfg.n_music:
            raise ValidationError("Bailando++ music window", f"(B, F ≤ {cfg.max_frames}, {cfg.n_music})", str(tuple(music.shape)))
        x = self.blocks(self.cond_emb(music))
        xd = x[:, cfg.pad:-cfg.pad].contiguous()
        b, t, c = xd.shape
        return self.downsample(xd.view(b, t // cfg.downsample_rate, c * cfg.downsample_rate))


class CrossCondGPT2MWAC(nn.Module):
    """The released GPT: ``music_trans`` → ``gpt_base`` → ``gpt_head`` (+ ``critic_net`` if configured; without it the
    original's ``CrossCondGPT2MW``)."""

    def __init__(self, cfg: BailandoppGPTConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or BailandoppGPTConfig()
        self.music_trans = MusicTrans(cfg.music_trans)
        self.gpt_base = CrossCondGPTBase(cfg.gpt.base)
        self.gpt_head = CrossCondGPTHead(cfg.gpt.head)
        if cfg.gpt.critic is not None:
            self.critic_net = CrossCondGPTHead(cfg.gpt.critic)
        self.block_size = cfg.gpt.block_size

    def forward(self, up: torch.Tensor, down: torch.Tensor, music: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, t) up/down tokens, (B, 8t + 80, 55) music frames → up and down next-token logits, each (B, t, vocab)."""
        return self.gpt_head(self.gpt_base(up, down, self.music_trans(music)))

    def critic(self, up: torch.Tensor, down: torch.Tensor, music: torch.Tensor) -> torch.Tensor:
        """The critic's value of each state, (B, t, 1) (actor-critic checkpoints only)."""
        value_up, value_down = self.critic_net(self.gpt_base(up, down, self.music_trans(music)))
        return value_up + value_down

    @torch.no_grad()
    def sample(self, up: torch.Tensor, down: torch.Tensor, *, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy generation (``sample`` with ``shift=None``): (B, 1) first tokens and (B, F, 55) music frames →
        (B, 1 + F // 8 − 10) up and down tokens; the context is the last ``block_size − 1`` (28) tokens."""
        window, rate = self.block_size - 1, self.cfg.music_trans.downsample_rate
        pad = self.cfg.music_trans.window_size // 2
        for k in range(cond.shape[1] // rate - 2 * pad):
            up_in = up if up.shape[1] <= window else up[:, -window:]
            down_in = down if down.shape[1] <= window else down[:, -window:]
            start = 0 if k < window else (k + 1 - window) * rate
            logit_up, logit_down = self(up_in, down_in, cond[:, start:(k + 1 + 2 * pad) * rate])
            # softmax then top-1, as the original (not argmax of the logits: equal after rounding must tie alike)
            _, ix_up = torch.topk(F.softmax(logit_up[:, -1], dim=-1), k=1, dim=-1)
            _, ix_down = torch.topk(F.softmax(logit_down[:, -1], dim=-1), k=1, dim=-1)
            up, down = torch.cat((up, ix_up), dim=1), torch.cat((down, ix_down), dim=1)
        return up, down


def load_bailandopp_gpt(ckpt: BailandoCheckpoint) -> CrossCondGPT2MWAC:
    """The GPT of a released ``actor_critic`` / ``cc_gpt_music_trans`` checkpoint (read with
    :func:`~macedance.models.official.bailando.read_bailando_checkpoint`), built from ``config.structure_generate``,
    ``strict=True`` on the GPT's entries; a mismatch is a one-line DataFormatError naming the file."""
    record = ckpt.config.get("structure_generate")
    if not isinstance(record, Mapping):
        raise DataFormatError(f"{ckpt.source}: `config.structure_generate`: expected the yaml section, found "
                              f"{type(record).__name__}")
    try:
        model = CrossCondGPT2MWAC(BailandoppGPTConfig.from_record(record))
    except DataFormatError as exc:
        raise DataFormatError(f"{ckpt.source}: config.{exc}") from None
    state = {k: v for k, v in ckpt.state_dict.items() if k.startswith(("music_trans.", "gpt_base.", "gpt_head.", "critic_net."))}
    load_strict(model, state, source=ckpt.source, what="a Bailando++ CrossCondGPT2MWAC")
    log.info("loaded Bailando++ GPT from %s", ckpt.source)
    return model


def pad_music(features: torch.Tensor, *, pad: int = 40) -> torch.Tensor:
    """``load_test_data_aist`` (``wav_padding`` 5 × 8, ``external_wav_rate`` 1): (B, T, D) 60-fps features →
    (B, pad + T + 1 + pad, D): zero rows, the features, a copy of the last row, zero rows."""
    zeros = features.new_zeros(features.shape[0], pad, features.shape[2])
    return torch.cat([zeros, features, features[:, -1:], zeros], dim=1)


@torch.no_grad()
def bailandopp_generate(vqvae: SepVQVAERmix, gpt: CrossCondGPT2MWAC, *, first_up: torch.Tensor, first_down: torch.Tensor,
                        music: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``actor_critic.py`` ``eval()`` with the ++ configs: (B, 1) first up/down tokens (the encoded ground truth's
    first, or :data:`DEMO_FIRST_TOKENS`) and (B, F, ≥ 55) music as the test loader gives it (:func:`pad_music` of T
    60-fps rows, F = T + 81) → (up tokens, down tokens, output (B, 8n, 219)) with n = 1 + (F − 8) // 8 − 10 =
    (T + 1) // 8 tokens per half. Output at 60 fps, y-up: channels 0–2 the root translation (metres), integrated from
    the decoded velocity with frame 0 at the origin; then 24 raw 3×3 rotation matrices (row-major, SMPL joint order)."""
    mt = gpt.cfg.music_trans
    if music.ndim != 3 or music.shape[-1] < mt.n_music or not first_up.shape == first_down.shape == (music.shape[0], 1):
        raise ValidationError("Bailando++ generation input", f"(B, 1) first up/down tokens and (B, F, ≥ {mt.n_music}) music",
                              f"{tuple(first_up.shape)}, {tuple(first_down.shape)} and {tuple(music.shape)}")
    cond = music[:, :, :mt.n_music].contiguous().float()[:, mt.downsample_rate:]  # ds_rate // music_relative_rate = 8
    up, down = gpt.sample(first_up, first_down, cond=cond)
    return up, down, integrate_root(vqvae.decode(up, down))
