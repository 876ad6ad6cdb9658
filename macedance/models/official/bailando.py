"""Bailando's motion VQ-VAE exactly as released (lisiyao21/Bailando ``models/{sep_vqvae_root,vqvae,vqvae_root,encdec,
resnet,bottleneck}.py`` @ cc90b98): the official module tree and parameter/buffer names (``vqvae_up``/``vqvae_down``,
``encoders.0.level_blocks.0.model…``, ``bottleneck.level_blocks.0.k``, ``decoders_root``), so a released
``experiments/sep_vqvae_root/ckpt/epoch_500.pt`` loads once the ``module.`` prefix is stripped.

* Motion: 24 SMPL joint positions (72 channels, x/y/z per joint) at 60 fps. The upper half (15 joints,
  :data:`SMPL_UP`) and the lower half (9 joints incl. the root, :data:`SMPL_DOWN`) have separate VQ-VAEs.
* Encoder: ``downs_t`` stride-2 convolutions (kernel 4), each followed by a dilated ``Resnet1D`` (ReLU → conv k3 →
  ReLU → conv k1, residual), then conv k3 to ``emb_width``: 8 frames per token as released (7.5 tokens/s).
* Codebook ``k`` (``l_bins`` × ``emb_width``): nearest entry by squared distance; decoding looks it up.
* Decoder: conv k3, then per level ``Resnet1D`` (dilations reversed) → transposed conv ×2, then conv k3 out.
* The lower half (``VQVAER``) encodes with its first 3 channels (root position) zeroed and has a second decoder
  ``decoders_root`` whose 3 outputs, the root **velocity** (per frame), replace those channels when decoding;
  :func:`integrate_root` turns them into positions as ``actor_critic.py`` does (``global_vel: True``).

:func:`read_bailando_checkpoint` reads a released ``{'model', 'config', 'epoch'}`` file through the project's
restricted unpickler; the pickled ``easydict.EasyDict`` config becomes a plain (inert) dict.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from macedance.errors import DataFormatError, InputNotFoundError, ValidationError
from macedance.models.official.jukebox_vqvae import BottleneckBlock, ResConv1DBlock  # Jukebox's blocks, which Bailando reuses
from macedance.presets import ConfigRecord
from macedance.safe_pickle import InertObject, load_torch_archive

log = logging.getLogger(__name__)

SMPL_DOWN: tuple[int, ...] = (0, 1, 2, 4, 5, 7, 8, 10, 11)  # root, hips, knees, ankles, feet
SMPL_UP: tuple[int, ...] = (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)  # spine … hands


@dataclass(frozen=True)
class BailandoVQVAEConfig(ConfigRecord):
    """One half's ``structure.up_half`` / ``structure.down_half`` (defaults: the released ``sep_vqvae_root.yaml``)."""

    levels: int = 1
    downs_t: tuple[int, ...] = (3,)
    strides_t: tuple[int, ...] = (2,)
    emb_width: int = 512
    l_bins: int = 512
    width: int = 512
    depth: int = 3
    m_conv: float = 1.0
    dilation_growth_rate: int = 3
    dilation_cycle: int | None = None
    reverse_decoder_dilation: bool = True  # yaml key ``vqvae_reverse_decoder_dilation``
    multipliers: tuple[int, ...] = (1,)  # yaml key ``hvqvae_multipliers``
    joint_channel: int = 3

    @classmethod
    def from_record(cls, half: Mapping[str, Any]) -> BailandoVQVAEConfig:
        """From the yaml/EasyDict mapping of one half (unknown keys such as ``l_mu`` or ``commit`` are ignored)."""
        d = dict(half)
        if "vqvae_reverse_decoder_dilation" in d:
            d["reverse_decoder_dilation"] = d["vqvae_reverse_decoder_dilation"]
        if d.get("hvqvae_multipliers") is not None:
            d["multipliers"] = d["hvqvae_multipliers"]
        for key in ("downs_t", "strides_t", "multipliers"):
            if key in d:
                d[key] = tuple(int(v) for v in d[key])
        return cls.from_dict(d)  # type: ignore[no-any-return]

    @property
    def hop(self) -> int:
        """Frames per token of the lowest level (8 as released)."""
        return int(self.strides_t[0] ** self.downs_t[0])


