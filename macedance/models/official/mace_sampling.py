"""MACE-Dance's released sampler (``GaussianDiffusion.ddim_sample`` of ``Expert-Motion/model/diffusion.py``): DDIM
over the whole sequence in one pass, 50 evaluations at t = 999, 979, …, 19 (the last returns its x0), η = 1, x0
clipped to [−1, 1] with ε recomputed from the clipped x0, Guidance-Free Training inference at β = 0.75 (one
network evaluation per step).

Speed options of the samplers (``compile_mode``, ``cuda_graph``; default: neither, the plain eager loop): the network
evaluation of a step — everything but the DDIM update and the noise — runs under ``torch.compile`` and/or is captured
once as a CUDA graph and replayed at every later step (:func:`accelerate_step`). The DDIM arithmetic and the random
numbers are the same; only the kernels that evaluate the network change (fused or replayed), so outputs agree with
the eager loop to float rounding (bit-identical for a replayed graph of the same kernels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar, get_args

import torch

from macedance.errors import ValidationError
from macedance.models.official.ddim import DiffusionSchedule, Noise, cosine_schedule, ddim_time_pairs
from macedance.models.official.mace import MaceDanceDecoder

CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
COMPILE_MODES: tuple[CompileMode, ...] = get_args(CompileMode)
_Out = TypeVar("_Out")


class _FastStep:
    """``step`` (tensors → tensor or tuple of tensors, the same shapes at every call) compiled and/or replayed from a
    CUDA graph. Call 1 runs eagerly (lazy initialisation — cuBLAS handles, the ``mamba_ssm`` probe of
    :mod:`macedance.models.mamba` — stays out of compiled and captured code). With a graph, the warm-up runs on a side
    stream (torch's recipe), then, when compiling, call 2 runs the compiled code there too (compilation, autotuning),
    then one call captures; every later call copies its inputs into the captured buffers and replays. A replayed call
    returns the graph's output buffers: use them before the next call."""

    def __init__(self, step: Callable[..., _Out], *, compile_mode: CompileMode | None, cuda_graph: bool):
        self.eager = step
        self.fn = torch.compile(step, mode=compile_mode) if compile_mode is not None else step
        self.cuda_graph, self.cudagraph_trees = cuda_graph, compile_mode in ("reduce-overhead", "max-autotune")
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: list[torch.Tensor] = []
        self.out: _Out | None = None

    def __call__(self, *args: torch.Tensor) -> _Out:
        self.calls += 1
        if self.calls == 1:
            return _on_side_stream(self.eager, args) if self.cuda_graph else self.eager(*args)
        if not self.cuda_graph:
            if self.cudagraph_trees:
                torch.compiler.cudagraph_mark_step_begin()
            return self.fn(*args)
        if self.graph is None:
            if self.calls == 2 and self.fn is not self.eager:
                return _on_side_stream(self.fn, args)
            self.static = [a.clone() for a in args]
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = self.fn(*self.static)
        for buffer, a in zip(self.static, args, strict=True):
            buffer.copy_(a)
        self.graph.replay()
        assert self.out is not None
        return self.out


def _on_side_stream(fn: Callable[..., _Out], args: tuple[torch.Tensor, ...]) -> _Out:
    """Run ``fn`` on a side stream, as torch's CUDA-graph recipe warms up before a capture."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = fn(*args)
    torch.cuda.current_stream().wait_stream(side)
    return out


def accelerate_step(step: Callable[..., _Out], *, device: torch.device, compile_mode: CompileMode | None = None,
                    cuda_graph: bool = False) -> Callable[..., _Out]:
    """``step`` itself, or ``step`` run under ``torch.compile(mode=compile_mode)`` and/or captured as a CUDA graph once
    and replayed (see :class:`_FastStep`; its arguments must be tensors with the same shapes at every call).

    Raises:
        ValidationError: an unknown mode; ``cuda_graph`` off CUDA, with a mode that makes its own graphs
            (``reduce-overhead``, ``max-autotune``), or under autocast with its cast cache on (torch's rule for graphs:
            ``torch.autocast(..., cache_enabled=False)``).
    """
    if compile_mode is not None and compile_mode not in COMPILE_MODES:
        raise ValidationError("compile_mode", "one of " + ", ".join(COMPILE_MODES), repr(compile_mode))
    if cuda_graph:
        if device.type != "cuda":
            raise ValidationError("cuda_graph", "a CUDA device", str(device))
        if compile_mode in ("reduce-overhead", "max-autotune"):
            raise ValidationError("cuda_graph", "no compile mode that captures its own CUDA graphs", repr(compile_mode))
        if torch.is_autocast_enabled("cuda") and torch.is_autocast_cache_enabled():
            raise ValidationError("cuda_graph", "autocast with cache_enabled=False", "autocast with its cast cache on")
    if compile_mode is None and not cuda_graph:
        return step
    return _FastStep(step, compile_mode=compile_mode, cuda_graph=cuda_graph)


@torch.no_grad()
def mace_ddim_sample(model: MaceDanceDecoder, music: torch.Tensor, genre: torch.Tensor, *, noise: Noise, beta: float = 0.75,
                     steps: int = 50, eta: float = 1.0, schedule: DiffusionSchedule | None = None,
                     progress: Callable[[int, int], None] | None = None, compile_mode: CompileMode | None = None,
                     cuda_graph: bool = False) -> torch.Tensor:
    """Sample normalised motion.

    Args:
        music: (B, T, 35) music features at 30 fps; the motion has the same T.
        genre: (B,) genre indices (:data:`~macedance.models.official.mace.MACE_GENRES`).
        noise: the random numbers (``Noise(seed=…, mode="official")`` reproduces the original's draws on CPU).
        beta: GFT inference temperature (released: 0.75).
        compile_mode: run the network under ``torch.compile`` with this mode (None: eager, the default).
        cuda_graph: capture the network evaluation once as a CUDA graph and replay it at each step (CUDA only).
    Returns:
        (B, T, nfeats) normalised representation (contacts, root, 24 × 6D).
    """
    B, T = music.shape[:2]
    dev = music.device
    sched = (schedule or cosine_schedule()).to(dev)
    x = noise.randn((B, T, model.cfg.nfeats), device=dev)
    keep = torch.ones(B, dtype=torch.bool, device=dev)
    b = torch.full((B,), beta, device=dev)
    pairs = ddim_time_pairs(steps=steps)

    def step(x_t: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        return model(x_t, music, genre, times, b, keep=keep)

    net = accelerate_step(step, device=dev, compile_mode=compile_mode, cuda_graph=cuda_graph)
    for i, (t, t_next) in enumerate(pairs):
        noise.model_call(B)
        x0 = net(x, torch.full((B,), t, device=dev, dtype=torch.long)).clamp(-1.0, 1.0)
        x = sched.ddim_step(x, x0, t, t_next, eta=eta, noise=noise)
        if progress is not None:
            progress(i + 1, len(pairs))
    return x
