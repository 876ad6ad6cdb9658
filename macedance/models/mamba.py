"""Mamba (selective state-space) blocks in pure PyTorch, parameter-compatible with ``mamba_ssm``.

The module has exactly the parameters of ``mamba_ssm.Mamba`` (``in_proj``, ``conv1d``, ``x_proj``,
``dt_proj``, ``A_log``, ``D``, ``out_proj``), so one checkpoint loads in either implementation. The
selective scan h_t = exp(Δ_t A) h_{t−1} + Δ_t B_t x_t, y_t = C_t·h_t + D x_t runs as a parallel
(Hillis–Steele) scan over time — log2(L) tensor steps, no Python loop over time steps — or, when
``mamba_ssm`` imports with its CUDA kernels and the input is on a CUDA device, with its fused kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_FAST_SCAN = None


def _fast_scan():  # pragma: no cover - needs mamba_ssm's compiled CUDA extension
    global _FAST_SCAN
    if _FAST_SCAN is None:
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

            _FAST_SCAN = selective_scan_fn
        except Exception:  # not installed, or no compiled kernels
            _FAST_SCAN = False
    return _FAST_SCAN or None


def parallel_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inclusive scan h_t = a_t ⊙ h_{t−1} + b_t (h_{−1} = 0) along dim 1, in ⌈log2 L⌉ steps.

    Args:
        a, b: (B, L, …) decay factors and inputs.
    Returns:
        (B, L, …) states h.
    """
    L = a.shape[1]
    step = 1
    while step < L:
        b = torch.cat([b[:, :step], b[:, step:] + a[:, step:] * b[:, :-step]], dim=1)
        a = torch.cat([a[:, :step], a[:, step:] * a[:, :-step]], dim=1)
        step *= 2
    return b


def selective_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Selective scan (Mamba S6) in PyTorch.

    Args:
        x, delta: (B, L, E) inputs and positive step sizes.
        A: (E, N) negative state matrix (diagonal per channel).
        B, C: (B, L, N) input/output projections.
        D: (E,) skip.
        chunk: time steps scanned together (memory ~ B·chunk·E·N); chunks are chained by their last
            state, so results do not depend on it.
    Returns:
        (B, L, E).
    """
    Bsz, L, E = x.shape
    h = x.new_zeros(Bsz, E, A.shape[1])
    outs = []
    for s in range(0, L, chunk):
        dt = delta[:, s : s + chunk]
        dA = torch.exp(dt.unsqueeze(-1) * A)  # (B, l, E, N)
        dBx = dt.unsqueeze(-1) * B[:, s : s + chunk].unsqueeze(2) * x[:, s : s + chunk].unsqueeze(-1)
        dBx = torch.cat([dBx[:, :1] + dA[:, :1] * h.unsqueeze(1), dBx[:, 1:]], dim=1)  # carry the state in
        hs = parallel_scan(dA, dBx)
        outs.append(torch.einsum("blen,bln->ble", hs, C[:, s : s + chunk]))
        h = hs[:, -1]
    return torch.cat(outs, dim=1) + x * D


def selective_scan_reference(x, delta, A, B, C, D):
    """Naive sequential scan (one step per time step); the oracle for tests."""
    h = x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
    ys = []
    for t in range(x.shape[1]):
        h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
        ys.append(torch.einsum("ben,bn->be", h, C[:, t]))
    return torch.stack(ys, dim=1) + x * D


#: Time steps per chunk of the PyTorch scan by device type. On the CPU short chunks keep each chunk's (B, l, E, N)
#: decay and input tensors in cache: chunk 32 scans one MACE-Dance block 2.2× faster than 256 at 1,024 frames
#: (benchmarks/RESULTS.md); on CUDA the scan is memory-bound either way and 256 keeps the launches few (unmeasured).
SCAN_CHUNK = {"cpu": 32, "cuda": 256}


def scan_chunk(device: torch.device) -> int:
    """The chunk length :class:`Mamba` scans with on ``device`` (results do not depend on it beyond rounding)."""
    return SCAN_CHUNK.get(device.type, 256)


class Mamba(nn.Module):
    """One Mamba block (``mamba_ssm.Mamba`` layout and initialisation), (B, L, d_model) → same."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_min: float = 0.001, dt_max: float = 0.1, use_fast_path: bool = True):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.use_fast_path = use_fast_path
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        # mamba_ssm initialisation: dt in [dt_min, dt_max] log-uniformly via the bias (inverse softplus).
        nn.init.uniform_(self.dt_proj.weight, -self.dt_rank**-0.5, self.dt_rank**-0.5)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        L = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :L].transpose(1, 2))
        dt, B, C = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log.float())
        fast = _fast_scan() if (self.use_fast_path and u.is_cuda) else None
        if fast is not None:  # pragma: no cover - CUDA only
            y = fast(x.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(), A,
                     B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous(), self.D.float()).transpose(1, 2)
        else:
            y = selective_scan(x, delta, A, B, C, self.D, chunk=scan_chunk(u.device))
        return self.out_proj(y * F.silu(z))


class BiMamba(nn.Module):
    """Bidirectional Mamba: pre-LayerNorm, a forward and a time-reversed Mamba, outputs summed."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, bidirectional: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.fwd = Mamba(d_model, d_state, d_conv, expand)
        self.bwd = Mamba(d_model, d_state, d_conv, expand) if bidirectional else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        out = self.fwd(h)
        if self.bwd is not None:
            out = out + self.bwd(h.flip(1)).flip(1)
        return out
