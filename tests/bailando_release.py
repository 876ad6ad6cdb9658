"""Bailando's released files, written as the original code saves them (``torch.save({'model': DataParallel
state_dict, 'config': easydict.EasyDict, 'epoch'})``) at tiny sizes, for the loader and method tests."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


class _EasyDict(dict):
    """What ``easydict.EasyDict`` (1.x) is: a dict whose items are also attributes, nested dicts converted; it pickles
    as NEWOBJ + dict items + its ``__dict__``."""

    def __init__(self, d=None):
        super().__init__()
        for k, v in (d or {}).items():
            setattr(self, k, v)

    def __setattr__(self, name, value):
        if isinstance(value, (list, tuple)):
            value = [type(self)(x) if isinstance(x, dict) else x for x in value]
        elif isinstance(value, dict) and not isinstance(value, type(self)):
            value = type(self)(value)
        super().__setattr__(name, value)
        super().__setitem__(name, value)

    __setitem__ = __setattr__


@contextmanager
def easydict_stand_in() -> Iterator[type]:
    """``easydict.EasyDict`` importable by name while files are written (torch.save pickles classes by name); removed
    afterwards, so that reading cannot rely on it."""
    mod = types.ModuleType("easydict")
    cls = type("EasyDict", (_EasyDict,), {"__module__": "easydict"})
    mod.EasyDict = cls  # type: ignore[attr-defined]
    old = sys.modules.get("easydict")
    sys.modules["easydict"] = mod
    try:
        yield cls
    finally:
        if old is None:
            sys.modules.pop("easydict", None)
        else:
            sys.modules["easydict"] = old


def save_released(path: Path, model: torch.nn.Module, config: dict[str, Any], epoch: int, easydict: type) -> Path:
    """``model`` saved as the original code does (DataParallel's ``module.`` prefixes, the config an EasyDict)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {f"module.{k}": v for k, v in model.state_dict().items()}, "config": easydict(config), "epoch": epoch}, path)
    return path


def write_release(root: Path, vq: torch.nn.Module, gpt: torch.nn.Module, record: dict[str, Any],
                  vqvae_weight: str = "experiments/sep_vqvae_root/ckpt/epoch_500.pt") -> Path:
    """``root`` laid out as Bailando's released ``experiments`` folder (the VQ-VAE and the actor-critic GPT, whose
    config names the VQ-VAE file as released; Bailando++: ``experiments/sep_vqvae_root_mix_w_vel_acc/...``)."""
    config = {**record, "vqvae_weight": vqvae_weight, "global_vel": True, "ds_rate": 8, "external_wav_rate": 1, "demo": False}
    with easydict_stand_in() as easydict:
        save_released(root / vqvae_weight, vq, {"structure": record["structure"]}, 500, easydict)
        save_released(root / "experiments/actor_critic/ckpt/epoch_10.pt", gpt, config, 10, easydict)
    return root


def fixture_state(fx: Any, key: str) -> dict[str, torch.Tensor]:
    """A state dict stored in a parity fixture as one flat float16 array ``{key}_state``, cut by the names and shapes of
    ``state_layout_json[key]`` (the Bailando++ fixture)."""
    import json

    import numpy as np

    flat = torch.from_numpy(fx[f"{key}_state"].astype(np.float32))
    out, i = {}, 0
    for name, shape in json.loads(str(fx["state_layout_json"]))[key]:
        n = int(np.prod(shape))
        out[name] = flat[i:i + n].view(shape)
        i += n
    return out
