"""LODGE's two denoisers exactly as released (li-ronghui/LODGE ``dld/models/architectures/model.py`` @ a898e59): the
official module trees and parameter names, so that the decoder of a released Lightning checkpoint loads with
``strict=True`` once its ``DanceDecoder.`` prefix is taken off.

* global stage, ``DanceDecoder`` (``exp/Global_Module/FineDance_Global``): EDGE's ``DanceDecoder`` line for line, so
  it *is* :class:`~macedance.models.official.edge.EdgeDanceDecoder` (:class:`LodgeGlobalDecoder` only changes the
  default sizes): x_t (B, 104, 139) dance primitives, music (B, 1024, 35);
* local stage, ``Refine_DanceDecoder`` (``exp/Local_Module/FineDance_FineTuneV2_Local``): the same network plus
  ``mapping`` (a StarGAN-style ``MappingNet``: N(0, I) noise (B, 256) → shared MLP → one head per genre) whose output
  is a third cross-attention token after the music and time tokens, and the foot-refine block. As released, the
  block's decoder layer is appended to ``seqTransDecoder`` (which so has ``num_layers + 1`` layers) and
  ``refine_seqTransDecoder1`` is empty: the refine branch is ``x0 + refine_final_layer1(refine_input_projection1(x0))``.
  Its foot-contact features (``get_rcond``: SMPL-X forward kinematics → ``refine_cond_projection1`` →
  ``refine_norm_cond1``) only reach that empty stack, so they do not change the output and are not computed here
  (the parameters are kept: the state dict loads as released).

The style noise is drawn inside the original forward (``torch.randn(B, 256)``, one draw per call, so the
unconditional and conditional passes of guidance use different draws); here it is an input (``style``), drawn by
:meth:`LodgeLocalDecoder.guided_forward` from a :class:`~macedance.models.official.ddim.Noise` in the same order.
Checkpoints and the normaliser are read through the restricted unpickler (:func:`read_lodge_checkpoint`,
:func:`read_lodge_normalizer`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from macedance.errors import DataFormatError, InputNotFoundError, ValidationError
from macedance.models.official.ddim import Noise
from macedance.models.official.edge import DecoderLayerStack, EdgeConfig, EdgeDanceDecoder, FiLMTransformerDecoderLayer
from macedance.models.official.normalizer import MinMaxNormalizer

STYLE_DIM = 256  # the MappingNet's noise width (hard-coded in Refine_DanceDecoder)
REFINE_COND_DIM = 48  # get_rcond: 12 contact labels + 12 scores + 12 foot positions + 12 velocities
#: ``dld/data/FineDance_dataset.py`` ``Genres_fd``: FineDance ``style2`` label → genre row (aliases share a row).
LODGE_GENRES: dict[str, int] = {
    "Breaking": 0, "Popping": 1, "Locking": 2, "Hiphop": 3, "Urban": 4, "Jazz": 5, "jazz": 5, "Tai": 6, "Uighur": 7,
    "Hmong": 8, "Dai": 6, "Wei": 7, "Miao": 8, "HanTang": 9, "ShenYun": 10, "Kun": 11, "DunHuang": 12, "Korean": 13,
    "Choreography": 14, "Chinese": 15,
}
#: One name per row (the first the table gives it).
LODGE_GENRE_NAMES: tuple[str, ...] = tuple(next(n for n, i in LODGE_GENRES.items() if i == row) for row in range(16))
#: The inert stand-ins a Lightning checkpoint may need (classes from these packages are recorded, never imported).
CKPT_INERT_MODULES = ("pytorch_lightning", "lightning_fabric", "lightning", "omegaconf", "typing", "collections", "dld",
                      "torchmetrics")


def lodge_genre_id(name: str) -> int:
    """The genre row of a FineDance ``style2`` label (as ``infer_lodge.py``: ``Genres_fd[music2genre[song]]``)."""
    if name not in LODGE_GENRES:
        raise ValidationError("genre", "one of " + ", ".join(LODGE_GENRES), repr(name))
    return LODGE_GENRES[name]


@dataclass(frozen=True)
class LodgeGlobalConfig(EdgeConfig):
    """Sizes of the global ``DanceDecoder`` (defaults: ``configs/lodge/coarse_finedance_fea139.yaml``)."""

    nfeats: int = 139  # 4 foot contacts, root position, 22 SMPL-X body joints × 6D
    seq_len: int = 1024  # FINEDANCE.full_seq_len: 34.1 s of music at 30 fps (the null embedding's length)
    cond_feature_dim: int = 35


@dataclass(frozen=True)
class LodgeLocalConfig(EdgeConfig):
    """Sizes of ``Refine_DanceDecoder`` (defaults: ``configs/lodge/finedance_fea139_finetune_v2.yaml``, except
    ``seq_len``: the yaml's ``full_seq_len`` is 1024, but the released inference feeds 256-frame windows, which only
    a 256-frame null embedding accepts — the base config ``finedance_fea139.yaml`` that it fine-tunes has 256)."""

    nfeats: int = 139
    seq_len: int = 256
    cond_feature_dim: int = 35
    genre_num: int = 16  # FINEDANCE.GENRE_NUM
    num_layers: int = 8  # the yaml's; seqTransDecoder holds num_layers + 1 (the refine layer is appended to it)

    @classmethod
    def from_state_dict(cls, sd: Any, *, num_heads: int = 8, source: str = "state dict") -> "LodgeLocalConfig":
        """Sizes read from a ``Refine_DanceDecoder`` state dict's shapes (pass the head count when not 8)."""
        base = super().from_state_dict(sd, num_heads=num_heads, source=source)
        heads = {k.split(".")[2] for k in sd if k.startswith("mapping.unshared.")}
        if not heads or "refine_final_layer1.weight" not in sd:
            raise DataFormatError(f"{source}: `mapping.unshared.*`, `refine_final_layer1.weight`: expected LODGE "
                                  "Refine_DanceDecoder entries, found none")
        return dataclasses.replace(base, num_layers=base.num_layers - 1, genre_num=len(heads))


