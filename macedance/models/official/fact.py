"""FACT (Li et al., ICCV 2021, "AI Choreographer: Music Conditioned 3D Dance Generation with AIST++") exactly as
released in google-research/mint @ b8f8bdf (``mint/core/fact_model.py``, ``base_models.py``; Apache-2.0), in PyTorch,
loading the released TensorFlow checkpoint with :mod:`macedance.io.tf_checkpoint` (no TensorFlow needed).

* Motion: (B, 120, 225) at 60 fps = 6 zeros (padding) + 3 root translation + 24 SMPL joint rotations as row-major
  3×3 matrices (the ``fact`` motion format); audio: (B, 240, 35) at 60 fps (the ``fact`` music preset).
* Each modality: ``Dense`` to the width C (800) + a learned position embedding (120 resp. 240 rows), then a
  Transformer of pre-norm blocks x + Attn(LN x), x + MLP(LN x): LayerNorm eps 1e-5; attention with qkv = one
  bias-free ``Dense(3C)`` split as (qkv, head, d), scores scaled by **C**^-½ (not d^-½, as released), no mask;
  MLP ``Dense(3072)`` → tanh-GELU → ``Dense(C)``; no final LayerNorm, no dropout.
* Cross-modal: [motion tokens; audio tokens] (360) through 12 such blocks, then ``Dense(225)`` on every token.
* :func:`fact_generate` = ``FACTModel.infer_auto_regressive``: step i feeds the current 120-frame motion window and
  audio frames [i, i + 240); only output token 0 is kept, appended to the window, whose first frame drops.

Checkpoint names: the ``tf.train.Checkpoint(optimizer, model)`` that ``trainer.py`` writes stores each weight as
``model/<path>/.ATTRIBUTES/VARIABLE_VALUE``; :func:`fact_checkpoint_names` maps our names to ``<path>`` (``/`` → ``.``,
written ``L-k`` here for ``layer_with_weights-k``); Dense kernels (in, out) are transposed (ᵀ) to ``nn.Linear``
weights; entries outside ``model/`` and all ``.OPTIMIZER_SLOT`` entries are skipped:

* ``{m}_linear_embedding.weight`` / ``.bias`` ← ``{m}_linear_embedding.net.kernel``ᵀ / ``.bias`` (m: motion, audio)
* ``{m}_pos_embedding`` ← ``{m}_pos_embedding.position_embedding``
* ``{T}.layers.{i}.attn_norm.weight`` / ``.bias`` ← ``{T}.net.L-{2i}.fn.norm.gamma`` / ``.beta``
* ``{T}.layers.{i}.attn.to_qkv.weight`` ← ``{T}.net.L-{2i}.fn.fn.to_qkv.kernel``ᵀ
* ``{T}.layers.{i}.attn.to_out.weight`` / ``.bias`` ← ``{T}.net.L-{2i}.fn.fn.to_out.kernel``ᵀ / ``.bias``
* ``{T}.layers.{i}.mlp_norm.weight`` / ``.bias`` ← ``{T}.net.L-{2i+1}.fn.norm.gamma`` / ``.beta``
* ``{T}.layers.{i}.mlp.fc{j+1}.weight`` / ``.bias`` ← ``{T}.net.L-{2i+1}.fn.fn.net.L-{j}.kernel``ᵀ / ``.bias`` (j: 0, 1)
* ``cross_modal_layer.cross_output_layer.weight`` / ``.bias`` ← the same path's ``kernel``ᵀ / ``bias``

with T = ``motion_transformer``, ``audio_transformer``, ``cross_modal_layer.transformer_layer``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from macedance.errors import DataFormatError, ValidationError
from macedance.io.tf_checkpoint import is_model_variable, read_tf_checkpoint, tf_variable_paths
from macedance.presets import ConfigRecord

log = logging.getLogger(__name__)

FACT_FPS = 60.0  # motion and audio frames per second
FACT_COMMIT = "b8f8bdfbbe3fbfa67831a2ef9bcf71a6a9e74552"  # google-research/mint


@dataclass(frozen=True)
class FACTTransformerConfig(ConfigRecord):
    """One ``Transformer`` of ``mint/protos/model.proto`` (defaults: the released modality transformers)."""

    hidden_size: int = 800
    num_hidden_layers: int = 2
    num_attention_heads: int = 10
    intermediate_size: int = 3072  # the proto default; the released config does not set it


@dataclass(frozen=True)
class FACTConfig(ConfigRecord):
    """The ``fact_model`` of ``configs/fact_v5_deeper_t10_cm12.config`` (defaults = the released model)."""

    motion_dim: int = 225
    audio_dim: int = 35
    motion_length: int = 120  # motion ``sequence_length``: the seed window, frames at 60 fps
    audio_length: int = 240  # audio ``sequence_length``: the audio window, frames at 60 fps
    motion: FACTTransformerConfig = field(default_factory=FACTTransformerConfig)
    audio: FACTTransformerConfig = field(default_factory=FACTTransformerConfig)
    cross: FACTTransformerConfig = field(default_factory=lambda: FACTTransformerConfig(num_hidden_layers=12))
    out_dim: int = 225

    def __post_init__(self) -> None:
        super().__post_init__()
        widths = {self.motion.hidden_size, self.audio.hidden_size, self.cross.hidden_size}
        if len(widths) != 1:  # the original needs equal widths too (the concat and the residual adds)
            raise ValidationError("FACT hidden_size", "one width for the motion, audio and cross-modal transformers", str(sorted(widths)))
        for t in (self.motion, self.audio, self.cross):
            if t.hidden_size % t.num_attention_heads:
                raise ValidationError("FACT num_attention_heads", f"a divisor of hidden_size {t.hidden_size}", str(t.num_attention_heads))

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.to_dict() if isinstance(v, FACTTransformerConfig) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FACTConfig:
        """From :meth:`to_dict` (unknown keys ignored)."""
        parts = {k: FACTTransformerConfig.from_dict(dict(d[k])) for k in ("motion", "audio", "cross") if k in d}
        flat = {k: d[k] for k in ("motion_dim", "audio_dim", "motion_length", "audio_length", "out_dim") if k in d}
        return cls(**flat, **parts)


def tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    """``base_model_util.gelu``, the same operations in the same order: x · ½(1 + tanh(√(2/π)(x + 0.044715 x³)))."""
    return x * (0.5 * (1.0 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3)))))


class Attention(nn.Module):
    """``base_models.Attention``: (B, N, C) → (B, N, C), all-to-all, scores scaled by C^-½."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, dim ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # "b n (qkv h d) -> qkv b h n d"
        attn = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)
        return self.to_out((attn @ v).transpose(1, 2).reshape(b, n, -1))


