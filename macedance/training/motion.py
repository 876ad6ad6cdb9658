"""Train the Motion Expert (or a baseline/ablation configuration): resumable, atomic checkpoints,
EMA weights, loss curves as CSV and PNG.

Run folder layout: ``checkpoint.pt`` (latest state, written atomically; loads with
``torch.load(weights_only=True)``), ``loss.csv``, ``loss.png``, ``config.json``, ``skipped.json``.
Resuming restores model, EMA, optimiser, step and every random generator, so an interrupted run
continues exactly as the uninterrupted one would (up to floating-point non-determinism).

Runs as one process or under ``accelerate launch`` / ``torchrun`` (DDP; see
:mod:`macedance.training.distributed`): ``batch`` is the global batch of one optimiser step, split
over processes and ``grad_accum`` micro-steps; only the main process writes the run folder.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from macedance import __version__
from macedance.errors import MaceDanceError, ValidationError
from macedance.fileio import append_line, write_json
from macedance.models.diffusion import Diffusion, DiffusionConfig
from macedance.models.motion_expert import NUM_GENRES, ExpertConfig
from macedance.models.official.adapters import make_network
from macedance.models.official.normalizer import MinMaxNormalizer
from macedance.models.representation import Normalizer
from macedance.presets import ConfigRecord
from macedance.training.data import DEFAULT_GENRES, Sequence, load_training_set
from macedance.training.logs import holds_run_folder, last_logged, plot_losses, save_checkpoint, start_loss_csv

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
OFFICIAL_CHECKPOINT = "official.pt"  # runs of a released module tree: the latest weights in the released layout
LOSS_KEYS = ("loss", "rec", "joint", "vel", "foot")  # the terms of a step's loss (loss.csv columns, summary["last_loss"])


@dataclass(frozen=True)
class TrainConfig(ConfigRecord):
    steps: int = 1000
    batch: int = 32
    window: int = 240  # frames (8 s at 30 fps)
    lr: float = 4e-4
    weight_decay: float = 0.02
    ema: float = 0.9999
    grad_clip: float = 1.0
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"
    grad_accum: int = 1  # micro-steps per optimiser step; ``batch`` is the global batch of one step



def genre_vocab(seqs: list[Sequence], slots: int = NUM_GENRES) -> list[str]:
    """AIST++'s genres, then the others as seen, up to ``slots`` names (the id after the last means unknown)."""
    vocab = list(DEFAULT_GENRES)
    for s in seqs:
        if s.genre and s.genre not in vocab and len(vocab) < slots:
            vocab.append(s.genre)
    return vocab


def official_network(cfg: ExpertConfig) -> bool:
    return cfg.network != "macedance"


def fit_normalizer(cfg: ExpertConfig, seqs: list[Sequence]) -> Normalizer | MinMaxNormalizer:
    """Ours, or for a released module tree the released min–max scaler (so that the exported file holds the very
    normaliser the run used)."""
    if official_network(cfg):
        import numpy as np

        return MinMaxNormalizer.fit(torch.as_tensor(np.concatenate([s.rep for s in seqs]), dtype=torch.float32))
    return Normalizer.fit([s.rep for s in seqs])


def normalizer_from_state(d: dict[str, Any]) -> Normalizer | MinMaxNormalizer:
    return MinMaxNormalizer.from_pickled(d, source="checkpoint") if "scale_" in d else Normalizer.from_state_dict(d)


def genre_id(genre: str | None, vocab: list[str]) -> int:
    return vocab.index(genre) if genre in vocab else NUM_GENRES


