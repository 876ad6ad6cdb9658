"""Jukebox music features, as EDGE's released checkpoint was trained on (``jukemirlib``: layer 66 of the 5B top-level
prior, resampled to 30 fps): the weight entries, the loader and a cached extractor.

The user imports OpenAI's two released files once (nothing downloads here; ~10 GB in all, Jukebox Noncommercial Use
License)::

    macedance weights import jukebox-vqvae vqvae.pth.tar
    macedance weights import jukebox-prior prior_level_2.pth.tar

Import reads each file with ``torch.load(weights_only=True)``, checks every key and shape against the port
(:mod:`macedance.models.official.jukebox`) and stores what extraction needs — the VQ-VAE's encoders and codebooks,
the prior's conditioner, embeddings and 72 blocks — in a zip archive that later loads memory-mapped; the prior's
Conv1D weights stay in float16 as released. Features are cached by content hash (audio samples, both weight
files, layer, frame rate). The 5B prior wants a GPU: on 2 CPU cores one 5-s window takes about a minute
(``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from macedance.cache import NpzCache, cache_key
from macedance.errors import DataFormatError
from macedance.weights import WeightSpec, checked_state, register_weights

if TYPE_CHECKING:
    from macedance.models.official.jukebox import JukeboxPriorConfig, JukeboxTopPrior, JukeboxVQVAE, JukeboxVQVAEConfig

log = logging.getLogger(__name__)

EDGE_LAYER = 66  # EDGE's data/audio_extraction/jukebox_features.py: LAYER = 66
WIDTH = 4800  # the prior's width: the features' dimension
FEATURES_VERSION = "1"  # bump when the extraction changes (invalidates the cache)
VQVAE_WEIGHTS, PRIOR_WEIGHTS = "jukebox-vqvae", "jukebox-prior"


def released_configs() -> tuple[JukeboxVQVAEConfig, JukeboxPriorConfig]:
    """The sizes of the released files (``hparams.vqvae``, ``hparams.prior_5b``), which import checks against."""
    from macedance.models.official.jukebox import JukeboxPriorConfig, JukeboxVQVAEConfig

    return JukeboxVQVAEConfig(), JukeboxPriorConfig()


def _released_state(path: Path, source: str) -> dict[str, Any]:
    """The ``model`` state dict of a released Jukebox file (``torch.load(weights_only=True)``: tensors only)."""
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataFormatError(f"{source}: not a readable Jukebox checkpoint ({type(exc).__name__}: {first})") from None
    state = obj.get("model") if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        found = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(f"{source}: expected a dict with a `model` state dict (as Jukebox saves), found {found}")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _convert_vqvae(path: Path, source: str) -> dict[str, Any]:
    import torch

    from macedance.models.official.jukebox import JukeboxVQVAE

    state = _released_state(path, source)
    if not any(k.startswith("decoders.") for k in state):
        raise DataFormatError(f"{source}: not the Jukebox VQ-VAE's state dict (no `decoders.*`; is it a prior?)")
    kept = {k: v for k, v in state.items() if not k.startswith("decoders.")}  # nothing here decodes audio
    with torch.device("meta"):
        expected = JukeboxVQVAE(released_configs()[0]).state_dict()
    return {"model": checked_state(kept, source, expected, "Jukebox 5B VQ-VAE", cast=False)}


def _convert_prior(path: Path, source: str) -> dict[str, Any]:
    import torch

    from macedance.models.official.jukebox import JukeboxTopPrior

    state = _released_state(path, source)
    state.pop("prior.x_out.weight", None)  # the token head: extraction stops inside the transformer
    bad = next((k for k, v in state.items() if v.dtype not in (torch.float16, torch.float32)), None)
    if bad is not None:
        raise DataFormatError(f"{source}: {bad} has dtype {state[bad].dtype}, expected float16 or float32")
    with torch.device("meta"):
        expected = JukeboxTopPrior(released_configs()[1]).state_dict()
    return {"model": checked_state(state, source, expected, "Jukebox 5B top-level prior (prior_5b, level 2)", cast=False)}


_ORIGIN = "https://openaipublic.azureedge.net/jukebox/models/5b/"
_LICENCE = "Jukebox Noncommercial Use License (openai/jukebox LICENSE)"
WEIGHTS = register_weights(
    WeightSpec(name=VQVAE_WEIGHTS, description="Jukebox 5B VQ-VAE (encoders and codebooks; EDGE's music features)", licence=_LICENCE,
               origin=_ORIGIN + "vqvae.pth.tar (the file jukemirlib downloads)", package="", module="", member="vqvae.pth.tar",
               source_sha256=None, convert=None, convert_file=_convert_vqvae),
    WeightSpec(name=PRIOR_WEIGHTS, description="Jukebox 5B top-level prior (EDGE's music features: layer 66 of 72)", licence=_LICENCE,
               origin=_ORIGIN + "prior_level_2.pth.tar (the file jukemirlib downloads)", package="", module="",
               member="prior_level_2.pth.tar", source_sha256=None, convert=None, convert_file=_convert_prior),
)


def _stored(name: str) -> tuple[dict[str, Any], str]:
    """The imported state dict (memory-mapped) and its sha256."""
    import torch

    from macedance.weights import manifest, weights_file

    path = weights_file(name)
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)["model"], str(manifest(name)["sha256"])


@dataclass
class JukeboxExtractor:
    """The two networks and what identifies their features (for the cache and result records)."""

    vqvae: JukeboxVQVAE
    prior: JukeboxTopPrior
    weights_sha256: tuple[str, str]  # (VQ-VAE, prior) imported files
    use_cache: bool = True

    @property
    def layer(self) -> int:
        return self.prior.layers

    def describe(self) -> str:
        return f"jukebox layer {self.layer} (jukemirlib; {VQVAE_WEIGHTS} {self.weights_sha256[0][:12]}, {PRIOR_WEIGHTS} {self.weights_sha256[1][:12]})"

    def features(self, samples: np.ndarray, *, fps: float = 30.0, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(samples,) mono audio at 44.1 kHz → (frames, 4800) float32 features at ``fps`` (cached by content)."""
        from macedance.models.official.jukebox import jukebox_features

        samples = np.ascontiguousarray(samples, dtype=np.float32)
        key = cache_key("jukebox", FEATURES_VERSION, *self.weights_sha256, str(self.layer), f"{fps:g}",
                        hashlib.sha256(samples.tobytes()).hexdigest())
        cache = NpzCache("jukebox")
        if self.use_cache and (hit := cache.get(key)) is not None:
            return hit["features"]
        out = jukebox_features(samples, vqvae=self.vqvae, prior=self.prior, fps=fps, progress=progress)
        if self.use_cache:
            cache.put(key, {"features": out})
        return out


