"""MUSIQ (Ke et al., ICCV 2021) as pyiqa implements it (chaofengc/IQA-PyTorch ``archs/musiq_arch.py`` and
``data/multiscale_trans_util.py``) — the network VBench's imaging quality runs with the SPAQ checkpoint
``musiq_spaq_ckpt-358bb6af.pth``. The official module tree and parameter names, so the checkpoint loads with
``strict=True``.

An image in [0, 1] is mapped to [−1, 1] and cut into 32-px patches at several scales — aspect-preserving bicubic
resizes to longer sides 224 and 384 (each padded or cut to (⌈L/32⌉)² patches) and the original resolution (all its
patches) — each patch tagged with a hashed 10×10 grid position, its scale and a mask. A ResNet stem (weight-
standardised convolutions, GroupNorm) embeds each patch; a 14-block transformer reads them after a class token;
a linear head gives the score (SPAQ: one value, 0–100).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from macedance.metrics.video.tf_padding import same_pad
from macedance.weights import WeightSpec, register_weights, sized_state, user_state


class StdConv(nn.Conv2d):
    """A weight-standardised convolution with "SAME" padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = same_pad(x, self.kernel_size, self.stride)
        w = self.weight
        w = w - w.mean((1, 2, 3), keepdim=True)
        w = w / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride)


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, outplanes: int):
        super().__init__()
        self.conv1 = StdConv(inplanes, inplanes, 1, 1, bias=False)
        self.gn1 = nn.GroupNorm(32, inplanes, eps=1e-4)
        self.conv2 = StdConv(inplanes, inplanes, 3, 1, bias=False)
        self.gn2 = nn.GroupNorm(32, inplanes, eps=1e-4)
        self.conv3 = StdConv(inplanes, outplanes, 1, 1, bias=False)
        self.gn3 = nn.GroupNorm(32, outplanes, eps=1e-4)
        self.conv_proj = StdConv(inplanes, outplanes, 1, 1, bias=False)  # inplanes ≠ outplanes in MUSIQ's one block
        self.gn_proj = nn.GroupNorm(32, outplanes, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.gn_proj(self.conv_proj(x))
        x = F.relu(self.gn1(self.conv1(x)))
        x = F.relu(self.gn2(self.conv2(x)))
        return F.relu(self.gn3(self.conv3(x)) + identity)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = (f(x).reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3) for f in (self.query, self.key, self.value))
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill((mask.reshape(b, 1, n, 1) * mask.reshape(b, 1, 1, n)) == 0, -1e3).softmax(dim=-1)
        return self.out((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attention = Attention(dim, heads)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class _Param(nn.Module):
    def __init__(self, name: str, *shape: int):
        super().__init__()
        self.register_parameter(name, nn.Parameter(torch.zeros(*shape)))


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, heads: int, layers: int, scales: int, grid: int):
        super().__init__()
        self.posembed_input = _Param("position_emb", 1, grid * grid, dim)
        self.scaleembed_input = _Param("scale_emb", scales, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder_norm = nn.LayerNorm(dim, eps=1e-6)
        self.transformer = nn.ModuleDict({f"encoderblock_{i}": TransformerBlock(dim, mlp_dim, heads) for i in range(layers)})

    def forward(self, x: torch.Tensor, spatial: torch.Tensor, scale: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = x + self.posembed_input.position_emb.squeeze(0)[spatial.long()]
        x = x + self.scaleembed_input.scale_emb[scale.long()]
        x = torch.cat([self.cls.repeat(n, 1, 1), x], dim=1)
        mask = torch.cat([torch.ones((n, 1)).to(mask), mask], dim=1)
        for block in self.transformer.values():
            x = block(x, mask)
        return self.encoder_norm(x)


def _hashed_positions(grid: int, count_h: int, count_w: int) -> torch.Tensor:
    """(1, count_h · count_w) indices into the grid × grid hashed position table (nearest-neighbour hashing)."""
    g = torch.arange(grid).float().reshape(1, 1, grid)
    w = F.interpolate(g, (count_w), mode="nearest").repeat(1, count_h, 1)
    h = F.interpolate(g, (count_h), mode="nearest").transpose(1, 2).repeat(1, 1, count_w)
    return (h * grid + w).reshape(1, -1)


def _patches(image: torch.Tensor, patch: int, grid: int, scale_id: int, max_len: int) -> torch.Tensor:
    """(n, 3·patch² + 3, L) patches of ``image`` (n, 3, h, w) with position, scale and mask rows; padded or cut to
    ``max_len`` patches (all of them when ``max_len`` < 0)."""
    n, _, h, w = image.shape
    p = F.unfold(same_pad(image, (patch, patch), (patch, patch)), patch, 1, stride=patch)
    spatial = _hashed_positions(grid, math.ceil(h / patch), math.ceil(w / patch)).unsqueeze(1).repeat(n, 1, 1)
    out = torch.cat([p, spatial.to(p), (torch.ones_like(spatial) * scale_id).to(p), torch.ones_like(spatial).to(p)], dim=1)
    if max_len >= 0:
        out = torch.cat([out, torch.zeros((n, out.shape[1], max_len)).to(out)], dim=-1)[:, :, :max_len]
    return out


def multiscale_patches(image: torch.Tensor, *, patch: int = 32, grid: int = 10, longer_sides: tuple[int, ...] = (224, 384),
                       original_max_len: int | None = -1) -> torch.Tensor:
    """(n, L, 3·patch² + 3): the patches of each aspect-preserving bicubic resize (longer side per scale) and of the
    original resolution, concatenated (pyiqa's ``get_multiscale_patches``)."""
    n, _, h, w = image.shape
    out = []
    for scale_id, side in enumerate(sorted(longer_sides)):
        ratio = side / max(h, w)
        resized = F.interpolate(image, (round(h * ratio), round(w * ratio)), mode="bicubic", align_corners=False)
        out.append(_patches(resized, patch, grid, scale_id, int(np.ceil(side / patch) ** 2)))
    if original_max_len is not None:
        out.append(_patches(image, patch, grid, len(longer_sides), original_max_len))
    return torch.cat(out, dim=-1).transpose(1, 2)


def musiq_config(state: dict[str, Any]) -> dict[str, int]:
    """Sizes of a MUSIQ state dict (heads are not visible in the shapes: 6 in every released checkpoint)."""
    dim = state["embedding.weight"].shape[0]
    head = state.get("head.weight", state.get("head.0.weight"))
    return {"hidden": dim, "mlp_dim": state["transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight"].shape[0],
            "layers": sum(1 for k in state if k.endswith(".norm1.weight")), "scales": state["transformer_encoder.scaleembed_input.scale_emb"].shape[0],
            "grid": math.isqrt(state["transformer_encoder.posembed_input.position_emb"].shape[1]),
            "classes": int(head.shape[0]) if head is not None else 1, "heads": 6}


class MUSIQ(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] → (B, 1) score (the mean opinion score of the class distribution)."""

    def __init__(self, hidden: int = 384, mlp_dim: int = 1152, heads: int = 6, layers: int = 14, scales: int = 3, grid: int = 10,
                 classes: int = 1, patch: int = 32, longer_sides: tuple[int, ...] = (224, 384), original_max_len: int | None = -1):
        super().__init__()
        self.patch, self.grid, self.longer_sides, self.original_max_len = patch, grid, longer_sides, original_max_len
        token = 64
        self.conv_root = StdConv(3, token, 7, 2, bias=False)
        self.gn_root = nn.GroupNorm(32, token, eps=1e-6)
        self.block1 = Bottleneck(token, token * 4)
        self.embedding = nn.Linear(token * 4 * (patch // 4) ** 2, hidden)
        self.transformer_encoder = TransformerEncoder(hidden, mlp_dim, heads, layers, scales, grid)
        self.head: nn.Module = nn.Sequential(nn.Linear(hidden, classes), nn.Softmax(dim=-1)) if classes > 1 else nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = multiscale_patches((x - 0.5) * 2, patch=self.patch, grid=self.grid, longer_sides=self.longer_sides,
                               original_max_len=self.original_max_len)
        b, seq_len, _ = x.shape
        spatial, scale, mask = x[:, :, -3], x[:, :, -2], x[:, :, -1].bool()
        x = x[:, :, :-3].reshape(-1, 3, self.patch, self.patch)
        x = self.gn_root(self.conv_root(x))
        x = F.max_pool2d(same_pad(F.relu(x), (3, 3), (2, 2)), 3, 2)
        x = self.block1(x).permute(0, 2, 3, 1).reshape(b, seq_len, -1)  # TensorFlow's channel order
        x = self.transformer_encoder(self.embedding(x), spatial, scale, mask)
        q = self.head(x[:, 0]).reshape(b, 1, -1).mean(dim=1)
        return (q * torch.arange(1, q.shape[-1] + 1).to(q)).sum(dim=-1, keepdim=True)


def _convert_musiq(raw: bytes, source: str) -> dict[str, Any]:
    """pyiqa's MUSIQ checkpoint (``{"params": …}`` or a bare state dict), checked key by key against the network its
    sizes give."""
    return sized_state(user_state(raw, source), source, "MUSIQ", musiq_config, MUSIQ)


WEIGHTS = register_weights(
    WeightSpec("musiq-spaq", "MUSIQ trained on SPAQ (pyiqa): VBench imaging quality",
               "PolyForm Noncommercial 1.0.0 (chaofengc/IQA-PyTorch; MUSIQ: Apache-2.0, google-research)",
               "pyiqa's release musiq_spaq_ckpt-358bb6af.pth (user-supplied; the file VBench downloads from "
               "github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/)", "", "", "musiq_spaq_ckpt-358bb6af.pth", None,
               _convert_musiq),
)