class Resnet1D(nn.Module):
    def __init__(self, n_in: int, n_depth: int, cfg: BailandoVQVAEConfig, *, reverse: bool = False):
        super().__init__()
        blocks = [ResConv1DBlock(n_in, int(cfg.m_conv * n_in),
                                 cfg.dilation_growth_rate ** (d if cfg.dilation_cycle is None else d % cfg.dilation_cycle))
                  for d in range(n_depth)]
        self.model = nn.Sequential(*(blocks[::-1] if reverse else blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _width_depth(cfg: BailandoVQVAEConfig, level: int) -> tuple[int, int]:
    return cfg.width * cfg.multipliers[level], cfg.depth * cfg.multipliers[level]


class EncoderConvBlock(nn.Module):
    def __init__(self, n_in: int, cfg: BailandoVQVAEConfig, down_t: int, stride_t: int, level: int):
        super().__init__()
        width, depth = _width_depth(cfg, level)
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv1d(n_in if i == 0 else width, width, stride_t * 2, stride_t, stride_t // 2),
                                                 Resnet1D(width, depth, cfg)) for i in range(down_t)]
        blocks.append(nn.Conv1d(width, cfg.emb_width, 3, 1, 1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DecoderConvBock(nn.Module):  # sic: the original's name
    def __init__(self, cfg: BailandoVQVAEConfig, down_t: int, stride_t: int, level: int):
        super().__init__()
        width, depth = _width_depth(cfg, level)
        blocks: list[nn.Module] = [nn.Conv1d(cfg.emb_width, width, 3, 1, 1)]
        for i in range(down_t):
            n_out = cfg.emb_width if i == down_t - 1 else width
            blocks.append(nn.Sequential(Resnet1D(width, depth, cfg, reverse=cfg.reverse_decoder_dilation),
                                        nn.ConvTranspose1d(width, n_out, stride_t * 2, stride_t, stride_t // 2)))
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Encoder(nn.Module):
    """Levels 0..``levels-1`` in sequence: (N, C_in, T) → (N, emb_width, T / hop) of the last one."""

    def __init__(self, n_in: int, cfg: BailandoVQVAEConfig, levels: int):
        super().__init__()
        self.level_blocks = nn.ModuleList(
            EncoderConvBlock(n_in if lv == 0 else cfg.emb_width, cfg, cfg.downs_t[lv], cfg.strides_t[lv], levels - 1)
            for lv in range(levels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.level_blocks:
            x = block(x)
        return x


class Decoder(nn.Module):
    """(N, emb_width, T / hop) → (N, n_out, T) through the level blocks in reverse, then ``out``."""

    def __init__(self, n_out: int, cfg: BailandoVQVAEConfig, levels: int):
        super().__init__()
        self.level_blocks = nn.ModuleList(
            DecoderConvBock(cfg, cfg.downs_t[lv], cfg.strides_t[lv], levels - 1) for lv in range(levels))
        self.out = nn.Conv1d(cfg.emb_width, n_out, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in reversed(self.level_blocks):
            x = block(x)
        return self.out(x)


class Bottleneck(nn.Module):
    def __init__(self, cfg: BailandoVQVAEConfig):
        super().__init__()
        self.level_blocks = nn.ModuleList(BottleneckBlock(cfg.l_bins, cfg.emb_width) for _ in range(cfg.levels))


class VQVAE(nn.Module):
    """One half (``models/vqvae.py``; ``root=True``: ``models/vqvae_root.py`` with ``decoders_root``)."""

    def __init__(self, cfg: BailandoVQVAEConfig, channels: int, *, root: bool = False):
        super().__init__()
        self.cfg, self.root = cfg, root
        levels = cfg.levels
        self.encoders = nn.ModuleList(Encoder(channels, cfg, lv + 1) for lv in range(levels))
        self.decoders = nn.ModuleList(Decoder(channels, cfg, lv + 1) for lv in range(levels))
        if root:
            self.decoders_root = nn.ModuleList(Decoder(cfg.joint_channel, cfg, lv + 1) for lv in range(levels))
        self.bottleneck = Bottleneck(cfg)

    def encode(self, x: torch.Tensor, *, level: int = 0) -> torch.Tensor:
        """(N, T, C) motion → (N, T / hop) tokens of ``level`` (the root half zeroes its first ``joint_channel``)."""
        if self.root:
            x = x.clone()
            x[:, :, : self.cfg.joint_channel] = 0
        lat = self.encoders[level](x.permute(0, 2, 1).float())
        return self.bottleneck.level_blocks[level].encode(lat)

    def decode(self, z: torch.Tensor, *, level: int = 0) -> torch.Tensor:
        """(N, T') tokens → (N, T' · hop, C) motion; the root half's first channels are the decoded root velocity."""
        xq = self.bottleneck.level_blocks[level].decode(z)
        x = self.decoders[level](xq).permute(0, 2, 1)
        if self.root:
            vel = self.decoders_root[level](xq).permute(0, 2, 1)
            x[:, :, : vel.shape[-1]] = vel.clone()
        return x


class SepVQVAER(nn.Module):
    """The released motion tokenizer: ``vqvae_up`` (15 joints) and ``vqvae_down`` (9 joints, root velocity)."""

    def __init__(self, up: BailandoVQVAEConfig | None = None, down: BailandoVQVAEConfig | None = None):
        super().__init__()
        up, down = up or BailandoVQVAEConfig(), down or BailandoVQVAEConfig()
        self.chanel_num = up.joint_channel  # sic
        self.vqvae_up = VQVAE(up, len(SMPL_UP) * self.chanel_num)
        self.vqvae_down = VQVAER(down, len(SMPL_DOWN) * self.chanel_num)

    @torch.no_grad()
    def encode(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 72) joint positions (T a multiple of the hop, 8) → (up, down) tokens, each (B, T / 8) int64."""
        if motion.ndim != 3 or motion.shape[-1] != 24 * self.chanel_num:
            raise ValidationError("Bailando motion", f"(B, T, {24 * self.chanel_num}) joint positions", str(tuple(motion.shape)))
        b, t, c = motion.shape
        joints = motion.reshape(b, t, c // self.chanel_num, self.chanel_num)
        up = joints[:, :, list(SMPL_UP)].reshape(b, t, -1)
        down = joints[:, :, list(SMPL_DOWN)].reshape(b, t, -1)
        return self.vqvae_up.encode(up), self.vqvae_down.encode(down)

    @torch.no_grad()
    def decode(self, up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
        """(B, T') up and down tokens → (B, 8·T', 72): joint positions, except channels 0–2 = root velocity."""
        if up.ndim != 2 or up.shape != down.shape:
            raise ValidationError("Bailando tokens", "up and down of the same shape (B, T')",
                                  f"{tuple(up.shape)} and {tuple(down.shape)}")
        xup, xdown = self.vqvae_up.decode(up), self.vqvae_down.decode(down)
        b, t, cup = xup.shape
        ch = self.chanel_num
        x = torch.zeros(b, t, (cup + xdown.shape[-1]) // ch, ch, dtype=xup.dtype, device=xup.device)
        x[:, :, list(SMPL_UP)] = xup.reshape(b, t, -1, ch)
        x[:, :, list(SMPL_DOWN)] = xdown.reshape(b, t, -1, ch)
        return x.view(b, t, -1)


def VQVAER(cfg: BailandoVQVAEConfig, channels: int) -> VQVAE:
    """The lower half's VQ-VAE with the root-velocity decoder (``models/vqvae_root.py``)."""
    return VQVAE(cfg, channels, root=True)


def integrate_root(decoded: torch.Tensor) -> torch.Tensor:
    """(B, T, 72) decoded motion (channels 0–2 = root velocity, per frame) → positions: root at 0 in frame 0, then
    frame t = frame t−1 + velocity t−1 (``actor_critic.py`` with ``global_vel``)."""
    out = decoded.clone()
    out[:, 0, :3] = 0
    out[:, 1:, :3] = torch.cumsum(decoded[:, :-1, :3], dim=1)
    return out


@dataclass(frozen=True)
class BailandoCheckpoint:
    """A released ``{'model', 'config', 'epoch'}`` file: the state dict without ``module.``, the config as plain dicts."""

    source: str
    sha256: str
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    epoch: int | None


def _plain(obj: Any, source: str, depth: int = 0) -> Any:
    """The config record as plain dicts and lists (bounded depth: a self-referencing pickle ends here)."""
    from macedance.limits import MAX_PICKLE_DEPTH

    if depth > MAX_PICKLE_DEPTH:
        raise DataFormatError(f"{source}: `config`: nested more than {MAX_PICKLE_DEPTH} levels deep")
    if isinstance(obj, InertObject):  # easydict.EasyDict, a dict subclass: its pickled items (its __dict__ copy is dropped)
        obj = obj.__dict__.get("items", {})
    if isinstance(obj, dict):
        return {str(k): _plain(v, source, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, source, depth + 1) for v in obj]
    return obj


def read_bailando_checkpoint(path: str | Path) -> BailandoCheckpoint:
    """Read a released Bailando checkpoint without running any of its code.

    Raises:
        InputNotFoundError; DataFormatError (not a torch zip archive, no ``model`` state dict);
        UnsafePickleError (the pickle names any class but tensors, builtins and ``easydict``'s, read as inert records).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: checkpoint not found")
    return bailando_checkpoint_from_bytes(path.read_bytes(), str(path))


def bailando_checkpoint_from_bytes(raw: bytes, path: str) -> BailandoCheckpoint:
    """:func:`read_bailando_checkpoint` of a file's bytes (``path`` names it in errors)."""
    obj = load_torch_archive(raw, path, inert_modules=("easydict",))
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(f"{path}: expected Bailando's {{'model': state_dict, 'config', 'epoch'}}, found {found}")
    state = {str(k).removeprefix("module."): v for k, v in obj["model"].items()}
    odd = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if odd:
        raise DataFormatError(f"{path}: `model.{odd[0]}`: expected a tensor, found {type(state[odd[0]]).__name__}")
    config = _plain(obj.get("config") or {}, str(path))
    epoch = obj.get("epoch")
    log.info("read Bailando checkpoint %s (%d tensors, epoch %s)", path, len(state), epoch)
    return BailandoCheckpoint(path, hashlib.sha256(raw).hexdigest(), state, config if isinstance(config, dict) else {},
                              int(epoch) if isinstance(epoch, int) else None)


def _structure(config: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    part = config.get(key)
    if not isinstance(part, Mapping):
        raise DataFormatError(f"{source}: `config.{key}`: expected the yaml section, found {type(part).__name__}")
    return part


def _load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str, what: str) -> nn.Module:
    """``model`` with ``state`` (``strict=True``), in eval mode; a mismatch is a one-line :class:`DataFormatError`."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataFormatError(f"{source}: not {what} state dict ({str(exc).splitlines()[0]})") from None
    return model.eval()


def load_bailando_vqvae(ckpt: BailandoCheckpoint) -> SepVQVAER:
    """The ``SepVQVAER`` of a released ``sep_vqvae_root`` checkpoint, built from its ``config.structure``."""
    if any(".decoders_rot." in k for k in ckpt.state_dict):
        raise DataFormatError(f"{ckpt.source}: a Bailando++ VQ-VAE (it has rotation decoders), not Bailando's SepVQVAER: use "
                              "bailandopp-official (weights import bailandopp-vqvae)")
    structure = _structure(ckpt.config, "structure", ckpt.source)
    model = SepVQVAER(BailandoVQVAEConfig.from_record(_structure(structure, "up_half", ckpt.source)),
                      BailandoVQVAEConfig.from_record(_structure(structure, "down_half", ckpt.source)))
    vq_keys = {k: v for k, v in ckpt.state_dict.items() if k.startswith(("vqvae_up.", "vqvae_down."))}
    _load_strict(model, vq_keys, source=ckpt.source, what="a Bailando SepVQVAER")
    return model
