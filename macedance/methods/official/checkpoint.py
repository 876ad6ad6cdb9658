"""Released EDGE-family checkpoints (EDGE, MACE-Dance, FineNet, POPDG, FlowerDance) read as released and safely.

The official ``EDGE.py`` saves ``torch.save({"ema_state_dict", "model_state_dict", "optimizer_state_dict",
"normalizer"})`` where ``normalizer`` is a pickled ``dataset.preprocess.Normalizer`` object. ``torch.load(
weights_only=True)`` refuses that class; plain ``torch.load`` would import and run whatever the file names. Here the
archive goes through :func:`macedance.safe_pickle.load_torch_archive` with the ``dataset`` package mapped to inert
records: tensors and builtins only, nothing executes. MACE-Dance's release is a ``.7z`` archive: it is read directly
when ``py7zr`` is installed (the one ``.pt`` member inside), otherwise the error says how to unpack it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from macedance.errors import DataFormatError, InputNotFoundError
from macedance.io.sevenzip import is_7z, member_of_7z
from macedance.models.official.normalizer import MinMaxNormalizer

WeightsChoice = Literal["model", "ema"]
WEIGHTS_CHOICES: tuple[WeightsChoice, ...] = ("model", "ema")
_KEYS = {"model": "model_state_dict", "ema": "ema_state_dict"}


@dataclass(frozen=True)
class ReleasedCheckpoint:
    """One released checkpoint: the chosen weights, the normaliser and where they came from."""

    source: str
    sha256: str  # of the file as given (the .7z archive or the .pt)
    state_dict: dict[str, torch.Tensor]
    weights: WeightsChoice
    normalizer: MinMaxNormalizer | None
    entries: tuple[str, ...]  # top-level keys of the saved dict
    recorded: dict[str, Any] = field(default_factory=dict)  # the "macedance" entry of files we export (e.g. num_heads)

    def heads(self, num_heads: int | None) -> int:
        """The attention head count: given, else recorded by our export, else the released models' 8."""
        return int(num_heads or self.recorded.get("num_heads") or 8)


def released_dict(raw: bytes, source: str) -> tuple[dict[str, Any], str]:
    """The saved dict of a released file's bytes (``.pt``, or a ``.7z`` holding one) and the name used in errors."""
    from macedance.safe_pickle import load_torch_archive

    if is_7z(raw):
        raw, source = member_of_7z(raw, source, pick=lambda n: n.endswith((".pt", ".pth", ".ckpt")), what=".pt checkpoint")
    obj = load_torch_archive(raw, source, inert_modules=("dataset",))
    if not isinstance(obj, dict):
        raise DataFormatError(f"{source}: expected the dict EDGE.py saves, found {type(obj).__name__}")
    return obj, source


def checkpoint_from_dict(obj: dict[str, Any], source: str, sha256: str, *, weights: WeightsChoice) -> ReleasedCheckpoint:
    """The chosen weights and the normaliser of a saved dict (as released, or as converted by ``weights import``)."""
    key = _KEYS[weights]
    state = obj.get(key)
    if not isinstance(state, dict) or not state:
        raise DataFormatError(f"{source}: `{key}`: expected a state dict (weights={weights!r}), found "
                              f"{type(state).__name__ if key in obj else 'no such entry'}; entries: {sorted(map(str, obj))}")
    tensors = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(state):
        odd = next(k for k, v in state.items() if not isinstance(v, torch.Tensor))
        raise DataFormatError(f"{source}: `{key}.{odd}`: expected a tensor, found {type(state[odd]).__name__}")
    raw_norm: Any = obj.get("normalizer")
    normalizer = None if raw_norm is None else MinMaxNormalizer.from_pickled(raw_norm, source=source)
    recorded = obj.get("macedance")
    return ReleasedCheckpoint(source, sha256, tensors, weights, normalizer, tuple(map(str, obj)),
                              {k: v for k, v in recorded.items() if isinstance(v, (str, int, float, bool))} if isinstance(recorded, dict) else {})


def read_released_checkpoint(path: str | Path, *, weights: WeightsChoice) -> ReleasedCheckpoint:
    """Read an EDGE-family ``torch.save`` dict (or a ``.7z`` holding one) through the restricted unpickler.

    Args:
        path: the ``.pt`` file, or the ``.7z`` archive that holds one.
        weights: ``"model"`` (``model_state_dict``; what MACE-Dance's ``test.py`` loads) or ``"ema"``
            (``ema_state_dict``; what EDGE's ``test.py`` loads).
    Raises:
        InputNotFoundError, DataFormatError (truncated, not a torch archive, entry missing), UnsafePickleError.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: checkpoint not found")
    raw = path.read_bytes()
    obj, source = released_dict(raw, str(path))
    return checkpoint_from_dict(obj, source, hashlib.sha256(raw).hexdigest(), weights=weights)


def converted_checkpoint(raw: bytes, source: str, *, check: Any) -> dict[str, Any]:
    """What ``weights import`` stores for a released file: its model and EMA state dicts and the normaliser's
    tensors (no pickled classes: it loads with ``torch.load(weights_only=True)``); ``check(state_dict, source)``
    verifies the architecture (raises a one-line :class:`DataFormatError`)."""
    obj, source = released_dict(raw, source)
    out: dict[str, Any] = {}
    for choice in WEIGHTS_CHOICES:
        if isinstance(obj.get(_KEYS[choice]), dict):
            ckpt = checkpoint_from_dict(obj, source, "", weights=choice)
            check(ckpt.state_dict, source)
            out[_KEYS[choice]] = ckpt.state_dict
            if ckpt.normalizer is not None:
                out["normalizer"] = ckpt.normalizer.state_dict()
            if ckpt.recorded:
                out["macedance"] = ckpt.recorded
    if not out:
        raise DataFormatError(f"{source}: expected model_state_dict or ema_state_dict, found entries {sorted(map(str, obj))}")
    return out


def load_into(model: torch.nn.Module, ckpt: ReleasedCheckpoint, *, what: str, nfeats: int, device: str = "cpu",
              normalized: bool = True) -> torch.nn.Module:
    """``model`` with the checkpoint's weights (``strict=True``: the official names, no key map), on ``device``, in eval
    mode; the checkpoint must carry an ``nfeats``-channel normaliser (``normalized=False``: none, as FineDance saves
    without ``--do_normalize``). Errors name the file and ``what`` it is not."""
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:
        raise DataFormatError(f"{ckpt.source}: not {what} state dict ({str(exc).splitlines()[0]})") from None
    if not normalized:
        if ckpt.normalizer is not None:
            raise DataFormatError(f"{ckpt.source}: `normalizer`: expected none (trained without --do_normalize), "
                                  f"found a {ckpt.normalizer.channels}-channel Normalizer")
        return model.to(device).eval()
    if ckpt.normalizer is None or ckpt.normalizer.channels != nfeats:
        raise DataFormatError(f"{ckpt.source}: `normalizer`: expected a {nfeats}-channel Normalizer, found "
                              f"{'none' if ckpt.normalizer is None else ckpt.normalizer.channels}")
    return model.to(device).eval()