class MLP(nn.Module):
    """``base_models.MLP``: Dense(hidden, gelu) → Dense(out)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(tanh_gelu(self.fc1(x)))


class Block(nn.Module):
    """``Residual(Norm(Attention))`` then ``Residual(Norm(MLP))`` (two entries of the original ``Sequential``)."""

    def __init__(self, cfg: FACTTransformerConfig):
        super().__init__()
        c = cfg.hidden_size
        self.attn_norm, self.attn = nn.LayerNorm(c, eps=1e-5), Attention(c, cfg.num_attention_heads)
        self.mlp_norm, self.mlp = nn.LayerNorm(c, eps=1e-5), MLP(c, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(self.attn_norm(x)) + x
        return self.mlp(self.mlp_norm(x)) + x


class Transformer(nn.Module):
    """``base_models.Transformer``: ``num_hidden_layers`` blocks, (B, N, C) → (B, N, C)."""

    def __init__(self, cfg: FACTTransformerConfig):
        super().__init__()
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class CrossModalLayer(nn.Module):
    """``base_models.CrossModalLayer``: sequence-wise concat → Transformer → Dense(out_dim) on every token."""

    def __init__(self, cfg: FACTConfig):
        super().__init__()
        self.transformer_layer = Transformer(cfg.cross)
        self.cross_output_layer = nn.Linear(cfg.cross.hidden_size, cfg.out_dim)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.cross_output_layer(self.transformer_layer(torch.cat([a, b], dim=1)))


class FACTModel(nn.Module):
    """``fact_model.FACTModel``: ``forward(motion (B, 120, 225), audio (B, 240, 35)) → (B, 360, 225)`` (``call``)."""

    def __init__(self, cfg: FACTConfig | None = None):
        super().__init__()
        cfg = cfg or FACTConfig()
        self.config = cfg
        c = cfg.cross.hidden_size
        self.motion_linear_embedding = nn.Linear(cfg.motion_dim, c)
        self.motion_pos_embedding = nn.Parameter(torch.zeros(cfg.motion_length, c))
        self.motion_transformer = Transformer(cfg.motion)
        self.audio_linear_embedding = nn.Linear(cfg.audio_dim, c)
        self.audio_pos_embedding = nn.Parameter(torch.zeros(cfg.audio_length, c))
        self.audio_transformer = Transformer(cfg.audio)
        self.cross_modal_layer = CrossModalLayer(cfg)

    def forward(self, motion: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, motion_length, motion_dim) motion and (B, audio_length, audio_dim) audio → (B, motion_length +
        audio_length, out_dim); token t < motion_length is the prediction for motion frame motion_length + t."""
        cfg = self.config
        _check(motion, "FACT motion", cfg.motion_length, cfg.motion_dim)
        _check(audio, "FACT audio", cfg.audio_length, cfg.audio_dim)
        if motion.shape[0] != audio.shape[0]:
            raise ValidationError("FACT batch", f"the same batch size for motion and audio ({motion.shape[0]})", str(audio.shape[0]))
        m = self.motion_transformer(self.motion_linear_embedding(motion) + self.motion_pos_embedding)
        a = self.audio_transformer(self.audio_linear_embedding(audio) + self.audio_pos_embedding)
        return self.cross_modal_layer(m, a)


