"""A minimal numpy/torch shim so each geometric routine is written once for both array types.

torch is imported only when a tensor is actually passed in, so numpy users never pay for it.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import numpy as np

Array = TypeVar("Array", np.ndarray, Any)  # np.ndarray or torch.Tensor


def is_torch(x: object) -> bool:
    """True when ``x`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def xp(x: object) -> Any:
    """The array module of ``x``: ``torch`` for tensors, else ``numpy``."""
    return sys.modules["torch"] if is_torch(x) else np


def asarray_like(values: Any, like: Any) -> Any:
    """``values`` as an array of the same library, dtype and device as ``like``."""
    if is_torch(like):
        torch = sys.modules["torch"]
        return torch.as_tensor(np.asarray(values), dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def norm(x: Any, keepdims: bool = False) -> Any:
    """Euclidean norm over the last axis."""
    n = xp(x).sqrt((x * x).sum(-1))
    return n[..., None] if keepdims else n


def cross(a: Any, b: Any) -> Any:
    """Cross product over the last axis (size 3)."""
    m = xp(a)
    return m.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        -1,
    )


def swap_last2(x: Any) -> Any:
    """Transpose the last two axes."""
    return x.transpose(-1, -2) if is_torch(x) else np.swapaxes(x, -1, -2)


def concat(arrays: list[Any], axis: int) -> Any:
    """Concatenate along ``axis`` for either library."""
    return xp(arrays[0]).concatenate(arrays, axis)


def take(x: Any, index: Any, axis: int) -> Any:
    """Gather ``index`` (a sequence of ints) along ``axis``."""
    if is_torch(x):
        torch = sys.modules["torch"]
        return torch.index_select(x, axis, torch.as_tensor(np.asarray(index), device=x.device))
    return np.take(x, np.asarray(index), axis=axis)
