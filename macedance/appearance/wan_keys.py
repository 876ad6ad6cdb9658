"""Parameter names of Wan2.2-Animate as the original Wan code and DiffSynth-Studio spell them (the official
``Wan-AI/Wan2.2-Animate-14B`` checkpoint, and what MACE-Dance's Expert-Appearance trains and saves: ``blocks.N.self_attn.q``,
``pose_patch_embedding``, ``motion_encoder.enc.net_app.convs…``, ``face_adapter.fuser_blocks…``) mapped to diffusers'
``WanAnimateTransformer3DModel``.

The correspondence was read from DiffSynth-Studio's ``WanModel`` / ``WanAnimateAdapter`` (fed7b18) and diffusers'
``WanAnimateTransformer3DModel`` (0.42.1); tests/test_wan_animate_parity.py checks it on every key and shape of both
full-size models. Besides names, three things change: the face adapter's fused ``linear1_kv`` is split into ``to_k``/``to_v``;
the motion encoder's leaky-ReLU biases (1, C, 1, 1) become (C,); its blur kernels (fixed buffers) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from macedance.errors import DataFormatError
from macedance.weights import state_differences

# diffusers' ``WanAnimateTransformer3DModel`` arguments of the released Wan2.2-Animate-14B transformer (17.27 B parameters):
# every key and shape of DiffSynth's full-size layout lands on this model (tests/test_wan_animate_parity.py).
WAN22_ANIMATE_14B: dict[str, Any] = dict(
    image_dim=1280, added_kv_proj_dim=5120, attention_head_dim=128, cross_attn_norm=True, eps=1e-6, ffn_dim=13824, freq_dim=256,
    in_channels=36, num_attention_heads=40, num_layers=40, out_channels=16, patch_size=(1, 2, 2), qk_norm="rms_norm_across_heads",
    text_dim=4096, rope_max_seq_len=1024, motion_encoder_size=512, motion_style_dim=512, motion_dim=20, motion_encoder_dim=512,
    face_encoder_hidden_dim=1024, face_encoder_num_heads=4, inject_face_latents_blocks=5)

# Whole dotted segments (or runs of segments) renamed wherever they occur, in this order.
_RENAMES: tuple[tuple[str, str], ...] = (
    ("time_embedding.0", "condition_embedder.time_embedder.linear_1"),
    ("time_embedding.2", "condition_embedder.time_embedder.linear_2"),
    ("text_embedding.0", "condition_embedder.text_embedder.linear_1"),
    ("text_embedding.2", "condition_embedder.text_embedder.linear_2"),
    ("time_projection.1", "condition_embedder.time_proj"),
    ("img_emb.proj.0", "condition_embedder.image_embedder.norm1"),
    ("img_emb.proj.1", "condition_embedder.image_embedder.ff.net.0.proj"),
    ("img_emb.proj.3", "condition_embedder.image_embedder.ff.net.2"),
    ("img_emb.proj.4", "condition_embedder.image_embedder.norm2"),
    ("head.modulation", "scale_shift_table"),
    ("head.head", "proj_out"),
    ("modulation", "scale_shift_table"),
    ("ffn.0", "ffn.net.0.proj"),
    ("ffn.2", "ffn.net.2"),
    ("self_attn.norm_q", "attn1.norm_q"), ("self_attn.norm_k", "attn1.norm_k"),
    ("self_attn.q", "attn1.to_q"), ("self_attn.k", "attn1.to_k"), ("self_attn.v", "attn1.to_v"), ("self_attn.o", "attn1.to_out.0"),
    ("cross_attn.norm_q", "attn2.norm_q"), ("cross_attn.norm_k_img", "attn2.norm_added_k"), ("cross_attn.norm_k", "attn2.norm_k"),
    ("cross_attn.k_img", "attn2.add_k_proj"), ("cross_attn.v_img", "attn2.add_v_proj"),
    ("cross_attn.q", "attn2.to_q"), ("cross_attn.k", "attn2.to_k"), ("cross_attn.v", "attn2.to_v"), ("cross_attn.o", "attn2.to_out.0"),
    ("motion_encoder.enc.fc", "motion_encoder.motion_network"),
    ("motion_encoder.dec.direction.weight", "motion_encoder.motion_synthesis_weight"),
    ("face_encoder.conv1_local.conv", "face_encoder.conv1_local"),
    ("face_encoder.conv2.conv", "face_encoder.conv2"),
    ("face_encoder.conv3.conv", "face_encoder.conv3"),
)
# The original calls a block's norms norm1 (self-attention), norm3 (cross-attention), norm2 (FFN); diffusers numbers
# them in the order they run.
_NORMS = {"norm2": "norm3", "norm3": "norm2"}
_FACE = {"linear1_q": "to_q", "q_norm": "norm_q", "k_norm": "norm_k", "linear2": "to_out"}
_CONVS = re.compile(r"^motion_encoder\.enc\.net_app\.convs\.(\d+)\.(.+)$")
_FUSER = re.compile(r"^face_adapter\.fuser_blocks\.(\d+)\.(\w+)\.(weight|bias)$")


def _rename(key: str) -> str:
    padded = f".{key}."
    for old, new in _RENAMES:
        padded = padded.replace(f".{old}.", f".{new}.")
    key = padded[1:-1]
    m = re.match(r"^(blocks\.\d+\.)(norm[23])(\..+)$", key)
    return f"{m.group(1)}{_NORMS[m.group(2)]}{m.group(3)}" if m else key


def _motion_conv(index: int, rest: str) -> str | None:
    """``enc.net_app.convs.<index>.<rest>`` → diffusers' name; None for a blur kernel (dropped)."""
    if rest.endswith(".kernel"):
        return None
    leaf = "act_fn.bias" if rest.endswith(".bias") else "weight"
    if index == 0:
        return f"motion_encoder.conv_in.{leaf}"
    if "." not in rest:  # the last conv: a bare EqualConv2d (index 8 for 512-px faces: log2(size) − 1)
        return f"motion_encoder.conv_out.{rest}"
    layer = {"conv1": "conv1", "conv2": "conv2", "skip": "conv_skip"}.get(rest.split(".")[0])
    if layer is None:
        raise DataFormatError(f"motion_encoder.enc.net_app.convs.{index}.{rest}: not a motion-encoder parameter of Wan-Animate")
    return f"motion_encoder.res_blocks.{index - 1}.{layer}.{leaf}"


