"""Inputs shared by the consistency / cd-FVD tests and the reference runs behind tests/parity/ (numpy and torch only).

The reference runs (VBench@45e79ec, facebookresearch/dino@7c446df, openai/CLIP@d05afc4,
content-debiased-fvd@a1e037a; outside this project) import this file, so the frames and the random
weights they score are exactly the tests'.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import torch

TINY_DINO = {"dim": 128, "depth": 2, "heads": 2, "patch": 32, "hidden": 256, "grid": 7}
TINY_CLIP = {"width": 128, "layers": 2, "patch": 32, "grid": 7, "out": 64}  # heads = width / 64
TINY_CLIP_L = {"width": 128, "layers": 2, "patch": 32, "grid": 7, "out": 768}  # a ViT-L/14-sized output: the LAION head's 768
TINY_VIDEOMAE = {"dim": 176, "depth": 2, "heads": 2, "patch": 28, "tubelet": 2, "hidden": 352}  # heads = width / 88


def random_weights(shapes: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic float32 weights by key (independent of the order of ``shapes``): kernels
    N(0, 1/fan_in), 1-D ``weight``s (norm scales, PReLU slopes) U(0.2, 1.2), other 1-D tensors N(0, 0.05²)."""
    out = {}
    for k, shape in shapes.items():
        g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(k.encode()))
        if len(shape) > 1:
            fan = int(np.prod(shape[1:])) if shape[0] > 1 else int(shape[-1])
            out[k] = torch.randn(shape, generator=g) * fan**-0.5
        elif k.endswith("weight"):
            out[k] = torch.rand(shape, generator=g) + 0.2
        else:
            out[k] = torch.randn(shape, generator=g) * 0.05
    return out


def openai_clip_shapes(cfg: Mapping[str, int] = TINY_CLIP, text_width: int = 64, context: int = 4, vocab: int = 16) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of an OpenAI CLIP state dict (ViT image tower of ``cfg`` and a one-layer text tower)."""
    w, p, g, o = cfg["width"], cfg["patch"], cfg["grid"], cfg["out"]
    shapes: dict[str, tuple[int, ...]] = {"visual.conv1.weight": (w, 3, p, p), "visual.class_embedding": (w,),
                                          "visual.positional_embedding": (g * g + 1, w), "visual.ln_pre.weight": (w,),
                                          "visual.ln_pre.bias": (w,), "visual.ln_post.weight": (w,), "visual.ln_post.bias": (w,),
                                          "visual.proj": (w, o), "positional_embedding": (context, text_width),
                                          "text_projection": (text_width, o), "logit_scale": (), "token_embedding.weight": (vocab, text_width),
                                          "ln_final.weight": (text_width,), "ln_final.bias": (text_width,)}

    def block(prefix: str, d: int) -> None:
        shapes.update({f"{prefix}.attn.in_proj_weight": (3 * d, d), f"{prefix}.attn.in_proj_bias": (3 * d,),
                       f"{prefix}.attn.out_proj.weight": (d, d), f"{prefix}.attn.out_proj.bias": (d,), f"{prefix}.ln_1.weight": (d,),
                       f"{prefix}.ln_1.bias": (d,), f"{prefix}.mlp.c_fc.weight": (4 * d, d), f"{prefix}.mlp.c_fc.bias": (4 * d,),
                       f"{prefix}.mlp.c_proj.weight": (d, 4 * d), f"{prefix}.mlp.c_proj.bias": (d,), f"{prefix}.ln_2.weight": (d,),
                       f"{prefix}.ln_2.bias": (d,)})

    for i in range(cfg["layers"]):
        block(f"visual.transformer.resblocks.{i}", w)
    block("transformer.resblocks.0", text_width)
    return shapes


def torchscript_archive(state: Mapping[str, torch.Tensor], path: str, extra: Mapping[str, torch.Tensor] | None = None) -> str:
    """Write ``state`` as a TorchScript archive (nested modules holding the tensors as parameters, as in
    OpenAI's released ``ViT-B-32.pt``); ``extra`` tensors become buffers (e.g. ``input_resolution``)."""
    root = torch.nn.Module()
    for k, v in {**state, **(extra or {})}.items():
        *mods, name = k.split(".")
        m = root
        for part in mods:
            if not hasattr(m, part):
                m.add_module(part, torch.nn.Module())
            m = getattr(m, part)
        if extra and k in extra:
            m.register_buffer(name, v.clone())
        else:
            m.register_parameter(name, torch.nn.Parameter(v.clone(), requires_grad=False))
    torch.jit.save(torch.jit.script(root), path)
    return path


def consistency_videos() -> dict[str, np.ndarray]:
    """The DINO / CLIP parity videos (9, 6 and 4 frames of 60×80)."""
    return {f"v{i}": moving_frames(seed=i, t=t) for i, t in enumerate((9, 6, 4))}


def aesthetic_videos() -> dict[str, np.ndarray]:
    """The aesthetic-quality parity videos (9, 6 and 40 frames of 60×80: VBench scores frames in batches of 32)."""
    return {"a0": moving_frames(seed=0, t=9), "a1": moving_frames(seed=1, t=6), "a2": moving_frames(seed=7, t=40)}


TINY_MUSIQ = {"hidden": 48, "mlp_dim": 64, "heads": 6, "layers": 2}  # 6 heads as released (not visible in the shapes)


def imaging_videos() -> dict[str, np.ndarray]:
    """The imaging-quality parity videos: 3 frames of 60×80 (no resize), 2 frames of 300×600 (VBench's "longer"
    mode resizes it to 256×512) — both smaller than 384 on some side, so every MUSIQ scale pads or cuts."""
    return {"i0": moving_frames(seed=3, t=3), "i1": moving_frames(seed=4, t=2, h=300, w=600)}


def amt_videos() -> dict[str, np.ndarray]:
    """The AMT-S parity videos (5, 4 and 3 frames of 120×136: padded to 128×144; AMT's 4-level correlation
    pyramid needs ≥ 128 padded pixels per side)."""
    return {f"m{i}": moving_frames(seed=40 + i, t=t, h=120, w=136) for i, t in enumerate((5, 4, 3))}


def moving_frames(seed: int, t: int = 9, h: int = 60, w: int = 80) -> np.ndarray:
    """(t, h, w, 3) uint8: a smooth random texture drifting right and down, a bright square moving across it."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (h // 10 + 4, w // 10 + 4, 3))
    tex = np.kron(coarse, np.ones((10, 10, 1)))
    frames = []
    for k in range(t):
        dy, dx = (k * 2) % 10, (k * 3) % 10
        f = tex[dy:dy + h, dx:dx + w].copy()
        y, x = 5 + 3 * k, 5 + 5 * k
        f[y % (h - 12):y % (h - 12) + 12, x % (w - 12):x % (w - 12) + 12] = (250, 240, 30)
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255))
    return np.stack(frames).astype(np.uint8)