def _check(x: torch.Tensor, field_name: str, length: int | None, dim: int) -> None:
    if x.ndim != 3 or x.shape[2] != dim or (length is not None and x.shape[1] != length):
        want = f"(B, {length if length is not None else 'T'}, {dim})"
        raise ValidationError(field_name, want, str(tuple(x.shape)))


# ------------------------------------------------------------------------------------------------ checkpoint

def _transformer_names(ours: str, theirs: str, cfg: FACTTransformerConfig) -> dict[str, tuple[str, bool]]:
    names: dict[str, tuple[str, bool]] = {}
    for i in range(cfg.num_hidden_layers):
        o, att, mlp = f"{ours}.layers.{i}", f"{theirs}.net.layer_with_weights-{2 * i}.fn", f"{theirs}.net.layer_with_weights-{2 * i + 1}.fn"
        names |= {f"{o}.attn_norm.weight": (f"{att}.norm.gamma", False), f"{o}.attn_norm.bias": (f"{att}.norm.beta", False),
                  f"{o}.attn.to_qkv.weight": (f"{att}.fn.to_qkv.kernel", True),
                  f"{o}.attn.to_out.weight": (f"{att}.fn.to_out.kernel", True), f"{o}.attn.to_out.bias": (f"{att}.fn.to_out.bias", False),
                  f"{o}.mlp_norm.weight": (f"{mlp}.norm.gamma", False), f"{o}.mlp_norm.bias": (f"{mlp}.norm.beta", False)}
        for j in (0, 1):
            names |= {f"{o}.mlp.fc{j + 1}.weight": (f"{mlp}.fn.net.layer_with_weights-{j}.kernel", True),
                      f"{o}.mlp.fc{j + 1}.bias": (f"{mlp}.fn.net.layer_with_weights-{j}.bias", False)}
    return names


def fact_checkpoint_names(cfg: FACTConfig | None = None) -> dict[str, tuple[str, bool]]:
    """{our parameter name: (TensorFlow object path as :func:`~macedance.io.tf_checkpoint.tf_variable_path` writes
    it, transposed?)} for every parameter of :class:`FACTModel` (the table of the module docstring)."""
    cfg = cfg or FACTConfig()
    names: dict[str, tuple[str, bool]] = {}
    for m in ("motion", "audio"):
        names |= {f"{m}_linear_embedding.weight": (f"{m}_linear_embedding.net.kernel", True),
                  f"{m}_linear_embedding.bias": (f"{m}_linear_embedding.net.bias", False),
                  f"{m}_pos_embedding": (f"{m}_pos_embedding.position_embedding", False)}
        names |= _transformer_names(f"{m}_transformer", f"{m}_transformer", getattr(cfg, m))
    names |= _transformer_names("cross_modal_layer.transformer_layer", "cross_modal_layer.transformer_layer", cfg.cross)
    return names | {"cross_modal_layer.cross_output_layer.weight": ("cross_modal_layer.cross_output_layer.kernel", True),
                    "cross_modal_layer.cross_output_layer.bias": ("cross_modal_layer.cross_output_layer.bias", False)}