def to_diffusers(state: Mapping[str, Any]) -> dict[str, Any]:
    """A Wan-Animate transformer state dict with the original / DiffSynth names → diffusers' names and layouts
    (tensors are not copied unless split or reshaped). Keys may carry ``model.`` or ``diffusion_model.`` prefixes."""
    out: dict[str, Any] = {}
    for raw, value in state.items():
        key = raw.removeprefix("model.").removeprefix("diffusion_model.")
        if m := _CONVS.match(key):
            new = _motion_conv(int(m.group(1)), m.group(2))
            if new is not None:
                out[new] = value.reshape(-1) if new.endswith("act_fn.bias") else value
            continue
        if m := _FUSER.match(key):
            block, layer, leaf = m.groups()
            if layer == "linear1_kv":
                k, v = value.chunk(2, dim=0)
                out[f"face_adapter.{block}.to_k.{leaf}"], out[f"face_adapter.{block}.to_v.{leaf}"] = k, v
            else:
                out[f"face_adapter.{block}.{_FACE.get(layer, layer)}.{leaf}"] = value
            continue
        out[_rename(key)] = value
    return out


def lora_target(module: str) -> str:
    """The diffusers module a LoRA on the original module ``module`` (``blocks.3.self_attn.q``) adapts."""
    return _rename(module.removeprefix("diffusion_model."))


def _listed(groups: tuple[tuple[str, list[str]], ...]) -> str:
    """``label (n): a, b, … `` for each non-empty group (first 8 names), joined by "; "."""
    return "; ".join(f"{label} ({len(v)}): {', '.join(v[:8])}{' …' if len(v) > 8 else ''}" for label, v in groups if v)


