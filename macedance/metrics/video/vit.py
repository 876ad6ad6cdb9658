"""Vision Transformers of the consistency metrics: one pre-norm block shared by DINO, CLIP and VideoMAE-v2.

* :class:`Block` — LayerNorm → multi-head self-attention → residual, LayerNorm → MLP → residual.
  Parameter names are timm's (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``,
  ``mlp.fc2``), the layout of DINO's and VideoMAE-v2's checkpoints; VideoMAE's separate query/value
  biases (``attn.q_bias``, ``attn.v_bias``; the key has none) are an option. CLIP's OpenAI layout is
  renamed on import (:func:`clip_state_from_openai`).
* :class:`DinoViT` — facebookresearch/dino ``VisionTransformer`` (``dino_vitb16``: patch 16, 768
  wide, 12 blocks, 12 heads, LayerNorm ε 1e-6, GELU): output the class token after the final norm.
  Inputs of another size than the position grid get DINO's bicubic position interpolation (with
  its +0.1 offset), so VBench's 224-short-side frames of any aspect ratio are handled as DINO does.
* :class:`ClipVisual` — OpenAI CLIP ``VisionTransformer`` (ViT-B/32: patch 32, 768 wide, 12 blocks,
  heads = width / 64, LayerNorm ε 1e-5, QuickGELU): ``ln_post`` of the class token times ``proj``.

Every size is read from the state dict (:func:`dino_config`, :func:`clip_config`), as CLIP's own
``build_model`` does, so reduced random networks of the same architecture load for tests.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from macedance.weights import WeightSpec, register_weights, sized_state, user_state


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection. ``qkv_bias``: ``"linear"`` (a bias on
    the fused projection), ``"qv"`` (VideoMAE: separate query and value biases, none for the key) or
    ``"none"``."""

    def __init__(self, dim: int, heads: int, qkv_bias: str = "linear"):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias == "linear")
        if qkv_bias == "qv":
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = self.qkv.bias
        if hasattr(self, "q_bias"):
            bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        q, k, v = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block (timm parameter names)."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float = 1e-6, act: str = "gelu", qkv_bias: str = "linear"):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential()
        self.mlp.add_module("fc1", nn.Linear(dim, hidden))
        self.mlp.add_module("act", QuickGELU() if act == "quick_gelu" else nn.GELU())
        self.mlp.add_module("fc2", nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _depth(state: dict[str, Any], prefix: str) -> int:
    return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})


def dino_config(state: dict[str, Any]) -> dict[str, int]:
    """Sizes of a DINO ViT checkpoint (heads = width / 64, as every DINO ViT)."""
    dim, _, patch, _ = state["patch_embed.proj.weight"].shape
    return {"dim": dim, "depth": _depth(state, "blocks."), "heads": max(1, dim // 64), "patch": patch,
            "hidden": state["blocks.0.mlp.fc1.weight"].shape[0], "grid": math.isqrt(state["pos_embed"].shape[1] - 1)}


class DinoViT(nn.Module):
    """DINO ViT: (B, 3, H, W) ImageNet-normalised → (B, dim) class token after the final LayerNorm."""

    def __init__(self, dim: int = 768, depth: int = 12, heads: int = 12, patch: int = 16, hidden: int = 3072, grid: int = 14):
        super().__init__()
        self.patch = patch
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def _pos(self, n: int, h: int, w: int) -> torch.Tensor:
        """DINO's ``interpolate_pos_encoding``: bicubic, scale factors (h0 + 0.1) / √N, (w0 + 0.1) / √N."""
        big_n = self.pos_embed.shape[1] - 1
        if n == big_n and h == w:
            return self.pos_embed
        s = math.sqrt(big_n)
        grid = self.pos_embed[:, 1:].reshape(1, int(s), int(s), -1).permute(0, 3, 1, 2)
        h0, w0 = h // self.patch + 0.1, w // self.patch + 0.1
        grid = F.interpolate(grid, scale_factor=(h0 / s, w0 / s), mode="bicubic")
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, grid.shape[1])], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
        x = x + self._pos(x.shape[1] - 1, h, w)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


_CLIP_RENAME = (("ln_1.", "norm1."), ("ln_2.", "norm2."), ("attn.in_proj_weight", "attn.qkv.weight"),
                ("attn.in_proj_bias", "attn.qkv.bias"), ("attn.out_proj.", "attn.proj."), ("mlp.c_fc.", "mlp.fc1."),
                ("mlp.c_proj.", "mlp.fc2."))
# Tensors CLIP's loader (clip.model.convert_weights) stores in float16 before VBench runs it on the CPU in float32.
CLIP_FP16 = ("conv1.weight", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias", "mlp.fc1.weight",
             "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias", "proj")


