"""The feature networks of the video metrics: installed weights loaded for a metric (:func:`installed_weights`,
:func:`load_network`); their weight entries are declared by their modules (listed by :func:`macedance.weights.all_weights`)."""

from __future__ import annotations

from typing import Any

import torch

from macedance.errors import MaceDanceError
from macedance.fileio import sha256_file
from macedance.weights import load_weights, manifest, weights_file


def installed_weights(name: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """State dict, sha256 and manifest summary of installed weights (for the cache key and the record)."""
    state = load_weights(name)
    sha = sha256_file(weights_file(name))
    return state, sha, {"weights": name, "weights_sha256": sha, "weights_verification": manifest(name).get("verification")}


def load_network(name: str, device: str) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """An imported feature network (sizes read from its state dict), its weights' sha256 and record fields;
    ``architecture`` says whether the sizes are the published network's."""
    from macedance.metrics.video.amt import AMTS
    from macedance.metrics.video.musiq import MUSIQ, musiq_config
    from macedance.metrics.video.videomae import VideoMAEv2, videomae_config
    from macedance.metrics.video.vit import CLIP_VIT_L14, ClipVisual, DinoViT, clip_config, dino_config

    build, config = {"dino-vitb16": (DinoViT, dino_config), "clip-vit-b32": (ClipVisual, clip_config),
                     "clip-vit-l14": (ClipVisual, clip_config), "videomae-v2-g-ssv2": (VideoMAEv2, videomae_config),
                     "amt-s": (AMTS, lambda _: {}), "musiq-spaq": (MUSIQ, musiq_config)}[name]
    state, sha, info = installed_weights(name)
    cfg = config(state)
    with torch.device("meta"):  # the published sizes: each class's defaults (ViT-L/14: its own)
        published = config(build(**(CLIP_VIT_L14 if name == "clip-vit-l14" else {})).state_dict()) == cfg
    model = build(**cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("head.") for k in missing):  # VideoMAE's classifier head is optional
        raise MaceDanceError(f"weights {name!r} do not fit the network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval().to(device), sha, info | {"architecture": cfg, "architecture_published": published}
