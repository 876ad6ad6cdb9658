"""Timing helper shared by the benchmark scripts (imported from the script's own folder)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


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