def checked_against(converted: Mapping[str, Any], expected: Mapping[str, Any], *, source: str, what: str,
                    partial: bool = False) -> None:
    """Refuse ``converted`` unless every key is known to ``expected`` with the same shape, and (unless ``partial``)
    every expected key is present; the error lists the unknown, missing and mis-shaped keys (first 8 of each)."""
    unknown, missing, shaped = state_differences(converted, expected)
    shaped = sorted(f"{k} {tuple(converted[k].shape)} ≠ {tuple(expected[k].shape)}" for k in shaped)
    if unknown or (missing and not partial) or shaped:
        raise DataFormatError(f"{source}: not {what}: "
                              + _listed((("unknown", unknown), ("missing", [] if partial else missing), ("mis-shaped", shaped))))


def original_lora_pairs(lora: Mapping[str, Any], *, source: str = "LoRA") -> dict[str, tuple[Any, Any]]:
    """``{original module: (up B (out, r), down A (r, in))}`` of a LoRA file with the original / DiffSynth names, read
    as DiffSynth-Studio's ``GeneralLoRALoader`` reads it: ``<module>.lora_B[.default].weight`` with its ``lora_A``
    (or ``lora_up``/``lora_down``), a ``diffusion_model.`` prefix dropped, and a ``<module>.alpha`` (files not trained
    by DiffSynth) scaling A by alpha/rank. Any other tensor is refused (DiffSynth would skip it silently)."""
    pairs: dict[str, tuple[Any, Any]] = {}
    used: set[str] = set()
    for key, up in lora.items():
        b, a = ("lora_up", "lora_down") if ".lora_up." in key else ("lora_B", "lora_A")
        parts = key.split(".")
        if b not in parts:
            continue
        i = parts.index(b)
        module = ".".join(parts[:i]).removeprefix("diffusion_model.")
        down_key = key.replace(f".{b}.", f".{a}.")
        if down_key not in lora:
            raise DataFormatError(f"{source}: {key} has no matching {down_key}")
        down = lora[down_key]
        alpha_key = ".".join(parts[:i] + ["alpha"])
        if alpha_key in lora:
            down = down * (float(lora[alpha_key]) / down.shape[0])
            used.add(alpha_key)
        pairs[module] = (up, down)
        used.update((key, down_key))
    if other := sorted(set(lora) - used):
        raise DataFormatError(f"{source}: not a LoRA file: tensors that are no LoRA pair ({len(other)}): {', '.join(other[:8])}")
    return pairs


def merge_original_lora(transformer: Any, lora: Mapping[str, Any], *, alpha: float, source: str) -> int:
    """Merge a LoRA saved with the original / DiffSynth names into diffusers' ``transformer`` as DiffSynth's
    ``pipe.load_lora(dit, path, alpha)`` does: ``W ← W + alpha · (B @ A)`` computed in the weight's dtype (no rank
    scaling). Every target must be a weight of the transformer with matching shapes, else the file is refused with the
    list. Returns the number of merged weights."""
    import torch

    pairs = original_lora_pairs(lora, source=source)
    if not pairs:
        raise DataFormatError(f"{source}: no LoRA tensors (<module>.lora_A/lora_B.weight or lora_down/lora_up)")
    weights = dict(transformer.named_parameters())
    unknown, shaped = [], []
    for module, (up, down) in pairs.items():
        w = weights.get(f"{lora_target(module)}.weight")
        if w is None:
            unknown.append(module)
        elif up.dim() != 2 or down.dim() != 2 or (up.shape[0], down.shape[1]) != tuple(w.shape) or up.shape[1] != down.shape[0]:
            shaped.append(f"{module} B{tuple(up.shape)}·A{tuple(down.shape)} ≠ {tuple(w.shape)}")
    if unknown or shaped:
        raise DataFormatError(f"{source}: not a LoRA for this transformer: "
                              + _listed((("unknown modules", sorted(unknown)), ("mis-shaped", sorted(shaped)))))
    with torch.no_grad():
        for module, (up, down) in pairs.items():
            w = weights[f"{lora_target(module)}.weight"]
            delta = alpha * torch.mm(up.to(device=w.device, dtype=w.dtype), down.to(device=w.device, dtype=w.dtype))
            w.copy_(w + delta)
    return len(pairs)
