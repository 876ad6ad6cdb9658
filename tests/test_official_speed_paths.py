"""The speed options of the official samplers (``compile_mode``, ``cuda_graph`` of ``mace_ddim_sample``,
``edge_ddim_sample`` and ``edge_long_ddim_sample``) give the eager loop's output.

On CPU, ``torch.compile`` is replaced by dynamo with the ``eager`` backend and ``fullgraph=True``: the options' plumbing
(first call eager, the guidance weight as a 0-d tensor, no recompilation between steps or calls) runs in seconds and the
networks must trace as one graph; Inductor needs a C++ compiler and ~50 s per tiny model on CPU, so the real
compilers and CUDA graphs are tested under the ``gpu`` marker. Tolerances: dynamo's eager backend runs the same
operators (bit-identical here; bound 1e-6 relative to the output's scale); a replayed CUDA graph runs the same kernels,
but cuBLAS may pick another algorithm on the capture stream (float32 1e-5, bf16 1e-2: a few bf16 roundings); Inductor
fuses and reorders float32 arithmetic (1e-4 after the few DDIM steps here).
"""

from __future__ import annotations

import functools

import pytest
import torch

from macedance.errors import ValidationError
from macedance.models.official.ddim import Noise
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.edge_sampling import edge_long_ddim_sample
from macedance.models.official.mace import MaceConfig, MaceDanceDecoder
from macedance.models.official.mace_sampling import accelerate_step, mace_ddim_sample

STEPS = 5
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def tiny_mace(device: str = "cpu") -> MaceDanceDecoder:
    torch.manual_seed(0)
    model = MaceDanceDecoder(MaceConfig(latent_dim=16, ff_size=32, dance_layers=2, music_layers=1, d_state=4, num_heads=2))
    with torch.no_grad():
        model.null_cond_embed.normal_()
    return model.to(device).eval()


def tiny_edge(device: str = "cpu") -> EdgeDanceDecoder:
    torch.manual_seed(0)
    return EdgeDanceDecoder(EdgeConfig(latent_dim=16, ff_size=32, num_layers=2, num_heads=2, seq_len=20, cond_feature_dim=35)).to(device).eval()


def mace_run(model: MaceDanceDecoder, device: str, **options) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    music = torch.randn(1, 48, 35, generator=g).to(device)
    return mace_ddim_sample(model, music, torch.tensor([3], device=device), noise=Noise(seed=7), steps=STEPS, **options).cpu()


def edge_run(model: EdgeDanceDecoder, device: str, **options) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    cond = torch.randn(3, 20, 35, generator=g).to(device)
    return edge_long_ddim_sample(model, cond, noise=Noise(seed=7), steps=STEPS, **options).cpu()


def assert_close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> None:
    err, scale = (a - b).abs().max().item(), b.abs().max().item()
    assert err <= rtol * scale, f"max |Δ| {err:.3g} > {rtol:g} × {scale:.3g}"


@pytest.fixture
def traced_compile(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``torch.compile`` → dynamo with the eager backend, whole-graph (a graph break raises); records the modes asked."""
    modes: list[str] = []
    real = torch.compile

    def compile_(fn, *, mode=None):
        modes.append(mode)
        return real(fn, backend="eager", fullgraph=True)

    monkeypatch.setattr(torch, "compile", compile_)
    torch._dynamo.reset()
    yield modes
    torch._dynamo.reset()


def test_compiled_mace_sampler_is_the_eager_one_and_traces_as_one_graph(traced_compile: list[str]) -> None:
    from torch._dynamo.utils import counters

    model = tiny_mace()
    ref = mace_run(model, "cpu")
    counters.clear()
    first = mace_run(model, "cpu", compile_mode="max-autotune-no-cudagraphs")
    again = mace_run(model, "cpu", compile_mode="max-autotune-no-cudagraphs")  # a second call reuses the compiled code
    assert traced_compile == ["max-autotune-no-cudagraphs"] * 2
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert_close(first, ref, 1e-6)
    assert torch.equal(first, again)


def test_compiled_edge_long_sampler_is_the_eager_one_without_a_recompile_per_guidance_weight(traced_compile: list[str]) -> None:
    from torch._dynamo.utils import counters

    model = tiny_edge()
    ref = edge_run(model, "cpu")
    counters.clear()
    out = edge_run(model, "cpu", compile_mode="default")
    assert traced_compile == ["default"]
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])  # 5 steps, 4 distinct weights of the ramp: one graph
    assert_close(out, ref, 1e-6)


def test_speed_options_refuse_what_cannot_run() -> None:
    step = torch.nn.Identity()
    with pytest.raises(ValidationError, match="cuda_graph: expected a CUDA device, found cpu"):
        accelerate_step(step, device=torch.device("cpu"), cuda_graph=True)
    with pytest.raises(ValidationError, match="compile_mode: expected one of default, reduce-overhead"):
        mace_run(tiny_mace(), "cpu", compile_mode="fast")
    with pytest.raises(ValidationError, match="cuda_graph: expected a CUDA device"):
        edge_run(tiny_edge(), "cpu", cuda_graph=True)
    assert accelerate_step(step, device=torch.device("cpu")) is step  # default: the plain eager call


@pytest.mark.gpu
@cuda
def test_cuda_graph_replays_give_the_eager_output_on_cuda() -> None:
    mace, edge = tiny_mace("cuda"), tiny_edge("cuda")
    assert_close(mace_run(mace, "cuda", cuda_graph=True), mace_run(mace, "cuda"), 1e-5)
    assert_close(edge_run(edge, "cuda", cuda_graph=True), edge_run(edge, "cuda"), 1e-5)
    with torch.autocast("cuda", dtype=torch.bfloat16), pytest.raises(ValidationError, match="cache_enabled=False"):
        mace_run(mace, "cuda", cuda_graph=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
        bf16 = mace_run(mace, "cuda", cuda_graph=True)
        assert_close(bf16, mace_run(mace, "cuda"), 1e-2)  # the same bf16 kernels, replayed


@pytest.mark.gpu
@cuda
def test_inductor_paths_give_the_eager_output_on_cuda() -> None:
    torch._dynamo.reset()
    mace, edge = tiny_mace("cuda"), tiny_edge("cuda")
    run = functools.partial(mace_run, mace, "cuda")
    assert_close(run(compile_mode="default", cuda_graph=True), run(), 1e-4)
    assert_close(edge_run(edge, "cuda", compile_mode="reduce-overhead"), edge_run(edge, "cuda"), 1e-4)