def load_fact(tensors: Mapping[str, np.ndarray], *, config: FACTConfig | None = None, source: str = "FACT checkpoint") -> FACTModel:
    """A :class:`FACTModel` (eval mode, float32) from the tensors of a FACT ``tf.train.Checkpoint`` (raw names, as
    :func:`~macedance.io.tf_checkpoint.read_tf_checkpoint` returns them).

    Strict: every variable under ``model/`` is used exactly once, with the shape ``config`` implies (default: the
    released model); anything else (optimizer, slots, counters, the object graph) is ignored. A missing, extra or
    misshapen tensor is a one-line :class:`DataFormatError` naming it.
    """
    cfg = config or FACTConfig()
    variables = tf_variable_paths(tensors)
    if not variables:
        raise DataFormatError(f"{source}: no variables under `model/`: not a FACT tf.train.Checkpoint")
    model = FACTModel(cfg)
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for ours, (theirs, transpose) in fact_checkpoint_names(cfg).items():
        if theirs not in variables:
            problems.append(f"missing model/{theirs.replace('.', '/')}")
            continue
        value, want = np.asarray(variables[theirs]), tuple(expected[ours].shape)
        want = want[::-1] if transpose else want  # as stored: Dense kernels are (in, out)
        if value.shape != want or value.dtype.kind != "f":
            problems.append(f"model/{theirs.replace('.', '/')}: {value.dtype}{list(value.shape)}, expected float{list(want)}")
            continue
        state[ours] = torch.from_numpy(np.ascontiguousarray(value.T if transpose else value, dtype=np.float32))
    used = {theirs for theirs, _ in fact_checkpoint_names(cfg).values()}
    problems += [f"unexpected model/{n.replace('.', '/')} (not part of FACT with this config)" for n in sorted(set(variables) - used)]
    if problems:
        raise DataFormatError(f"{source}: not the FACT model of the given config ({len(problems)} problems; first: {problems[0]})")
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_fact_checkpoint(path: str | Path, *, config: FACTConfig | None = None) -> FACTModel:
    """:func:`load_fact` of the checkpoint at ``path`` (prefix ``…/ckpt-N``, its ``.index``, or the folder),
    reading only the model's tensors (the optimizer slots are skipped unread)."""
    return load_fact(read_tf_checkpoint(path, keep=is_model_variable), config=config, source=str(path))


@torch.no_grad()
def fact_generate(model: FACTModel, *, motion_seed: torch.Tensor, audio: torch.Tensor, steps: int = 1200,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``FACTModel.infer_auto_regressive``: (B, steps, out_dim) motion frames following ``motion_seed``.

    ``motion_seed``: (B, 120, 225), the first 120 frames (2 s at 60 fps) of the clip, as ``evaluator.py`` feeds them.
    ``audio``: (B, T, 35), the music features from the clip's frame 0. Step i runs the model on the current motion
    window and audio frames [i, i + 240), keeps output token 0 (the frame 120 + i of the clip) and slides the window
    by that frame. As in the original, generation stops early when fewer than 240 audio frames remain, so the result
    has min(steps, T − 239) frames; T < 240 is a ValidationError (the original fails there too). ``progress(i, steps)``
    after each step.
    """
    cfg = model.config
    _check(motion_seed, "FACT motion_seed", cfg.motion_length, cfg.motion_dim)
    _check(audio, "FACT audio", None, cfg.audio_dim)
    if cfg.out_dim != cfg.motion_dim:
        raise ValidationError("FACT out_dim", f"the motion width {cfg.motion_dim} (outputs are fed back)", str(cfg.out_dim))
    if audio.shape[1] < cfg.audio_length or steps < 1:
        raise ValidationError("FACT audio", f"at least {cfg.audio_length} frames and steps ≥ 1", f"{audio.shape[1]} frames, steps={steps}")
    motion, frames = motion_seed, []
    for i in range(steps):
        window = audio[:, i:i + cfg.audio_length]
        if window.shape[1] < cfg.audio_length:
            log.info("FACT: audio ends after %d of %d steps (%d frames)", i, steps, audio.shape[1])
            break
        frame = model(motion, window)[:, :1]
        frames.append(frame)
        if progress is not None:
            progress(i + 1, steps)
        motion = torch.cat([motion[:, 1:], frame], dim=1)
    return torch.cat(frames, dim=1)