class LodgeGlobalDecoder(EdgeDanceDecoder):
    """The global ``DanceDecoder`` (= EDGE's): x0 of the (B, 104, 139) primitives from music (B, 1024, 35)."""

    def __init__(self, cfg: LodgeGlobalConfig | None = None):
        super().__init__(cfg or LodgeGlobalConfig())


class MappingNet(nn.Module):
    """The official ``MappingNet``: noise (B, in_dim) → shared Linear-GELU ×2 → every genre head (Linear-GELU-Linear)
    → the row of each sample's genre; (B, in_dim), (B,) int → (B, dim)."""

    def __init__(self, in_dim: int, dim: int, genre_num: int):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim), nn.GELU())
        self.unshared = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim)) for _ in range(genre_num))

    def forward(self, x: torch.Tensor, genre: torch.Tensor) -> torch.Tensor:
        s = self.shared(x)
        s = torch.stack([head(s) for head in self.unshared], dim=1)  # (B, genre_num, dim), as released
        return s[torch.arange(len(genre), device=s.device), genre]


class _StyleNorm(nn.LayerNorm):
    """``norm_cond`` of the local decoder: the LayerNorm of [music tokens; time tokens; style token] — EDGE's forward
    normalises the first two, the style token of the current call (``style``, (B, 1, d) or None) is appended here."""

    style: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if self.style is None else torch.cat((x, self.style), dim=1))


# Refine_DanceDecoder's module registration order (the state dict's key order, and the optimizer's parameter order).
_LOCAL_ORDER = ("mapping", "rotary", "abs_pos_encoding", "time_mlp", "to_time_cond", "to_time_tokens", "norm_cond",
                "refine_norm_cond1", "input_projection", "cond_encoder", "cond_projection", "non_attn_cond_projection",
                "seqTransDecoder", "final_layer", "refine_final_layer1", "refine_input_projection1",
                "refine_cond_projection1", "refine_seqTransDecoder1")


