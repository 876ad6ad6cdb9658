"""Per-video results of the video metrics — feature rows, paired scores, identity, flickering — decoded in
chunks and cached by the video's content hash + extractor + weights + preset; the set-level scores are computed
from those (and a Ray run computes them into the shared cache first)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from macedance.cache import NpzCache, cache_key
from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.io.video import iter_frames
from macedance.metrics.video.metric import Progress

RESULT_VERSION = "1"  # of the cached per-video results below (pair scores, identity, flickering)


def chunks(path: Path, size: int) -> Iterator[np.ndarray]:
    """(≤ size, H, W, 3) uint8 chunks of a video, decoded as a stream."""
    buf: list[np.ndarray] = []
    for frame in iter_frames(path):
        buf.append(frame)
        if len(buf) == size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def cached_result(namespace: str, key_parts: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """A JSON-able per-video result, cached under ``namespace`` by ``key_parts`` (content hashes, model,
    preset); errors are not cached."""
    cache = NpzCache(namespace)
    key = cache_key(RESULT_VERSION, *key_parts)
    hit = cache.get(key)
    if hit is not None:
        return json.loads(hit["json"].tobytes().decode())
    value = compute()
    cache.put(key, {"json": np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)})
    return value


def set_features(P: dict[str, Path], G: dict[str, Path], label: str, key_parts: tuple[str, ...],
                 extract: Callable[[Path], Any], skipped: list[dict[str, str]],
                 progress: Progress | None, forward: Callable[[torch.Tensor], np.ndarray] | None = None,
                 batch: int = 1, sink: Callable[[str, np.ndarray], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-video features of the generated and the ground-truth set by role and stem, cached by the
    video's content hash + ``key_parts`` (extractor, weights sha256, preset); unreadable videos are
    recorded and skipped. ``extract(path)`` gives the feature row, or, with ``forward``, one model input:
    inputs of ``batch`` uncached videos are stacked and ``forward`` gives their rows. With ``sink``, rows
    are handed to ``sink(role, row)`` instead of being kept (memory independent of the number of videos)."""
    cache = NpzCache("video-features")
    feats: dict[str, dict[str, np.ndarray]] = {}
    for role, files in (("pred", P), ("gt", G)):
        rows: dict[str, np.ndarray] = {}
        pending: list[tuple[str, str, Any]] = []

        def keep(stem: str, row: np.ndarray, role: str = role, rows: dict[str, np.ndarray] = rows) -> None:
            if sink is None:
                rows[stem] = row
            else:
                sink(role, row)

        def flush(pending: list[tuple[str, str, Any]] = pending) -> None:
            if pending and forward is not None:
                for (stem, key, _), row in zip(pending, forward(torch.stack([x for _, _, x in pending])), strict=True):
                    cache.put(key, {"features": row})
                    keep(stem, row)
                pending.clear()

        for i, (stem, path) in enumerate(files.items()):
            if progress:
                progress(i, len(files), f"{label} {role} {stem}")
            key = cache_key(*key_parts, sha256_file(path))
            hit = cache.get(key)
            if hit is not None:
                keep(stem, hit["features"])
                continue
            try:
                x = extract(path)
            except MaceDanceError as exc:
                skipped.append({"video": f"{role}/{stem}", "reason": f"{label}: {exc}"})
                continue
            if forward is None:
                cache.put(key, {"features": x})
                keep(stem, x)
            else:
                pending.append((stem, key, x))
                if len(pending) >= batch:
                    flush()
        flush()
        feats[role] = {stem: rows[stem] for stem in files if stem in rows}  # in file order
    return feats


def stack_rows(rows: dict[str, np.ndarray], dim: int, dtype: type = np.float64) -> np.ndarray:
    """(n, dim) matrix of feature rows (``dim`` columns when there are none)."""
    return np.stack(list(rows.values())).astype(dtype) if rows else np.zeros((0, dim), dtype)
