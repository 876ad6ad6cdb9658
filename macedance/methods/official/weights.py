"""Weight entries of the released methods: ``macedance weights import mace-dance-motion FILE`` (the ``.7z`` or the
``.pt`` inside) or ``macedance weights import edge checkpoint.pt`` verifies the file (structure and shapes, as no
sha256 is published), records its sha256 and stores its state dicts and normaliser without pickled classes;
``--ckpt`` may then be left out."""

from __future__ import annotations

from typing import Any

import torch

from macedance.errors import DataFormatError
from macedance.methods.official.checkpoint import converted_checkpoint
from macedance.weights import WeightSpec, checked_state, register_weights


def _check_mace(state: dict[str, Any], source: str) -> None:
    from macedance.models.official.mace import MaceConfig, MaceDanceDecoder

    try:
        cfg = MaceConfig.from_state_dict(state)
    except (KeyError, ValueError, IndexError) as exc:
        raise DataFormatError(f"{source}: not the MACE-Dance Motion Expert's state dict (cannot read its sizes: {exc!r})") from None
    with torch.device("meta"):
        expected = MaceDanceDecoder(cfg).state_dict()
    checked_state(state, source, expected, "MACE-Dance Motion Expert")


def _check_edge(state: dict[str, Any], source: str) -> None:
    from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder

    cfg = EdgeConfig.from_state_dict(state, source=source)
    with torch.device("meta"):
        expected = EdgeDanceDecoder(cfg).state_dict()
    checked_state(state, source, expected, "EDGE DanceDecoder")


def _check_finenet(state: dict[str, Any], source: str) -> None:
    from macedance.models.official.finenet import FineNet, FineNetConfig
    cfg = FineNetConfig.from_state_dict(state, source=source)
    with torch.device("meta"):
        expected = FineNet(cfg).state_dict()
    checked_state(state, source, expected, "FineDance SeqModel")


WEIGHTS = register_weights(
    WeightSpec(name="mace-dance-motion", description="MACE-Dance Motion Expert, released checkpoint (train-3750.pt)",
               licence="cc-by-4.0 (Hugging Face card)", origin="Hugging Face GD-ML/MACE-Dance, weight/Expert-Motion/Expert-Motion.7z",
               package="", module="", member="Expert-Motion.7z (or the train-3750.pt inside)", source_sha256=None,
               convert=lambda raw, source: converted_checkpoint(raw, source, check=_check_mace)),
    WeightSpec(name="edge", description="EDGE, released checkpoint (checkpoint.pt, Jukebox features)", licence="not stated separately (repository: MIT)",
               origin="Google Drive id 1BAR712cVEqB8GR37fcEihRV_xOC-fZrZ (EDGE's download_model.sh)", package="", module="",
               member="checkpoint.pt", source_sha256=None, convert=lambda raw, source: converted_checkpoint(raw, source, check=_check_edge)),
    WeightSpec(name="finenet", description="FineDance FineNet (SeqModel), released checkpoint (train-2000.pt, 35-d music features)",
               licence="FineDance licence: non-commercial scientific research only, no redistribution (repository LICENSE)",
               origin="Google Drive id 1ENoeUn-X-3Vw2Gon-voVLlndy3hZXdWD (FineDance README's assets; assets/checkpoints/train-2000.pt)",
               package="", module="", member="train-2000.pt", source_sha256=None,
               convert=lambda raw, source: converted_checkpoint(raw, source, check=_check_finenet)),
)

#: released method → its weight entry (used when ``--ckpt`` is not given)
METHOD_WEIGHTS = {"mace-dance-official": "mace-dance-motion", "edge-official": "edge", "finenet-official": "finenet"}
