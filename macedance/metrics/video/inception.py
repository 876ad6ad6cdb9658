"""The FID Inception-v3 (TensorFlow ``inception-2015-12-05`` graph as ported by pytorch-fid).

torchvision's Inception-v3 layout (1008 classes, no aux head) with the TF graph's differences:
average pools in the Mixed 5b–5d, 6b–6e and 7b blocks exclude padding from the mean, and Mixed_7c's
pool branch is a 3×3 max pool. Input (B, 3, H, W) in [0, 1] → bilinear resize to 299×299
(``align_corners=False``) → 2x − 1; output: the 2,048-d pool3 features. Parameter names equal
pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, which the user imports with
``macedance weights import inception-fid FILE``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tv

from macedance.weights import WeightSpec, checked_state, register_weights, user_state


def _pool(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "max":
        return F.max_pool2d(x, 3, 1, 1)
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def _mixed(block: nn.Module, x: torch.Tensor, pool: str) -> torch.Tensor:
    """One Mixed block of the TF graph: torchvision's convolutions, the TF pool branch."""
    b = block
    if isinstance(b, tv.InceptionA):
        outs = [b.branch1x1(x), b.branch5x5_2(b.branch5x5_1(x)),
                b.branch3x3dbl_3(b.branch3x3dbl_2(b.branch3x3dbl_1(x)))]
    elif isinstance(b, tv.InceptionC):
        s = b.branch7x7_3(b.branch7x7_2(b.branch7x7_1(x)))
        d = x
        for conv in (b.branch7x7dbl_1, b.branch7x7dbl_2, b.branch7x7dbl_3, b.branch7x7dbl_4, b.branch7x7dbl_5):
            d = conv(d)
        outs = [b.branch1x1(x), s, d]
    else:  # InceptionE
        s = b.branch3x3_1(x)
        d = b.branch3x3dbl_2(b.branch3x3dbl_1(x))
        outs = [b.branch1x1(x), torch.cat([b.branch3x3_2a(s), b.branch3x3_2b(s)], 1),
                torch.cat([b.branch3x3dbl_3a(d), b.branch3x3dbl_3b(d)], 1)]
    return torch.cat([*outs, b.branch_pool(_pool(x, pool))], 1)


class FIDInception(nn.Module):
    """(B, 3, H, W) in [0, 1] → (B, 2048) pool3 features."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        x = n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x)))
        x = n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
            x = _mixed(getattr(n, name), x, "avg")
        x = n.Mixed_6a(x)
        for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
            x = _mixed(getattr(n, name), x, "avg")
        x = _mixed(n.Mixed_7b, n.Mixed_7a(x), "avg")
        x = _mixed(n.Mixed_7c, x, "max")
        return x.mean(dim=(2, 3))

    def load_fid_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def fid_state_dict(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()


def _convert(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``."""
    return checked_state(user_state(raw, source), source, FIDInception().fid_state_dict(), "FID Inception")


WEIGHTS = register_weights(
    WeightSpec("inception-fid", "FID Inception-v3 (TF inception-2015-12-05 graph, pytorch-fid port), pool3 2048-d",
               "Apache-2.0 (TensorFlow models); pytorch-fid port Apache-2.0",
               "mseitzer/pytorch-fid GitHub release fid_weights (user-supplied; no registry package ships it)", "", "",
               "pt_inception-2015-12-05-6726825d.pth", None, _convert),
)