def load_jukebox(*, layer: int | None = None, device: str = "cpu", use_cache: bool = True) -> JukeboxExtractor:
    """The imported Jukebox networks (prior blocks 1..``layer``, default EDGE's 66) on ``device``.

    Raises:
        MissingWeightsError: a file is not imported (the message names the ``weights import`` command).
    """
    import torch

    from macedance.models.official.jukebox import JukeboxTopPrior, JukeboxVQVAE
    from macedance.weights import manifest

    layer = EDGE_LAYER if layer is None else layer
    try:  # loaded (and verified) before in this process: the manifests name the same files
        key = (layer, device, str(manifest(VQVAE_WEIGHTS)["sha256"]), str(manifest(PRIOR_WEIGHTS)["sha256"]))
    except (OSError, KeyError, ValueError):
        key = None
    if key in _LOADED:
        return replace(_LOADED[key], use_cache=use_cache)  # type: ignore[index]
    vq_state, vq_sha = _stored(VQVAE_WEIGHTS)
    prior_state, prior_sha = _stored(PRIOR_WEIGHTS)
    vq_cfg, prior_cfg = released_configs()
    with torch.device("meta"):
        vqvae, prior = JukeboxVQVAE(vq_cfg), JukeboxTopPrior(prior_cfg, layers=layer, hop=vq_cfg.hop)
    keep = prior.state_dict().keys()
    vqvae.load_state_dict(vq_state, strict=True, assign=True)
    prior.load_state_dict({k: v for k, v in prior_state.items() if k in keep}, strict=True, assign=True)
    log.info("Jukebox networks loaded (prior blocks 1..%d) on %s", layer, device)
    _LOADED.clear()  # one set of networks in memory at a time (~10 GB)
    _LOADED[(layer, device, vq_sha, prior_sha)] = loaded = JukeboxExtractor(vqvae.to(device).eval(), prior.to(device).eval(),
                                                                          (vq_sha, prior_sha), use_cache)
    return loaded


# The networks last loaded, by (layer, device, weights' sha256s): a process loads (and verifies) them once.
_LOADED: dict[tuple[int, str, str, str], JukeboxExtractor] = {}
