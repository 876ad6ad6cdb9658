"""VideoMAE-v2 ViT-g/14 (SSv2-finetuned) features of content-debiased FVD (cd-FVD, Ge et al. CVPR'24).

The network of cd-fvd 0.1.1 (``cdfvd/third_party/VideoMAEv2/videomaev2_finetune.py``,
``vit_giant_patch14_224``): 16 frames × 224 × 224 → tubelets 2 × 14 × 14 (Conv3d) + the fixed
sinusoid position table, 40 pre-norm blocks (1408 wide, 16 heads, MLP 6144, LayerNorm ε 1e-6, GELU,
query/value biases), then ``fc_norm`` of the mean over tokens: the 1,408-d feature. Preprocessing
is cd-fvd's ``preprocess_videomae``: uint8 → [0, 1] (no mean/std), bilinear resize to 224×224
(``align_corners=False``, no antialias, aspect not kept). Sizes are read from the state dict
(heads = width / 88 as ViT-g), so reduced random networks of the same architecture load for tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from macedance.metrics.video.vit import Block, _depth
from macedance.weights import WeightSpec, register_weights, sized_state, user_state

FRAMES = 16


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """(1, n, dim) float32 sine/cosine position table of VideoMAE (computed in float64 as the reference)."""
    pos = np.arange(n, dtype=np.float64)[:, None] / np.power(10000, 2 * (np.arange(dim) // 2) / dim)[None, :]
    pos[:, 0::2], pos[:, 1::2] = np.sin(pos[:, 0::2]), np.cos(pos[:, 1::2])
    return torch.tensor(pos, dtype=torch.float32)[None]


def videomae_config(state: dict[str, Any]) -> dict[str, int]:
    dim, _, tubelet, patch, _ = state["patch_embed.proj.weight"].shape
    return {"dim": dim, "depth": _depth(state, "blocks."), "heads": max(1, dim // 88), "patch": patch, "tubelet": tubelet,
            "hidden": state["blocks.0.mlp.fc1.weight"].shape[0]}


class VideoMAEv2(nn.Module):
    """(B, 3, 16, 224, 224) in [0, 1] → (B, dim) ``fc_norm`` of the mean token. The classifier ``head``
    of the finetuned checkpoint is kept so it loads, but unused."""

    def __init__(self, dim: int = 1408, depth: int = 40, heads: int = 16, patch: int = 14, tubelet: int = 2,
                 hidden: int = 6144, size: int = 224, num_classes: int = 174):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(3, dim, (tubelet, patch, patch), (tubelet, patch, patch))
        n = (size // patch) ** 2 * (FRAMES // tubelet)
        self.register_buffer("pos_embed", sinusoid_table(n, dim), persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads, hidden, qkv_bias="qv") for _ in range(depth))
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.fc_norm(x.mean(1))


def preprocess(frames: np.ndarray) -> torch.Tensor:
    """cd-fvd's ``preprocess_videomae`` of one (16, H, W, 3) uint8 clip → (3, 16, 224, 224) float32 in [0, 1]."""
    x = torch.as_tensor(frames).permute(3, 0, 1, 2).to(torch.float32) / 255
    return F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)



def _convert(raw: bytes, source: str) -> dict[str, Any]:
    """cd-FVD's VideoMAE-v2 ViT-g/14 ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` (``{"module": …}``; ``head`` optional)."""
    state = user_state(raw, source)
    n_cls = state["head.weight"].shape[0] if "head.weight" in state else 174
    checked = sized_state(state, source, "VideoMAE-v2", videomae_config, lambda **c: VideoMAEv2(**c, num_classes=n_cls),
                          optional=("head.",))
    return {k: v.to(state[k].dtype) for k, v in checked.items()}  # the released file is float16: stored as such (2 GB)


WEIGHTS = register_weights(
    WeightSpec("videomae-v2-g-ssv2", "VideoMAE-v2 ViT-g/14, SSv2-finetuned (1408-d fc_norm features): cd-FVD",
               "Apache-2.0 (OpenGVLab/VideoMAE2 model card; VideoMAEv2's own model zoo asks for a request form)", "OpenGVLab VideoMAEv2 release "
               "vit_g_hybrid_pt_1200e_ssv2_ft.pth, the checkpoint of the cd-fvd package (user-supplied)", "", "",
               "vit_g_hybrid_pt_1200e_ssv2_ft.pth", None, _convert),
)
