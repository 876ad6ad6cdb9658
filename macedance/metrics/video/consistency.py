"""VBench subject consistency, background consistency and motion smoothness of one video (no reference).

Definitions of VBench (Vchitect/VBench@45e79ec, ``vbench/subject_consistency.py``,
``background_consistency.py``, ``motion_smoothness.py``, ``utils.py``); every frame of the video:

* **subject consistency** — DINO ViT-B/16 class tokens of the frames (each frame resized so that its
  shorter side is 224, bilinear without antialias, **no crop**; /255; ImageNet mean/std), unit
  normalised; for every frame t ≥ 1, s_t = ½ (max(0, cos(f_{t−1}, f_t)) + max(0, cos(f_0, f_t))).
* **background consistency** — the same formula on CLIP ViT-B/32 image features (shorter side to 224
  bicubic without antialias, centre crop 224, /255, CLIP mean/std).
* Per video: mean of s_t over its T − 1 frame pairs. Over a set: VBench's single-process value
  Σ_videos Σ_t s_t / Σ_videos (T − 1), i.e. frame pairs pooled (:func:`pooled`).
* **motion smoothness** — AMT-S interpolates every odd frame from its even neighbours (frames 0, 2,
  4, …: the pair (2k, 2k + 2) predicts frame 2k + 1; frames [0, 1] floats of the uint8 RGB, padded by
  edge replication to multiples of 16, the prediction cropped back and quantised as (255 · x)
  truncated to uint8); the video's score is (255 − m) / 255 with m the mean over predicted frames of
  the mean absolute difference to the real odd frame (pixels × channels). The set value is the mean
  over videos. Needs ≥ 3 frames larger than 112×112 (smaller frames make AMT's correlation pyramid
  degenerate: VBench's code returns NaN; we raise).

Frames are streamed in chunks (memory independent of the video's length) and run in batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from macedance.errors import DataFormatError

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP_MEAN_STD = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def dino_transform(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """VBench's ``dino_transform`` of (T, H, W, 3) uint8 frames → (T, 3, h, w) float32 (shorter side ``size``)."""
    x = TF.resize(torch.as_tensor(frames).permute(0, 3, 1, 2).contiguous().float(), size, antialias=False)
    return TF.normalize(x / 255.0, *IMAGENET)


