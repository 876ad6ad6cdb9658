"""Timing helper shared by the benchmark scripts (imported from the script's own folder)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch

from macedance.cache import cache_root

_USER_CACHE = cache_root()  # the user's cache, before a benchmark points MACEDANCE_CACHE_DIR at a fresh one


def sync(dev: torch.device) -> None:
    """Wait for queued CUDA work so wall-clock times are real."""
    if dev.type == "cuda":
        torch.cuda.synchronize()


def best_time(fn: Callable[[], object], dev: torch.device, repeat: int = 3) -> float:
    """Best wall time in seconds of ``repeat`` calls after one warm-up call."""
    fn()
    sync(dev)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        best = min(best, time.perf_counter() - t0)
    return best


def share_installed_weights(cache: str | os.PathLike[str], names: tuple[str, ...] = ("transnetv2",)) -> None:
    """Copy the installed weights ``names`` (``macedance weights fetch``) from the user's macedance cache into the
    fresh ``cache`` a benchmark builds from, so that "empty cache" still means no cached stage results."""
    import shutil
    from pathlib import Path

    src = _USER_CACHE / "weights"
    dst = Path(cache) / "weights"
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        files = sorted(src.glob(f"{name}.*"))
        if not files:
            raise SystemExit(f"weights {name!r} are not installed: run `macedance weights fetch {name}` first")
        for f in files:
            shutil.copy2(f, dst / f.name)