class Windows:
    """All training windows (sequence, start) of ``window`` frames."""

    def __init__(self, seqs: list[Sequence], window: int, norm: Normalizer, vocab: list[str]):
        self.reps = [norm.normalize(torch.as_tensor(s.rep)) for s in seqs]
        self.music = [torch.as_tensor(s.music) for s in seqs]
        self.genres = [genre_id(s.genre, vocab) for s in seqs]
        self.window = window
        self.index = [(i, st) for i, s in enumerate(seqs) for st in range(0, len(s.rep) - window + 1, max(1, window // 2))]
        if not self.index:
            raise MaceDanceError(f"no sequence is at least {window} frames long ({window / 30:g} s at 30 fps)")

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sel = [self.index[int(k)] for k in idx]
        w = self.window
        x = torch.stack([self.reps[i][s : s + w] for i, s in sel])
        m = torch.stack([self.music[i][s : s + w] for i, s in sel])
        g = torch.tensor([self.genres[i] for i, _ in sel])
        return x, m, g


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A run's checkpoint (``weights_only=True``); accepts the run folder or the file."""
    p = Path(path)
    p = p / CHECKPOINT if p.is_dir() else p
    if not p.is_file():
        raise MaceDanceError(f"{p}: no checkpoint (train a model with `macedance train motion` first)")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MaceDanceError(f"{p}: not a readable macedance checkpoint ({exc})") from None


def build_model(state: dict[str, Any], ema: bool = True) -> tuple[torch.nn.Module, Diffusion, list[str]]:
    """Model (EMA weights by default), diffusion and genre vocabulary from a checkpoint dict."""
    model = make_network(ExpertConfig.from_dict(state["expert_config"]))
    model.load_state_dict(state["ema" if ema else "model"])
    diffusion = Diffusion(DiffusionConfig.from_dict(state["diffusion_config"]), normalizer_from_state(state["normalizer"]))
    return model.eval(), diffusion, list(state["genres"])


TINY_TRAIN = {"batch": 8, "window": 120}  # the training sizes that go with ExpertConfig.tiny()


def read_train_config(path: str | Path | None) -> dict[str, Any]:
    """A JSON file of overrides ``{"expert": {...}, "diffusion": {...}, "train": {...}}`` ({} for None)."""
    import json

    if path is None:
        return {}
    path = Path(path)
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MaceDanceError(f"{path}: not a readable JSON config ({exc})") from None
    unknown = sorted(set(cfg) - {"expert", "diffusion", "train"})
    if not isinstance(cfg, dict) or unknown:
        raise MaceDanceError(f"{path}: expected an object with keys expert/diffusion/train, found {unknown}")
    return cfg


def motion_configs(method: str, *, overrides: dict[str, Any] | None = None, tiny: bool = False,
                   train: dict[str, Any] | None = None) -> tuple[ExpertConfig, DiffusionConfig, TrainConfig]:
    """The configurations to train ``method`` (a diffusion method of the catalogue) with: the default (or tiny)
    network, then ``overrides`` (as read by :func:`read_train_config`), then the method's own network choices; the
    training options ``train`` win over the overrides' ``train``."""
    from macedance.methods.catalog import METHODS, get_method

    info = get_method(method)
    if info.kind != "diffusion":
        trainable = ", ".join(m.name for m in METHODS.values() if m.kind == "diffusion")
        raise ValidationError("method", f"a trainable diffusion method ({trainable})", f"{method!r} ({info.kind})")
    cfg = overrides or {}
    base = ExpertConfig.tiny() if tiny else ExpertConfig()
    expert = ExpertConfig.from_dict({**base.to_dict(), **cfg.get("expert", {}), **info.expert})
    diffusion = DiffusionConfig.from_dict({**info.diffusion, **cfg.get("diffusion", {})})
    train_cfg = TrainConfig.from_dict({**(TINY_TRAIN if tiny else {}), **cfg.get("train", {}), **(train or {})})
    if expert.network == "edge-official":  # EDGE's null embedding has the window's length
        expert = ExpertConfig.from_dict({**expert.to_dict(), "seq_len": train_cfg.window})
    return expert, diffusion, train_cfg


@holds_run_folder
def train_motion(
    data: str | Path,
    run: str | Path,
    *,
    expert: ExpertConfig,
    diffusion_cfg: DiffusionConfig,
    train: TrainConfig,
    music_dir: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int, int, float], None] | None = None,
    stop_after: int | None = None,
    method: str = "mace-dance",
) -> dict[str, Any]:
    """Train (or resume) into ``run``; returns a summary. ``stop_after`` ends early (tests: interruption). The run
    folder is held by this run (:mod:`macedance.folder_lock`); a killed run's temporary files there are deleted."""
    from macedance.training.distributed import runtime

    run = Path(run)
    ckpt_path = run / CHECKPOINT
    state = load_checkpoint(ckpt_path) if (resume and ckpt_path.is_file()) else None
    if ckpt_path.is_file() and not resume:
        raise MaceDanceError(f"{run}: already holds a run; continue it with `resume` or choose another `out`")
    if state is not None:
        method = str(state.get("method", method))
        expert = ExpertConfig.from_dict(state["expert_config"])
        diffusion_cfg = DiffusionConfig.from_dict(state["diffusion_config"])
        train = TrainConfig.from_dict({**state["train_config"], "steps": train.steps})
    rt = runtime(train.device)
    micro = rt.micro_batches(train.batch, train.grad_accum)
    seqs, skipped = load_training_set(data, music_dir)
    if not seqs:
        raise MaceDanceError(f"{data}: no usable training sequence ({skipped[0]['reason'] if skipped else 'empty'})")
    torch.manual_seed(train.seed)
    norm = normalizer_from_state(state["normalizer"]) if state else fit_normalizer(expert, seqs)
    # a released genre table has 16 rows: 15 names + unknown
    vocab = list(state["genres"]) if state else genre_vocab(seqs, NUM_GENRES - 1 if expert.network == "mace-official" else NUM_GENRES)
    windows = Windows(seqs, train.window, norm, vocab)
    dev = rt.device
    model = make_network(expert).to(dev)  # the same initial weights on every process
    if rt.world > 1:
        torch.manual_seed(train.seed + 1 + rt.rank)  # dropout masks differ between processes
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    diffusion = Diffusion(diffusion_cfg, norm)
    gen = torch.Generator().manual_seed(train.seed)  # the same draws on every process
    step = 0
    if state:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        ranks = state.get("torch_rng_ranks") or [state["torch_rng"]]
        step = int(state["step"])
        if len(ranks) == rt.world:
            torch.set_rng_state(ranks[rt.rank])
        else:
            log.warning("resuming %d-process training with %d processes: dropout draws are re-seeded", len(ranks), rt.world)
            torch.manual_seed(train.seed + 1_000_003 * step + rt.rank)
    model, opt = rt.accelerator.prepare(model, opt)
    net = rt.accelerator.unwrap_model(model)
    csv_path = run / "loss.csv"
    if rt.is_main:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", {"expert": expert.to_dict(), "diffusion": diffusion_cfg.to_dict(), "train": asdict(train),
                                         "processes": rt.world, "macedance_version": __version__})
        write_json(run / "skipped.json", skipped)
        start_loss_csv(csv_path, ("step", *LOSS_KEYS, "seconds"), step)

    def checkpoint() -> None:
        rngs = rt.gather_objects(torch.get_rng_state())
        if rt.is_main:
            if official_network(expert):  # written first: a checkpoint.pt of step N implies an official.pt of step N
                export_official(run / OFFICIAL_CHECKPOINT, net, ema, opt, norm, expert)
            save_checkpoint(ckpt_path, {
                "model": net.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "generator": gen.get_state(), "torch_rng": rngs[0], "torch_rng_ranks": rngs, "normalizer": norm.state_dict(),
                "genres": vocab, "expert_config": expert.to_dict(), "diffusion_config": diffusion_cfg.to_dict(),
                "train_config": asdict(train), "macedance_version": __version__, "method": method,
                "last_loss": last, "train_seconds": seconds_before + time.perf_counter() - t0,
            })
            plot_losses(csv_path, run / "loss.png", keys=LOSS_KEYS, title="Motion Expert training loss")
        rt.barrier()

    t0 = time.perf_counter()
    start_step = step
    seconds_before = float(state.get("train_seconds", 0.0)) if state else 0.0
    # the losses of the last step trained (restored on resume, so a run with nothing left to do reports them too)
    last: dict[str, float] = {k: float("nan") for k in LOSS_KEYS}
    if state:
        last.update(state.get("last_loss") or {k: v for k, v in last_logged(csv_path, step).items() if k in LOSS_KEYS})
    model.train()
    gft = expert.guidance == "gft"
    end = train.steps if stop_after is None else min(train.steps, stop_after)
    while step < end:
        idx = torch.randint(0, len(windows.index), (train.batch,), generator=gen)
        draws = diffusion.draw((train.batch, train.window, windows.reps[0].shape[-1]), gen, gft)
        opt.zero_grad(set_to_none=True)
        sums: dict[str, torch.Tensor] = {}
        for k, rows in enumerate(micro):
            x, m, g = (v.to(dev) for v in windows.batch(idx[rows]))
            sync = k == len(micro) - 1
            with contextlib.nullcontext() if sync else rt.accelerator.no_sync(model):
                losses = diffusion.losses(model, x, m, g, draws=draws.part(rows))
                rt.accelerator.backward(losses["loss"] / len(micro))
            for key, v in losses.items():
                sums[key] = sums.get(key, 0.0) + v.detach() / len(micro)
        rt.accelerator.clip_grad_norm_(model.parameters(), train.grad_clip)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), net.parameters(), strict=True):
                pe.lerp_(pm, 1 - train.ema)
        step += 1
        last = {key: float(rt.mean(v)) for key, v in sums.items()}
        if rt.is_main and (step % train.log_every == 0 or step == end):
            append_line(csv_path, f"{step},{last['loss']:.6g},{last['rec']:.6g},{last['joint']:.6g},{last['vel']:.6g},"
                        f"{last['foot']:.6g},{time.perf_counter() - t0:.3f}")
        if step % train.checkpoint_every == 0 or step == end:
            checkpoint()
        if progress and rt.is_main:
            progress(step, train.steps, last["loss"])
    seconds = time.perf_counter() - t0
    return {"run": str(run), "step": step, "steps_trained": step - start_step, "sequences": len(seqs), "windows": len(windows.index),
            "processes": rt.world, "skipped": skipped, "last_loss": last, "seconds": seconds,
            "train_seconds": seconds_before + (seconds if step > start_step else 0.0)}


def export_official(path: Path, net: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer, norm: Any,
                    expert: ExpertConfig) -> None:
    """The run's weights in the released layout (model, EMA, optimiser, the pickled Normalizer): the official
    ``test.py`` loads it when the sizes are the released ones; ``--method mace-dance-official|edge-official --ckpt``
    reads any size (the head count, invisible in the shapes, is recorded under ``macedance``)."""
    from macedance.methods.official.export import write_released_checkpoint

    write_released_checkpoint(path, model_state=net.decoder.state_dict(), ema_state=ema.decoder.state_dict(), normalizer=norm,
                              optimizer_state=opt.state_dict(), extra={"macedance": {"num_heads": expert.heads, "network": expert.network,
                                                                                      "macedance_version": __version__}})