class LodgeLocalDecoder(EdgeDanceDecoder):
    """The official ``Refine_DanceDecoder``: x0 (B, T, 139) from x_t (B, T, 139), music (B, 256, 35), t (B,) int, keep
    (B,) bool, and optionally genre (B,) int with its style noise (B, 256)."""

    def __init__(self, cfg: LodgeLocalConfig | None = None):
        cfg = cfg or LodgeLocalConfig()
        super().__init__(cfg)
        d = cfg.latent_dim
        self.mapping = MappingNet(STYLE_DIM, d, cfg.genre_num)
        self.norm_cond = _StyleNorm(d)
        self.refine_norm_cond1 = nn.LayerNorm(d)
        self.refine_final_layer1 = nn.Linear(d, cfg.nfeats)
        self.refine_input_projection1 = nn.Linear(cfg.nfeats, d)
        self.refine_cond_projection1 = nn.Linear(REFINE_COND_DIM, d)
        self.seqTransDecoder.stack.append(FiLMTransformerDecoderLayer(cfg, self.rotary))  # as released (see module doc)
        self.refine_seqTransDecoder1 = DecoderLayerStack(nn.ModuleList())
        self._modules = {**{k: self._modules[k] for k in _LOCAL_ORDER if k in self._modules}, **self._modules}

    def forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, keep: torch.Tensor,
                genre: torch.Tensor | None = None, style: torch.Tensor | None = None) -> torch.Tensor:
        """``keep`` as :meth:`EdgeDanceDecoder.forward`; ``genre`` (B,) int64 with ``style`` (B, 256) N(0, I), or
        neither (the original's ``genre_id=None``: no style token)."""
        token = None
        if genre is not None:
            B = x.shape[0]
            if style is None or style.shape != (B, STYLE_DIM) or genre.shape != (B,):
                raise ValidationError("genre, style", f"shapes ({B},) and ({B}, {STYLE_DIM})",
                                      f"{tuple(genre.shape)}, {None if style is None else tuple(style.shape)}")
            token = self.mapping(style.to(x), genre)[:, None]
        norm: _StyleNorm = self.norm_cond  # type: ignore[assignment]
        norm.style = token
        try:
            out = super().forward(x, cond, times, keep=keep)
        finally:
            norm.style = None
        return out + self.refine_final_layer1(self.refine_seqTransDecoder1(self.refine_input_projection1(out), None, None))

    def guided_forward(self, x: torch.Tensor, cond: torch.Tensor, times: torch.Tensor, *, weight: float,  # type: ignore[override]
                       genre: torch.Tensor | None = None, noise: Noise | None = None) -> torch.Tensor:
        """Classifier-free guidance as released: uncond + (cond − uncond)·weight; with a genre, each pass draws its
        own style noise (B, 256) from ``noise``, the unconditional pass first."""
        B, dev = x.shape[0], x.device
        if genre is not None and noise is None:
            raise ValidationError("noise", "a Noise to draw the style noise from (a genre is given)", "None")

        def style() -> torch.Tensor | None:
            return None if genre is None or noise is None else noise.randn((B, STYLE_DIM), device=dev)

        unc = self(x, cond, times, keep=torch.zeros(B, dtype=torch.bool, device=dev), genre=genre, style=style())
        conditioned = self(x, cond, times, keep=torch.ones(B, dtype=torch.bool, device=dev), genre=genre, style=style())
        return unc + (conditioned - unc) * weight


# ---- released files ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LodgeCheckpoint:
    """A released Lightning ``.ckpt`` of ``Global_Module`` or ``Local_Module`` as plain records."""

    source: str
    sha256: str
    stage: Literal["global", "local"]
    state_dict: dict[str, torch.Tensor]  # the decoder inference uses (``DanceDecoder.*`` = ``diffusion.model.*``)
    ema_state_dict: dict[str, torch.Tensor]  # ``diffusion.master_model.*`` (the EMA copy; unused by infer_lodge.py)
    module_keys: tuple[str, ...]  # every key of the Lightning module's state dict (dis_model, diffusion buffers …)
    entries: tuple[str, ...]  # top-level keys of the file
    hyper_parameters: dict[str, Any]  # plain data ({} when the file has none: LODGE never saves them)
    epoch: int | None
    global_step: int | None
    lightning_version: str | None


def plain(obj: Any, depth: int = 0) -> Any:
    """An inert record tree (omegaconf ``DictConfig``/``ListConfig``/nodes, other pickled classes) as builtins:
    containers by their content, nodes by their value, other records as ``{"__class__": "mod.Name", **state}``."""
    from macedance.safe_pickle import InertObject

    if depth > 64:
        raise DataFormatError("hyper_parameters: nested more than 64 levels deep")
    if isinstance(obj, type):
        return f"{getattr(obj, 'pickle_module', obj.__module__)}.{getattr(obj, 'pickle_name', obj.__name__)}"
    if isinstance(obj, InertObject):
        state = obj.state if isinstance(obj.state, dict) else {"state": obj.state}
        if obj.pickle_module.startswith("omegaconf") and ("_content" in state or "_val" in state):
            return plain(state.get("_content", state.get("_val")), depth + 1)
        return {"__class__": f"{obj.pickle_module}.{obj.pickle_name}", **{str(k): plain(v, depth + 1) for k, v in state.items()}}
    if isinstance(obj, dict):
        return {k: plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v, depth + 1) for v in obj)
    return obj