def clip_state_from_openai(state: dict[str, Any]) -> dict[str, Any]:
    """The ``visual.*`` tensors of an OpenAI CLIP state dict, renamed to :class:`ClipVisual`'s layout."""
    out = {}
    for k, v in state.items():
        if not k.startswith("visual."):
            continue
        k = k.removeprefix("visual.").replace("transformer.resblocks.", "blocks.")
        for a, b in _CLIP_RENAME:
            k = k.replace(a, b)
        out[k] = v
    return out


def clip_config(state: dict[str, Any]) -> dict[str, int]:
    """Sizes of a CLIP ViT image encoder (renamed layout), read as ``clip.model.build_model`` does."""
    width, _, patch, _ = state["conv1.weight"].shape
    return {"width": width, "layers": _depth(state, "blocks."), "heads": max(1, width // 64), "patch": patch,
            "grid": round((state["positional_embedding"].shape[0] - 1) ** 0.5), "out": state["proj"].shape[1]}


class ClipVisual(nn.Module):
    """CLIP ViT image encoder: (B, 3, R, R) CLIP-normalised (R = grid · patch) → (B, out) image features."""

    def __init__(self, width: int = 768, layers: int = 12, heads: int = 12, patch: int = 32, grid: int = 7, out: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(Block(width, heads, 4 * width, eps=1e-5, act="quick_gelu") for _ in range(layers))
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(len(x), 1, -1), x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_post(x[:, 0]) @ self.proj


def _convert_dino(raw: bytes, source: str) -> dict[str, Any]:
    """facebookresearch/dino's ``dino_vitbase16_pretrain.pth`` (any DINO ViT of the same layout)."""
    return sized_state(user_state(raw, source), source, "DINO ViT", dino_config, DinoViT)


CLIP_VIT_B32_SHA256 = "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"  # in OpenAI's download URL
CLIP_VIT_L14_SHA256 = "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"  # in OpenAI's download URL
#: OpenAI's ViT-L/14 image tower (``clip_config`` of its state dict)
CLIP_VIT_L14 = {"width": 1024, "layers": 24, "heads": 16, "patch": 14, "grid": 16, "out": 768}


def _convert_clip(raw: bytes, source: str) -> dict[str, Any]:
    """OpenAI's ``ViT-B-32.pt`` (a TorchScript archive, read by the restricted archive reader) or a plain
    OpenAI-layout CLIP state dict: the image tower, renamed; the tensors CLIP's loader keeps in float16
    are rounded to float16, as VBench's ``clip.load`` does before running in float32 on the CPU."""
    visual = clip_state_from_openai(user_state(raw, source))
    state = sized_state(visual, source, "CLIP ViT image encoder", clip_config, ClipVisual)
    return {k: v.half().float() if k.endswith(CLIP_FP16) else v for k, v in state.items()}


def _convert_aesthetic(raw: bytes, source: str) -> dict[str, Any]:
    """LAION's ``sa_0_4_vit_l_14_linear.pth``: the state dict of ``nn.Linear(768, 1)`` (any input width is accepted,
    for tests; it must equal the CLIP embedding's)."""
    state = user_state(raw, source)
    return sized_state(state, source, "LAION aesthetic linear head", lambda s: {"width": int(s["weight"].shape[1])},
                       lambda width=768: nn.Linear(width, 1))


WEIGHTS = register_weights(
    WeightSpec("dino-vitb16", "DINO ViT-B/16 (self-supervised, ImageNet), class token: VBench subject consistency",
               "Apache-2.0 (facebookresearch/dino)", "facebookresearch/dino release dino_vitbase16_pretrain (user-supplied; "
               "VBench loads it through torch.hub)", "", "", "dino_vitbase16_pretrain.pth", None, _convert_dino),
    WeightSpec("clip-vit-b32", "OpenAI CLIP ViT-B/32 image encoder (512-d): VBench background consistency",
               "MIT (openai/CLIP)", "OpenAI's CLIP release ViT-B-32.pt, a TorchScript archive read without running it "
               "(user-supplied; the file VBench's clip.load uses)", "", "", "ViT-B-32.pt", None, _convert_clip,
               CLIP_VIT_B32_SHA256),
    WeightSpec("clip-vit-l14", "OpenAI CLIP ViT-L/14 image encoder (768-d): VBench aesthetic quality",
               "MIT (openai/CLIP)", "OpenAI's CLIP release ViT-L-14.pt, a TorchScript archive read without running it "
               "(user-supplied; the file VBench's clip.load('ViT-L/14') uses)", "", "", "ViT-L-14.pt", None, _convert_clip,
               CLIP_VIT_L14_SHA256),
    WeightSpec("laion-aesthetic-l14", "LAION aesthetic predictor: a linear head on normalised CLIP ViT-L/14 embeddings "
               "(VBench aesthetic quality)", "MIT (LAION-AI/aesthetic-predictor)",
               "LAION-AI/aesthetic-predictor sa_0_4_vit_l_14_linear.pth (user-supplied; the file VBench downloads)", "", "",
               "sa_0_4_vit_l_14_linear.pth", None, _convert_aesthetic),
)
