"""Train/val/test splits by source: whole sources go to one split, so no clip leaks across splits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from macedance.errors import ValidationError


def check_split_fractions(value: Any) -> tuple[float, float, float]:
    """(train, val, test) shares: three numbers ≥ 0 summing to 1."""
    fr = tuple(float(x) for x in value)
    if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
        raise ValidationError("split_fractions", "three shares ≥ 0 summing to 1", str(value))
    return fr  # type: ignore[return-value]


def assign_splits(video_shas: list[str], seed: int, fractions: tuple[float, float, float], *,
                  groups: Iterable[Iterable[str]] = ()) -> dict[str, str]:
    """Split name per source (by sha256): ordered by sha256(seed, sha), then cut into test, val and train.

    With n ≥ 3 sources, val and test get round(share · n) sources but at least one each (when their share
    is > 0); with 2, one goes to test; with 1, it is train. Adding sources never moves a clip between
    sources, and a source's clips always share its split.

    ``groups``: sets of sources that must share a split (near-duplicates, :mod:`~macedance.datasets.curation.dedupe`;
    overlapping sets are merged). A group takes the place of its first member in the order and is placed whole: test,
    then val, take groups until they hold their number of sources (a group may overshoot it), the rest is train, and
    when train would get nothing though it should, the last group goes to train. Without groups (or with groups of
    one source) the assignment is exactly the one above.
    """
    def order_key(s: str) -> str:
        return hashlib.sha256(f"{seed}:{s}".encode()).hexdigest()

    order = sorted(set(video_shas), key=order_key)
    n = len(order)
    _, f_val, f_test = fractions
    if n >= 3:
        n_val = max(1 if f_val > 0 else 0, round(f_val * n))
        n_test = max(1 if f_test > 0 else 0, round(f_test * n))
    else:
        n_val, n_test = 0, (1 if n == 2 and f_test > 0 else 0)
    root = {s: s for s in order}

    def find(s: str) -> str:
        while root[s] != s:
            root[s] = root[root[s]]
            s = root[s]
        return s

    for g in groups:
        members = [s for s in g if s in root]
        for s in members[1:]:
            a, b = find(members[0]), find(s)
            root[max(a, b, key=order_key)] = min(a, b, key=order_key)
    units: dict[str, list[str]] = {}
    for s in order:  # a unit sits where its first member is
        units.setdefault(find(s), []).append(s)
    out: dict[str, str] = {}
    size = {"test": 0, "val": 0, "train": 0}
    placed = 0
    for members in units.values():
        split = "test" if size["test"] < n_test else "val" if size["val"] < n_val else "train"
        placed += len(members)
        if split != "train" and placed == n and size["train"] == 0 and n - n_test - n_val > 0:
            split = "train"
        size[split] += len(members)
        out.update(dict.fromkeys(members, split))
    return out