def read_lodge_checkpoint(path: str | Path) -> LodgeCheckpoint:
    """Read a LODGE Lightning checkpoint (``epoch=2999.ckpt`` of the global stage, ``epoch=299.ckpt`` of the local
    one) through the restricted unpickler: tensors and builtins; classes of Lightning, omegaconf and LODGE become inert
    records, nothing is imported or run.

    Raises:
        InputNotFoundError; DataFormatError (not a torch archive, no ``state_dict``, no ``DanceDecoder.*``);
        UnsafePickleError (the pickle names anything else).
    """
    from macedance.safe_pickle import load_torch_archive

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: checkpoint not found")
    raw, source = path.read_bytes(), str(path)
    obj = load_torch_archive(raw, source, inert_modules=CKPT_INERT_MODULES)
    sd = obj.get("state_dict") if isinstance(obj, dict) else None
    if not isinstance(sd, dict):
        found = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(f"{source}: `state_dict`: expected a Lightning checkpoint, found {found}")
    odd = next((k for k, v in sd.items() if not isinstance(v, torch.Tensor)), None)
    if odd is not None:
        raise DataFormatError(f"{source}: `state_dict.{odd}`: expected a tensor, found {type(sd[odd]).__name__}")

    def sub(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}

    model = sub("DanceDecoder.") or sub("diffusion.model.")
    if not model:
        raise DataFormatError(f"{source}: `DanceDecoder.*`: expected a LODGE Global_Module or Local_Module state dict, "
                              f"found keys {sorted(sd)[:4]}…")
    hp = plain(obj.get("hyper_parameters") or {})
    meta = {k: obj.get(k) for k in ("epoch", "global_step", "pytorch-lightning_version")}
    return LodgeCheckpoint(source, hashlib.sha256(raw).hexdigest(), "local" if "refine_final_layer1.weight" in model else "global",
                           model, sub("diffusion.master_model."), tuple(map(str, sd)), tuple(map(str, obj)),
                           hp if isinstance(hp, dict) else {"hyper_parameters": hp},
                           *(v if isinstance(v, int) else None for v in (meta["epoch"], meta["global_step"])),
                           meta["pytorch-lightning_version"] if isinstance(meta["pytorch-lightning_version"], str) else None)


def load_lodge_decoder(ckpt: LodgeCheckpoint, *, num_heads: int = 8, weights: Literal["model", "ema"] = "model",
                       device: str = "cpu") -> LodgeGlobalDecoder | LodgeLocalDecoder:
    """The checkpoint's decoder (sizes from its shapes; ``strict=True``) in eval mode; ``weights="model"`` is what
    ``infer_lodge.py`` samples with. Errors name the file."""
    sd = ckpt.state_dict if weights == "model" else ckpt.ema_state_dict
    if not sd:
        raise DataFormatError(f"{ckpt.source}: `diffusion.master_model.*`: expected the EMA decoder, found none")
    model: LodgeGlobalDecoder | LodgeLocalDecoder
    if ckpt.stage == "local":
        model = LodgeLocalDecoder(LodgeLocalConfig.from_state_dict(sd, num_heads=num_heads, source=ckpt.source))
    else:
        model = LodgeGlobalDecoder(LodgeGlobalConfig.from_state_dict(sd, num_heads=num_heads, source=ckpt.source))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise DataFormatError(f"{ckpt.source}: not a LODGE {ckpt.stage} decoder state dict ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval()


def read_lodge_normalizer(path: str | Path) -> MinMaxNormalizer:
    """``data/Normalizer.pth`` (a pickled ``dld.data.utils.preprocess.Normalizer`` holding a ``MinMaxScaler``, fitted
    on the 139-d training motions, range (−1, 1), clip) read as an inert record → :class:`MinMaxNormalizer`."""
    from macedance.safe_pickle import load_torch_archive

    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: normalizer not found")
    norm = MinMaxNormalizer.from_pickled(load_torch_archive(path.read_bytes(), str(path), inert_modules=("dld",)), source=str(path))
    if norm.channels != LodgeGlobalConfig.nfeats:
        raise DataFormatError(f"{path}: `scaler.scale_`: expected {LodgeGlobalConfig.nfeats} channels, found {norm.channels}")
    return norm