def clip_transform(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """VBench's ``clip_transform``: bicubic shorter side → ``size`` (no antialias), centre crop, CLIP mean/std."""
    x = TF.resize(torch.as_tensor(frames).permute(0, 3, 1, 2).contiguous().float(), size, InterpolationMode.BICUBIC, antialias=False)
    return TF.normalize(TF.center_crop(x, size) / 255.0, *CLIP_MEAN_STD)


class PairSimilarity:
    """Running VBench consistency of one video: feed (n, D) features of consecutive frames in order."""

    def __init__(self) -> None:
        self.first: torch.Tensor | None = None
        self.prev: torch.Tensor | None = None
        self.total, self.pairs = 0.0, 0

    def update(self, feats: torch.Tensor) -> None:
        feats = F.normalize(feats.float(), dim=-1, p=2)
        if self.first is None:
            self.first = self.prev = feats[:1]
            feats = feats[1:]
        if not len(feats):
            return
        prev = torch.cat([self.prev, feats[:-1]])
        s_prev = F.cosine_similarity(prev, feats).clamp_min(0.0).double()
        s_first = F.cosine_similarity(self.first.expand_as(feats), feats).clamp_min(0.0).double()
        for a, b in zip(s_prev.tolist(), s_first.tolist(), strict=True):  # VBench adds pair by pair in Python floats
            self.total += (a + b) / 2
        self.pairs += len(feats)
        self.prev = feats[-1:]

    def result(self) -> np.ndarray:
        """[Σ s_t, number of pairs] (float64): the row a set's pooled value is built from."""
        return np.array([self.total, self.pairs], dtype=np.float64)


def video_consistency(model: torch.nn.Module, chunks: Iterable[np.ndarray], *, transform: str, device: str = "cpu") -> np.ndarray:
    """[Σ s_t, T − 1] of one video streamed as (n, H, W, 3) uint8 chunks (each chunk one batch)."""
    prep = dino_transform if transform == "dino" else clip_transform
    acc = PairSimilarity()
    with torch.no_grad():
        for chunk in chunks:
            acc.update(model(prep(chunk).to(device)).cpu())
    return acc.result()


def pooled(rows: Iterable[np.ndarray]) -> float | None:
    """VBench's set value: Σ s_t over Σ pairs of all videos (``None`` without any pair)."""
    rows = list(rows)
    if not rows:
        return None
    total, pairs = np.sum(rows, axis=0)
    return float(total / pairs) if pairs else None


def _pad16(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """AMT's ``InputPadder`` (divisor 16, replicate, split ⌊p/2⌋ before, the rest after)."""
    h, w = x.shape[-2:]
    ph, pw = (((h // 16) + 1) * 16 - h) % 16, (((w // 16) + 1) * 16 - w) % 16
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return F.pad(x, pad, mode="replicate"), pad


def _triplets(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frame 2k, frame 2k + 1, frame 2k + 2) of a frame stream."""
    it = iter(frames)
    a = next(it, None)
    while a is not None:
        mid, b = next(it, None), next(it, None)
        if mid is None or b is None:
            return
        yield a, mid, b
        a = b


def interpolated_frames(model: torch.nn.Module, frames: Iterable[np.ndarray], *, device: str = "cpu", batch: int = 8,
                        dtype: torch.dtype = torch.float32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """AMT's interpolation of every odd frame from its even neighbours, as VBench runs it: yields
    ``(predicted, real)`` with the prediction as (H, W, 3) values in [0, 255] of ``dtype`` (before
    VBench's uint8 truncation) and the real odd frame (uint8)."""
    buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def run() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # contiguous NCHW as AMT's img2tensor (a channels-last view would pick other conv kernels: other round-off)
        to = lambda xs: torch.as_tensor(np.stack(xs)).permute(0, 3, 1, 2).contiguous().to(dtype).to(device) / 255.0
        x0, x1 = to([t[0] for t in buf]), to([t[2] for t in buf])
        (x0, pad), (x1, _) = _pad16(x0), _pad16(x1)
        embt = torch.full((len(buf), 1, 1, 1), 0.5, dtype=dtype, device=device)
        with torch.no_grad():
            pred = model(x0, x1, embt)
        h, w = pred.shape[-2:]
        pred = (pred[..., pad[2]:h - pad[3], pad[0]:w - pad[1]] * 255.0).permute(0, 2, 3, 1).cpu().numpy()
        yield from ((p, real) for p, (_, real, _) in zip(pred, buf, strict=True))
        buf.clear()

    first = True
    for trip in _triplets(frames):
        if first and min(trip[0].shape[:2]) <= 112:
            raise DataFormatError(f"motion smoothness needs frames larger than 112×112 (AMT-S's 4-level correlation pyramid; "
                                  f"VBench's own code returns NaN), found {trip[0].shape[0]}×{trip[0].shape[1]}")
        first = False
        buf.append(trip)
        if len(buf) == batch:
            yield from run()
    if buf:
        yield from run()


def motion_smoothness(model: torch.nn.Module, frames: Iterable[np.ndarray], *, device: str = "cpu", batch: int = 8,
                      dtype: torch.dtype = torch.float32) -> float | None:
    """VBench motion smoothness of one video given as a stream of (H, W, 3) uint8 frames (``None`` with < 3 frames):
    1 − mean |uint8(AMT's interpolated odd frame) − real odd frame| / 255.

    ``dtype`` is the precision of the interpolation network (VBench: float32; ``model`` must hold the same
    dtype). The score truncates the interpolated frames to uint8 (AMT's ``tensor2img``), so float32 round-off,
    which differs between CPU kernels (AVX2, AVX-512), thread counts and batch sizes, can move a pixel across a
    grey level: each such flip moves the score by 1 / (255 · 3HW · pairs)."""
    diffs = [float(np.mean(np.abs(p.clip(0, 255).astype(np.uint8).astype(np.int16) - real.astype(np.int16))))
             for p, real in interpolated_frames(model, frames, device=device, batch=batch, dtype=dtype)]
    if not diffs:
        return None
    return (255.0 - float(np.mean(np.array(diffs)))) / 255.0
