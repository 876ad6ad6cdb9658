"""Write checkpoints in the released EDGE-family layout, loadable by the official code (``EDGE.py``'s
``torch.load`` + ``load_state_dict``; MACE-Dance's and EDGE's ``test.py``) and by our reader.

The file is ``torch.save({"ema_state_dict", "model_state_dict", "optimizer_state_dict", "normalizer"})`` where
``normalizer`` pickles as the original classes do — ``GLOBAL 'dataset.preprocess Normalizer'`` and ``GLOBAL
'dataset.scaler MinMaxScaler'``, each NEWOBJ + BUILD with its attributes (``scaler``; ``feature_range``, ``copy``,
``clip``, ``n_samples_seen_``, ``scale_``, ``min_``, ``data_min_``, ``data_max_``, ``data_range_``) — so that the
official code, which has those classes, rebuilds a working ``Normalizer``. To emit those names without the
original package, two inert stand-in classes are registered under ``dataset.preprocess`` / ``dataset.scaler`` in
``sys.modules`` only while the file is pickled (a lock serialises writers; an existing ``dataset`` module of the
user's is left untouched and used only if it is the original one, which pickles the same way).
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from macedance.errors import MaceDanceError
from macedance.fileio import atomic_write
from macedance.models.official.normalizer import MinMaxNormalizer

_LOCK = threading.Lock()


class _Record:
    """An object that pickles as NEWOBJ of its class + BUILD of its ``__dict__`` (as a plain Python class does)."""

    def __init__(self, **attrs: Any):
        self.__dict__.update(attrs)


@contextmanager
def _original_class_names() -> Iterator[tuple[type, type]]:
    with _LOCK:
        names = ("dataset", "dataset.preprocess", "dataset.scaler")
        if any(n in sys.modules for n in names):
            raise MaceDanceError("a module named `dataset` is imported in this process: cannot write the official "
                                 "checkpoint layout's class names (run the export in a fresh process)")
        normalizer = type("Normalizer", (_Record,), {"__module__": "dataset.preprocess", "__qualname__": "Normalizer"})
        scaler = type("MinMaxScaler", (_Record,), {"__module__": "dataset.scaler", "__qualname__": "MinMaxScaler"})
        mods = {n: types.ModuleType(n) for n in names}
        mods["dataset.preprocess"].Normalizer = normalizer  # type: ignore[attr-defined]
        mods["dataset.scaler"].MinMaxScaler = scaler  # type: ignore[attr-defined]
        sys.modules.update(mods)
        try:
            yield normalizer, scaler
        finally:
            for n in names:
                sys.modules.pop(n, None)


def write_released_checkpoint(path: str | Path, *, model_state: dict[str, torch.Tensor], ema_state: dict[str, torch.Tensor],
                              normalizer: MinMaxNormalizer, optimizer_state: dict[str, Any] | None = None,
                              extra: dict[str, Any] | None = None) -> Path:
    """Write the EDGE.py checkpoint dict to ``path`` (atomically). ``optimizer_state``: any optimiser's
    ``state_dict()`` (the official test scripts do not read it; EDGE.py trains with Adan). ``extra``: more top-level
    entries of plain values (the official code reads only the four above)."""
    state = normalizer.state_dict()
    span = (state["feature_range"][1] - state["feature_range"][0]) / normalizer.scale
    lo = state.get("data_min_", (state["feature_range"][0] - normalizer.offset) / normalizer.scale)
    attrs = {"feature_range": tuple(int(v) if float(v).is_integer() else v for v in normalizer.feature_range), "copy": True,
             "clip": normalizer.clip, "n_samples_seen_": int(state.get("n_samples_seen_", 0)), "scale_": normalizer.scale.clone(),
             "min_": normalizer.offset.clone(), "data_min_": lo.clone(), "data_max_": state.get("data_max_", lo + span).clone(),
             "data_range_": state.get("data_range_", span).clone()}
    path = Path(path)
    with _original_class_names() as (normalizer_cls, scaler_cls):
        obj = {"ema_state_dict": ema_state, "model_state_dict": model_state, "optimizer_state_dict": optimizer_state or {},
               "normalizer": normalizer_cls(scaler=scaler_cls(**attrs)), **(extra or {})}
        with atomic_write(path) as f:
            torch.save(obj, f)
    return path
