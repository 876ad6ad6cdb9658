"""Validation helpers shared by the data-model classes: each raises ValidationError naming the field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from macedance.errors import ValidationError


def describe(x: Any) -> str:
    """Short description of a value for error messages."""
    if isinstance(x, np.ndarray):
        return f"array of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def float_array(field: str, value: Any, shape: tuple[int | None, ...], spec: str) -> np.ndarray:
    """``value`` as a finite float64 array whose shape matches ``shape`` (None = any size ≥ 1)."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValidationError(field, spec, f"an object that is not an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValidationError(field, f"numeric {spec}", describe(arr))
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise ValidationError(field, spec, f"shape {tuple(arr.shape)}")
    if any(s is None and a < 1 for s, a in zip(shape, arr.shape, strict=True)):
        raise ValidationError(field, f"{spec} with at least one frame", f"shape {tuple(arr.shape)} (empty)")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[first]) else "Inf"
        raise ValidationError(field, "finite values", f"{int(bad.sum())} non-finite values ({kind} first at index {first})")
    return arr


def positive_number(field: str, value: Any) -> float:
    """A finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValidationError(field, "a number > 0", describe(value)) from None
    if not math.isfinite(v) or v <= 0:
        raise ValidationError(field, "a number > 0", repr(v))
    return v


def choice(field: str, value: Any, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    if value not in options:
        raise ValidationError(field, "one of " + ", ".join(repr(o) for o in options), repr(value))
    return str(value)
