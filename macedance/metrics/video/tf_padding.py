"""TensorFlow's "SAME" padding, which networks ported from TensorFlow checkpoints (I3D, MUSIQ) apply before their
convolutions and poolings: the output has ⌈size / stride⌉ positions per dim, the padding split as evenly as possible with
the extra element at the end."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def same_pad(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int], value: float = 0.0) -> torch.Tensor:
    """``x`` padded with ``value`` over its last ``len(kernel)`` dims (e.g. (H, W) of (B, C, H, W) for 2-D kernels)."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[x.dim() - len(kernel):]), reversed(kernel), reversed(stride), strict=True):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x
