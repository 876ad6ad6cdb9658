"""Train/val/test splits by source: whole sources go to one split, so no clip leaks across splits."""

from __future__ import annotations

import hashlib
from typing import Any

from macedance.errors import ValidationError


def check_split_fractions(value: Any) -> tuple[float, float, float]:
    """(train, val, test) shares: three numbers ≥ 0 summing to 1."""
    fr = tuple(float(x) for x in value)
    if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
        raise ValidationError("split_fractions", "three shares ≥ 0 summing to 1", str(value))
    return fr  # type: ignore[return-value]


def assign_splits(video_shas: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """Split name per source (by sha256): ordered by sha256(seed, sha), then cut into train/val/test.

    With n ≥ 3 sources, val and test get round(share · n) sources but at least one each (when their share
    is > 0); with 2, one goes to test; with 1, it is train. Adding sources never moves a clip between
    sources, and a source's clips always share its split.
    """
    order = sorted(set(video_shas), key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    n = len(order)
    _, f_val, f_test = fractions
    if n >= 3:
        n_val = max(1 if f_val > 0 else 0, round(f_val * n))
        n_test = max(1 if f_test > 0 else 0, round(f_test * n))
    else:
        n_val, n_test = 0, (1 if n == 2 and f_test > 0 else 0)
    names = ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)
    return dict(zip(order, names, strict=True))
