"""Weight entries of the released methods: ``macedance weights import mace-dance-motion FILE`` (the ``.7z`` or the
``.pt`` inside), ``macedance weights import edge checkpoint.pt`` or ``bailando-gpt`` / ``bailando-vqvae`` verifies the file (structure and shapes, as no
sha256 is published), records its sha256 and stores its state dicts and normaliser without pickled classes;
``--ckpt`` may then be left out."""

from __future__ import annotations

from pathlib import Path
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


def _bailando(raw: bytes, source: str, *, part: str) -> dict[str, Any]:
    """A released Bailando file as stored: ``{'model', 'config', 'epoch'}`` without ``module.`` or pickled classes
    (the EasyDict config as plain dicts), after building ``part`` (``vqvae`` / ``gpt``; Bailando++: ``vqvae++`` /
    ``gpt++``) from it with its weights."""
    from macedance.models.official.bailando import bailando_checkpoint_from_bytes, load_bailando_vqvae
    from macedance.models.official.bailando_gpt import load_bailando_gpt
    from macedance.models.official.bailandopp import load_bailandopp_gpt, load_bailandopp_vqvae

    ckpt = bailando_checkpoint_from_bytes(raw, source)
    loaders = {"vqvae": load_bailando_vqvae, "gpt": load_bailando_gpt, "vqvae++": load_bailandopp_vqvae, "gpt++": load_bailandopp_gpt}
    model = loaders[part](ckpt)
    prefix = ("vqvae_up.", "vqvae_down.") if part.startswith("vqvae") else ("music_trans.", "gpt_base.", "gpt_head.", "critic_net.")
    state = {k: v for k, v in ckpt.state_dict.items() if k.startswith(prefix)}
    if len(state) != len(model.state_dict()):  # load_* loaded the network's entries strictly: anything more is another network's
        extra = sorted(set(state) - set(model.state_dict()))
        raise DataFormatError(f"{source}: entries the {part} network does not have, e.g. {extra[0]}")
    return {"model": state, "config": ckpt.config, "epoch": ckpt.epoch}


def _fact(path: Path, source: str) -> dict[str, Any]:
    from macedance.methods.official.fact import convert_fact

    return convert_fact(path, source)


def _lodge(path: Path, source: str, part: str) -> dict[str, Any]:
    from macedance.methods.official.lodge import convert_lodge

    return convert_lodge(path, source, part=part)


_BAILANDO_LICENCE = "NTU S-Lab License 1.0: non-commercial use only (repository LICENSE)"
_BAILANDO_ORIGIN = "Google Drive id 1Fi0TIiBV6EQAQrBU0IOnlke2Nu4IcutC (Bailando README: experiments.zip)"
_BAILANDOPP_ORIGIN = "Google Drive id 1jepf20XuplVSGEfwaPaqwniyl4styvqa (tpami_bailandopp/README.md, unpacked under ./experiments)"

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
    WeightSpec(name="bailando-vqvae", description="Bailando motion VQ-VAE (SepVQVAER), released checkpoint (sep_vqvae_root epoch_500.pt)",
               licence=_BAILANDO_LICENCE, origin=_BAILANDO_ORIGIN, package="", module="",
               member="experiments/sep_vqvae_root/ckpt/epoch_500.pt", source_sha256=None,
               convert=lambda raw, source: _bailando(raw, source, part="vqvae")),
    WeightSpec(name="bailando-gpt", description="Bailando actor-critic GPT (CrossCondGPT2AC), released checkpoint (actor_critic epoch_10.pt)",
               licence=_BAILANDO_LICENCE, origin=_BAILANDO_ORIGIN, package="", module="",
               member="experiments/actor_critic/ckpt/epoch_10.pt", source_sha256=None,
               convert=lambda raw, source: _bailando(raw, source, part="gpt")),
    WeightSpec(name="bailandopp-vqvae", description="Bailando++ motion VQ-VAE with the rotation decoder (SepVQVAERmix), released checkpoint "
               "(sep_vqvae_root_mix_w_vel_acc epoch_500.pt)", licence=_BAILANDO_LICENCE, origin=_BAILANDOPP_ORIGIN, package="", module="",
               member="experiments/sep_vqvae_root_mix_w_vel_acc/ckpt/epoch_500.pt", source_sha256=None,
               convert=lambda raw, source: _bailando(raw, source, part="vqvae++")),
    WeightSpec(name="bailandopp-gpt", description="Bailando++ actor-critic GPT with the music Transformer (CrossCondGPT2MWAC), released "
               "checkpoint (actor_critic epoch_10.pt of the Bailando++ release)", licence=_BAILANDO_LICENCE, origin=_BAILANDOPP_ORIGIN,
               package="", module="", member="experiments/actor_critic/ckpt/epoch_10.pt", source_sha256=None,
               convert=lambda raw, source: _bailando(raw, source, part="gpt++")),
    WeightSpec(name="fact", description="FACT, released TensorFlow checkpoint (give its .index file; the .data shard is read beside it)",
               licence="not stated separately (repository: Apache-2.0)", origin="Google Drive folder 17GHwKRZbQfyC9-7oEpzCG8pp_rAI0cOm "
               "(google-research/mint README)", package="", module="", member="ckpt-N.index", source_sha256=None, convert=None,
               convert_file=_fact),
    *(WeightSpec(name=f"lodge-{part}", description=f"LODGE {what}, released file ({member.rsplit('/', 1)[-1]})", licence="none stated (no LICENSE file)",
                 origin="Google Drive id 13Yp__EPAw0EjrSS898X5FtSQGmveBykA (LODGE README)", package="", module="", member=member,
                 source_sha256=None, convert=None, convert_file=lambda path, source, part=part: _lodge(path, source, part))
      for part, what, member in (("global", "global stage (Global_Module, dance primitives)", "exp/Global_Module/FineDance_Global/checkpoints/epoch=2999.ckpt"),
                                 ("local", "local stage (Local_Module, FineTuneV2)", "exp/Local_Module/FineDance_FineTuneV2_Local/checkpoints/epoch=299.ckpt"),
                                 ("normalizer", "motion normaliser (139-d MinMaxScaler)", "data/Normalizer.pth"))),
)

#: released method → its weight entries (used when ``--ckpt`` is not given)
METHOD_WEIGHTS: dict[str, tuple[str, ...]] = {"mace-dance-official": ("mace-dance-motion",), "edge-official": ("edge",),
                                              "finenet-official": ("finenet",), "bailando-official": ("bailando-gpt", "bailando-vqvae"),
                                              "bailandopp-official": ("bailandopp-gpt", "bailandopp-vqvae"), "fact-official": ("fact",),
                                              "lodge-official": ("lodge-global", "lodge-local", "lodge-normalizer")}
