"""Sampling speed of the released methods' ports, side by side: the MACE-Dance Motion Expert (``mace_ddim_sample``,
the whole sequence in one pass, GFT: one network evaluation per step) and EDGE (``edge_long_ddim_sample`` over the
5-s windows at 2.5-s stride that cover the frames, two evaluations per step for guidance, then ``stitch_long``),
and the autoregressive methods: Bailando and Bailando++ (greedy GPT over the 7.5-fps tokens of the same length of
dance, then VQ-VAE decoding; 60-fps output), FACT (one full forward per 60-fps frame, timed over a few frames) and
LODGE (its two-stage sampler: global windows of 1,024 frames, then 256-frame local windows; 30 fps). A closing table puts them side by side in frames/s and in seconds of dance per second
(the frame rates differ: 30 and 60 fps).

Full-size official networks (``MaceConfig()``: 66.7 M parameters; ``EdgeConfig()``: Jukebox 4800-d features, and
``EdgeConfig(cond_feature_dim=35)``) with deterministic random weights (speed does not depend on them), random music
features (feature extraction is not timed). Each variant runs the library's sampler with its speed options
(``compile_mode``, ``cuda_graph``): ``eager``; ``cuda-graph`` (one network evaluation captured, replayed per step);
``compile:MODE`` (``torch.compile``; ``reduce-overhead`` makes its own CUDA graphs); ``compile:MODE+cuda-graph``.
Per variant: a warm-up call with ``--warmup-steps`` steps (the first call of a compiled network compiles; it is
reported, not counted), then ``--repeat`` timed calls with ``--steps`` steps (each call captures its graph again:
that is counted). frames/s = frames generated / wall time of the whole sampler call (CUDA synchronised); max |Δ| =
the largest difference of the sampler's output (normalised, in [−1, 1]) from the eager variant's, same noise; the
time of the first step (setup, and the eager evaluation that the speed options run first) and the median of the later
steps are shown apart.
With ``--steps`` below 50, the 50-step numbers are extrapolated (the call + (50 − steps) × the median step) and
labelled so (the steps
of a coarser grid cost the same; avoid ``--steps 3``: its first DDIM coefficient 1 − ᾱ_next − σ² rounds below 0 in
float32 — in the original code too — and the output is NaN, flagged in the table).
``--breakdown`` adds where one MACE evaluation spends its time: the selective scans of its 20 Mamba blocks
(:mod:`macedance.models.mamba`'s parallel scan, or ``mamba_ssm``'s kernel when installed) and the scan alone by
chunk length.

    .venv/bin/python benchmarks/bench_official_methods.py [--device cpu|cuda] [--frames 1024] [--steps 50] [--batch 1]
        [--dtype fp32|bf16] [--methods mace,edge,edge35,bailando,bailandopp,fact,lodge] [--variants eager,cuda-graph,...] [--repeat 1] [--breakdown]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

import macedance.models.mamba as mamba
from macedance.models.official.ddim import Noise
from macedance.models.official.edge import EdgeConfig, EdgeDanceDecoder
from macedance.models.official.edge_sampling import edge_long_ddim_sample, stitch_long
from macedance.models.official.mace import MaceConfig, MaceDanceDecoder
from macedance.models.official.mace_sampling import COMPILE_MODES, mace_ddim_sample

from _timing import sync

CUDA_VARIANTS = "eager,cuda-graph,compile:max-autotune-no-cudagraphs,compile:reduce-overhead,compile:default+cuda-graph"
PAPER_STEPS = 50


@dataclass(frozen=True)
class Variant:
    name: str
    compile_mode: str | None
    cuda_graph: bool

    @classmethod
    def parse(cls, name: str) -> "Variant":
        graph = name == "cuda-graph" or name.endswith("+cuda-graph")
        body = name.removesuffix("+cuda-graph")
        if body in ("eager", "cuda-graph"):
            return cls(name, None, graph)
        mode = body.removeprefix("compile").removeprefix(":") or "default"
        if not body.startswith("compile") or mode not in COMPILE_MODES:
            raise SystemExit(f"--variants: expected eager, cuda-graph or compile[:MODE][+cuda-graph] with MODE in {COMPILE_MODES}, found {name!r}")
        return cls(name, mode, graph)


@dataclass
class Row:
    variant: str
    warmup_s: float
    best_s: float  # the whole sampler call
    first_s: float  # its first step (setup, the eager warm-up evaluation, a capture)
    step_s: float  # the median of its later steps
    out: torch.Tensor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--frames", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=PAPER_STEPS, help="DDIM steps timed (below 50: 50-step numbers extrapolated)")
    ap.add_argument("--batch", type=int, default=1, help="MACE sequences per call (EDGE: one song, its windows are the batch)")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast on CUDA (cache_enabled=False, as graphs need)")
    ap.add_argument("--methods", default="mace,edge,bailando,bailandopp,fact,lodge",
                    help="comma list of mace, edge (Jukebox 4800-d), edge35 (35-d features), bailando, bailandopp, fact, lodge")
    ap.add_argument("--variants", default=None, help=f"comma list; default on cuda: {CUDA_VARIANTS}; on cpu: eager")
    ap.add_argument("--warmup-steps", type=int, default=4, help="steps of the warm-up call (≥ 3: eager, compiled, captured)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    ap.add_argument("--breakdown", action="store_true", help="where one MACE evaluation spends its time (selective scans)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.dtype == "bf16" and dev.type != "cuda":
        raise SystemExit("--dtype bf16: measured with CUDA autocast only (use --device cuda)")
    variants = [Variant.parse(v) for v in (a.variants or (CUDA_VARIANTS if dev.type == "cuda" else "eager")).split(",")]
    if variants[0].name != "eager":
        variants.insert(0, Variant.parse("eager"))  # the reference of max |Δ|
    if dev.type != "cuda" and any(v.cuda_graph or v.compile_mode == "reduce-overhead" for v in variants):
        raise SystemExit("--variants: CUDA graphs (cuda-graph, reduce-overhead) need --device cuda")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    scan = "mamba_ssm CUDA kernel" if dev.type == "cuda" and mamba._fast_scan() is not None else "pure-PyTorch parallel scan"
    print(f"device: {name}; torch {torch.__version__}; {a.dtype}; selective scan: {scan}")
    print(f"{a.frames} frames, {a.steps} DDIM steps timed, MACE batch {a.batch}, best of {a.repeat}")
    summary: list[tuple[str, float, float]] = []  # (method, frames/s, seconds of dance per second), eager
    for method in a.methods.split(","):
        if method in AUTOREGRESSIVE:
            summary.append(run_autoregressive(method, a, dev))
        else:
            summary.append(run_method(method, a, dev, variants))
    at = f"{PAPER_STEPS} DDIM steps" + (f" (extrapolated from {a.steps})" if a.steps != PAPER_STEPS else "")
    print(f"\nside by side (eager; lengths as above — {a.frames} frames at 30 fps for MACE-Dance and EDGE; diffusion methods at {at}):")
    print(f"{'method':<12}{'frames/s':>10}{'at fps':>8}{'dance s per s':>15}")
    for name, fps_out, rate in summary:
        print(f"{name:<12}{fps_out:>10.1f}{fps_out / rate:>8.0f}{rate:>15.2f}")
    if a.breakdown:
        breakdown(a, dev)


def autocast(dtype: str, dev: torch.device) -> contextlib.AbstractContextManager:
    if dtype == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


def make_method(method: str, a: argparse.Namespace, dev: torch.device) -> tuple[str, torch.nn.Module, Callable[..., torch.Tensor], int]:
    """(label, network, sampler(steps, compile_mode, cuda_graph) → normalised output, frames generated)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if method == "mace":
        model = MaceDanceDecoder(MaceConfig()).to(dev).eval()
        music = torch.randn(a.batch, a.frames, 35, generator=g).to(dev)
        genre = torch.full((a.batch,), 5, device=dev)

        def sample(steps: int, **opts) -> torch.Tensor:  # opts: the sampler's progress and speed options
            return mace_ddim_sample(model, music, genre, noise=Noise(seed=0), steps=steps, **opts)

        return f"MACE-Dance Motion Expert, batch {a.batch} × {a.frames} frames, 1 evaluation/step", model, sample, a.batch * a.frames
    if method not in ("edge", "edge35"):
        raise SystemExit(f"--methods: expected mace, edge or edge35, found {method!r}")
    cfg = EdgeConfig() if method == "edge" else EdgeConfig(cond_feature_dim=35)
    model = EdgeDanceDecoder(cfg).to(dev).eval()
    half = cfg.seq_len // 2
    windows = max(1, math.ceil((a.frames - cfg.seq_len) / half) + 1)  # as ReleasedEdge.generate covers the frames
    cond = torch.randn(windows, cfg.seq_len, cfg.cond_feature_dim, generator=g).to(dev)

    def sample_edge(steps: int, **opts) -> torch.Tensor:
        x = edge_long_ddim_sample(model, cond, noise=Noise(seed=0), steps=steps, **opts)
        poses, trans = stitch_long(x.float())  # the stitching is part of the sampler's cost (the output is cut to the frames)
        assert poses.shape[0] >= a.frames, poses.shape
        return x

    label = (f"EDGE ({cfg.cond_feature_dim}-d features), {windows} window(s) × {cfg.seq_len} frames at stride {half} "
             f"({cfg.seq_len + half * (windows - 1)} frames, cut to {a.frames}), 2 evaluations/step + stitch_long")
    return label, model, sample_edge, a.frames


AUTOREGRESSIVE = ("bailando", "bailandopp", "fact", "lodge")  # run as one call, eager (LODGE: its two-stage sampler)
FACT_FRAMES = 24  # FACT frames timed (one full forward each, no cache: the per-frame cost does not depend on the length)


def make_autoregressive(method: str, a: argparse.Namespace, dev: torch.device) -> tuple[str, Callable[[], torch.Tensor], int]:
    """(label, generate() → output (1, T, C) at 60 fps, parameters) of a full-size released network, random weights."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    first = torch.zeros(1, 1, dtype=torch.long, device=dev)
    if method == "lodge":
        from macedance.models.official.lodge import LodgeGlobalDecoder, LodgeLocalDecoder
        from macedance.models.official.lodge_sampling import lodge_generate
        from macedance.models.official.normalizer import MinMaxNormalizer

        gm, lm = LodgeGlobalDecoder().to(dev).eval(), LodgeLocalDecoder().to(dev).eval()
        frames = max(1024, math.ceil(a.frames / 256) * 256)
        music = torch.randn(frames, 35, generator=g)
        norm = MinMaxNormalizer.fit(torch.randn(256, 139, generator=g))
        label = (f"LODGE (released sizes), {frames} frames: {math.ceil(frames / 1024)} global × 1024 + {frames // 256} local × 256 windows, "
                 f"{a.steps} DDIM steps per stage, 2 evaluations/step (time scaled to 50 steps when fewer)")
        return (label, lambda: lodge_generate(gm, lm, music, genre=1, normalizer=norm, noise=Noise(seed=0), steps=a.steps).motion[None],
                sum(p.numel() for p in (*gm.parameters(), *lm.parameters())))
    if method == "fact":
        from macedance.models.official.fact import FACTModel, fact_generate

        model = FACTModel().to(dev).eval()
        seed = torch.randn(1, 120, 225, generator=g).to(dev)
        audio = torch.randn(1, 240 + FACT_FRAMES - 1, 35, generator=g).to(dev)
        return (f"FACT (released sizes), {FACT_FRAMES} frames after the 120-frame seed, one forward (360 tokens) per frame",
                lambda: fact_generate(model, motion_seed=seed, audio=audio, steps=FACT_FRAMES), sum(p.numel() for p in model.parameters()))
    rows = math.ceil(a.frames / 30 * 7.5)  # tokens covering the length (+ the first)
    if method == "bailando":
        from macedance.models.official.bailando import SepVQVAER
        from macedance.models.official.bailando_gpt import CrossCondGPT2AC, bailando_generate

        vq, gpt = SepVQVAER().to(dev).eval(), CrossCondGPT2AC().to(dev).eval()
        music = torch.randn(1, rows + 1, 438, generator=g).to(dev)  # 7.5-fps rows

        def run() -> torch.Tensor:
            return bailando_generate(vq, gpt, first_up=first, first_down=first, music=music)[2]
        label = f"Bailando (released sizes), {rows + 1} tokens × 8 frames, greedy GPT + VQ-VAE decode"
    elif method == "bailandopp":
        from macedance.models.official.bailandopp import CrossCondGPT2MWAC, SepVQVAERmix, bailandopp_generate, pad_music

        vq, gpt = SepVQVAERmix().to(dev).eval(), CrossCondGPT2MWAC().to(dev).eval()
        music = pad_music(torch.randn(1, 8 * rows + 7, 438, generator=g)).to(dev)  # 60-fps rows

        def run() -> torch.Tensor:
            return bailandopp_generate(vq, gpt, first_up=first, first_down=first, music=music)[2]
        label = f"Bailando++ (released sizes), {rows + 1} tokens × 8 frames, music Transformer + greedy GPT + rotation decode"
    else:
        raise SystemExit(f"--methods: unknown {method!r}")
    return label, run, sum(p.numel() for p in (*vq.parameters(), *gpt.parameters()))


def run_autoregressive(method: str, a: argparse.Namespace, dev: torch.device) -> tuple[str, float, float]:
    """Bailando / Bailando++ (greedy GPT over the 7.5-fps tokens covering ``a.frames / 30`` s, one GPT pass over ≤ 29
    tokens per token as released: no KV cache, then VQ-VAE decoding) or FACT (:data:`FACT_FRAMES` frames, one full
    forward each); eager only (no sampler loop to capture). Returns (method, frames/s, seconds of dance per second)."""
    label, run, params = make_autoregressive(method, a, dev)
    with torch.no_grad():
        t0 = time.perf_counter()
        run()
        sync(dev)
        warm = time.perf_counter() - t0
        best = math.inf
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            out = run()
            sync(dev)
            best = min(best, time.perf_counter() - t0)
    frames, fps = out.shape[1], 30 if method == "lodge" else 60
    if method == "lodge" and a.steps != PAPER_STEPS:
        best, warm = best * PAPER_STEPS / a.steps, warm * PAPER_STEPS / a.steps  # the steps are the whole cost
    print(f"\n{label}: {frames} frames at {fps} fps ({frames / fps:.2f} s); {params / 1e6:.1f} M parameters")
    print(f"{'variant':<40}{'warm-up s':>10}{'generate s':>11}{'frames/s':>10}")
    print(f"{'eager':<40}{warm:>10.2f}{best:>11.3f}{frames / best:>10.1f}")
    return method, frames / best, frames / fps / best


def run_method(method: str, a: argparse.Namespace, dev: torch.device, variants: list[Variant]) -> tuple[str, float, float]:
    label, model, sample, frames = make_method(method, a, dev)
    params = sum(p.numel() for p in model.parameters())
    print(f"\n{label}; {params / 1e6:.1f} M parameters; {gflop_per_step(sample, dev, a.dtype):.0f} GFLOP per step (matmuls, attention)")
    rows: list[Row] = []
    for v in variants:
        opts = {"compile_mode": v.compile_mode, "cuda_graph": v.cuda_graph}
        with torch.no_grad(), autocast(a.dtype, dev):
            t0 = time.perf_counter()
            sample(a.warmup_steps, **opts)
            sync(dev)
            warm = time.perf_counter() - t0
            best: Row | None = None
            for _ in range(a.repeat):
                stamps: list[float] = []
                t0 = time.perf_counter()
                out = sample(a.steps, progress=functools.partial(stamp, dev, stamps), **opts)
                sync(dev)
                total = time.perf_counter() - t0
                steps = [b - a_ for a_, b in zip([t0, *stamps[:-1]], stamps, strict=True)]
                later = sorted(steps[1:]) or steps
                row = Row(v.name, warm, total, steps[0], later[len(later) // 2], out.float().cpu())
                best = row if best is None or total < best.best_s else best
        assert best is not None
        rows.append(best)
        print_row(rows[-1], rows[0], a.steps, frames, first=len(rows) == 1)
    if a.dtype == "bf16":
        with torch.no_grad():
            ref = sample(a.steps).float().cpu()
        print(f"  bf16 eager vs fp32 eager: max |Δ| = {(rows[0].out - ref).abs().max().item():.2e}")
    at50 = rows[0].best_s + (PAPER_STEPS - a.steps) * rows[0].step_s  # the call itself at 50 steps
    return method, frames / at50, frames / 30 / at50


def stamp(dev: torch.device, stamps: list[float], i: int, n: int) -> None:
    """The sampler's progress callback: the time after each step (the noise of a step is copied from the CPU, so the
    loop synchronises each step anyway)."""
    sync(dev)
    stamps.append(time.perf_counter())


def print_row(row: Row, eager: Row, steps: int, frames: int, *, first: bool) -> None:
    """One table row; below 50 steps also the 50-step time extrapolated as the call + (50 − steps) × the median step."""
    ext = steps != PAPER_STEPS
    if first:
        head = f"{'variant':<40}{'warm-up s':>10}{'sampler s':>11}{'1st step ms':>12}{'ms/step':>9}{'frames/s':>10}"
        if ext:
            head += f"{'s @50 (extrap.)':>17}{'frames/s @50 (extrap.)':>24}"
        print(head + f"{'max |Δ| vs eager':>18}")
    line = (f"{row.variant:<40}{row.warmup_s:>10.2f}{row.best_s:>11.3f}{row.first_s * 1e3:>12.1f}{row.step_s * 1e3:>9.1f}"
            f"{frames / row.best_s:>10.1f}")
    if ext:
        at50 = row.best_s + (PAPER_STEPS - steps) * row.step_s
        line += f"{at50:>17.2f}{frames / at50:>24.1f}"
    flag = "" if torch.isfinite(row.out).all() else "  NON-FINITE OUTPUT"
    print(line + f"{(row.out - eager.out).abs().max().item():>18.2e}{flag}")


def gflop_per_step(sample: Callable[..., torch.Tensor], dev: torch.device, dtype: str) -> float:
    """Matmul and attention FLOPs of one sampler step (counted by torch's FlopCounterMode on a 1-step call)."""
    with torch.no_grad(), autocast(dtype, dev), FlopCounterMode(display=False) as fc:
        sample(1)
    return fc.get_total_flops() / 1e9


@contextlib.contextmanager
def timed_scans(dev: torch.device, log: list[float]) -> Iterator[None]:
    """Time every call of :func:`macedance.models.mamba.selective_scan` (synchronised) while active."""
    real = mamba.selective_scan

    def timed(*args, **kw):
        sync(dev)
        t0 = time.perf_counter()
        y = real(*args, **kw)
        sync(dev)
        log.append(time.perf_counter() - t0)
        return y

    mamba.selective_scan = timed
    try:
        yield
    finally:
        mamba.selective_scan = real


def breakdown(a: argparse.Namespace, dev: torch.device) -> None:
    """One eager MACE evaluation at the benchmark's length, and the selective scan alone by chunk length."""
    torch.manual_seed(0)
    model = MaceDanceDecoder(MaceConfig()).to(dev).eval()
    B, T = a.batch, a.frames
    x, music = torch.randn(B, T, 151, device=dev), torch.randn(B, T, 35, device=dev)
    args = (x, music, torch.full((B,), 5, device=dev), torch.full((B,), 500, device=dev), torch.full((B,), 0.75, device=dev))
    keep = torch.ones(B, dtype=torch.bool, device=dev)
    captured: list[tuple[torch.Tensor, ...]] = []
    real = mamba.selective_scan

    def capture(*s_args, **kw):
        if not captured:
            captured.append(s_args)
        return real(*s_args, **kw)

    with torch.no_grad(), autocast(a.dtype, dev):
        model(*args, keep=keep)  # warm-up
        mamba.selective_scan = capture
        try:
            model(*args, keep=keep)
        finally:
            mamba.selective_scan = real
        sync(dev)
        t0 = time.perf_counter()
        model(*args, keep=keep)
        sync(dev)
        total = time.perf_counter() - t0
        log: list[float] = []
        with timed_scans(dev, log):
            t0 = time.perf_counter()
            model(*args, keep=keep)
            sync(dev)
            instrumented = time.perf_counter() - t0
        per_chunk = {}
        default = mamba.SCAN_CHUNK.get(dev.type)
        try:  # the whole evaluation with the scan's chunk length set per device (Mamba.forward's default) or 256
            for c in sorted({mamba.scan_chunk(dev), 256}):
                mamba.SCAN_CHUNK[dev.type] = c
                model(*args, keep=keep)
                sync(dev)
                t0 = time.perf_counter()
                model(*args, keep=keep)
                sync(dev)
                per_chunk[c] = time.perf_counter() - t0
        finally:
            if default is None:
                mamba.SCAN_CHUNK.pop(dev.type, None)
            else:
                mamba.SCAN_CHUNK[dev.type] = default
    print(f"\nbreakdown of one eager MACE evaluation ({B} × {T} frames): {total * 1e3:.1f} ms; again with each selective scan "
          f"timed (synchronised): {instrumented * 1e3:.1f} ms, of which {len(log)} scans {sum(log) * 1e3:.1f} ms "
          f"({100 * sum(log) / instrumented:.0f} %)")
    print("  one evaluation by the scan's chunk length (default on this device: "
          f"{mamba.scan_chunk(dev)}): " + ", ".join(f"chunk {c}: {t * 1e3:.1f} ms" for c, t in per_chunk.items()))
    if not captured:
        print("  (the selective scan ran in mamba_ssm's kernel: no pure-PyTorch scans to time)")
        return
    s = captured[0]
    print(f"selective_scan alone on one block's input (B, L, E, N) = {tuple(s[0].shape) + (s[2].shape[1],)}, eager:")
    with torch.no_grad():
        ref = mamba.selective_scan(*s)
    for chunk in sorted({c for c in (32, 64, 128, 256, 512, 1024) if c < T} | {T}):
        with torch.no_grad():
            out = mamba.selective_scan(*s, chunk=chunk)
            sync(dev)
            t0 = time.perf_counter()
            for _ in range(3):
                mamba.selective_scan(*s, chunk=chunk)
            sync(dev)
            t = (time.perf_counter() - t0) / 3
            line = f"  chunk {chunk:>5}{' (default)' if chunk == mamba.scan_chunk(dev) else '':<10} {t * 1e3:8.2f} ms"
            if dev.type == "cuda":
                line += f"   CUDA graph replay {graph_time(lambda c=chunk: mamba.selective_scan(*s, chunk=c)) * 1e3:8.2f} ms"
            print(line + f"   max |Δ| vs chunk 256 {(out - ref).abs().max().item():.1e}")


def graph_time(fn: Callable[[], torch.Tensor], repeat: int = 10) -> float:
    """Mean seconds of a replay of ``fn`` captured as a CUDA graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    graph.replay()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        graph.replay()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


if __name__ == "__main__":
    main()
