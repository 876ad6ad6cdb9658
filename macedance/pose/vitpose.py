"""easy_ViTPose's ViTPose-S (COCO-25 keypoints) as a pose backend: the network of MACE-Dance's official 2D motion
evaluation (``Evaluation-Motion/extract_ViTPose.py``), ported from easy_ViTPose@4f2ba44 with its module names, so the
released ``vitpose-s-coco_25.pth`` loads as it is, and its top-down inference step for step:

1. a person box ``[x0, y0, x1, y1]`` (YOLOv8 through ``ultralytics`` when installed, else our BlazePose detector) is
   rounded to integers, grown by 10 px on each side and clipped to the frame (``VitInference.inference``);
2. the crop is zero-padded to width/height 3/4, centred (``pad_image``), resized to 192×256 with OpenCV's bilinear
   ``INTER_LINEAR``, scaled to [0, 1] and normalised with the ImageNet mean and std (``pre_img``);
3. the ViT-S backbone (patch 16 with padding 2, 12 blocks of 12 heads, width 384) and the heatmap head (two 4×4
   stride-2 transposed convolutions + BatchNorm + ReLU, a 1×1 convolution) give (25, 64, 48) heatmaps;
4. DARK with unbiased data processing (``keypoints_from_heatmaps(unbiased=True, use_udp=True)``): the arg-max, an 11×11
   Gaussian blur (σ 2) of each heatmap, clip to [0.001, 50], log, one Newton step from its edge-padded finite-difference
   gradient and Hessian (+ float32 eps on the diagonal), mapped to the crop by ``x · w / 47 + w // 2 − w / 2``
   (and likewise for y with 63), then moved into the frame by the box corner minus the padding.

Each step is in float32 where the original is (the heatmaps, the DARK step), and equal to the original on random
weights (``tests/test_vitpose.py``, expected values from easy_ViTPose's own code).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from macedance.errors import InputNotFoundError, MissingDependencyError
from macedance.weights import WeightSpec, register_weights

log = logging.getLogger(__name__)

INPUT_SIZE = (192, 256)  # (width, height) of the network input
HEATMAP_SIZE = (48, 64)  # (width, height) of its heatmaps
BOX_PAD = 10  # px added on each side of a detected box
MIN_BOX_SCORE = 0.35  # easy_ViTPose keeps YOLO boxes above this confidence
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, -1))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), _Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch, padding=2)  # ViTPose: 4 + 2 · (ratio // 2 − 1), ratio 1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        B, C, Hp, Wp = x.shape
        return x.view(B, C, Hp * Wp).transpose(1, 2), (Hp, Wp)


class _ViT(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, patch: int = 16, mlp_ratio: float = 4.0, img_size: tuple[int, int] = (256, 192)):
        super().__init__()
        self.patch_embed = _PatchEmbed(dim, patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, (img_size[0] // patch) * (img_size[1] // patch) + 1, dim))
        self.blocks = nn.ModuleList([_Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.last_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        x, (Hp, Wp) = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for blk in self.blocks:
            x = blk(x)
        return self.last_norm(x).permute(0, 2, 1).view(B, -1, Hp, Wp).contiguous()


class _HeatmapHead(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, filters: tuple[int, ...] = (256, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        for planes in filters:
            layers += [nn.ConvTranspose2d(in_channels, planes, kernel_size=4, stride=2, padding=1, output_padding=0, bias=False),
                       nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
            in_channels = planes
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(x))


class ViTPose(nn.Module):
    """easy_ViTPose's ``ViTPose`` (backbone + keypoint_head); the small COCO-25 model by default. (B, 3, 256, 192) →
    (B, K, 64, 48) heatmaps."""

    def __init__(self, dim: int = 384, depth: int = 12, heads: int = 12, keypoints: int = 25):
        super().__init__()
        self.backbone = _ViT(dim, depth, heads)
        self.keypoint_head = _HeatmapHead(dim, keypoints)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.keypoint_head(self.backbone(x))


def pad_to_aspect(image: np.ndarray, aspect: float = 3 / 4) -> tuple[np.ndarray, tuple[int, int]]:
    """easy_ViTPose's ``pad_image``: zero padding to width/height ``aspect``, centred; returns it and (left, top) pads."""
    h, w = image.shape[:2]
    if w / h < aspect:
        pad = int(aspect * h) - w
        left = pad // 2
        return np.pad(image, ((0, 0), (left, pad - left), (0, 0)), mode="constant"), (left, 0)
    pad = int(w / aspect) - h
    top = pad // 2
    return np.pad(image, ((top, pad - top), (0, 0), (0, 0)), mode="constant"), (0, top)


def preprocess(crop: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB → (1, 3, 256, 192) float32, as ``VitInference.pre_img``."""
    import cv2

    x = cv2.resize(crop, INPUT_SIZE, interpolation=cv2.INTER_LINEAR) / 255
    return ((x - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)


def _dark_udp(coords: np.ndarray, heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """easy_ViTPose's ``post_dark_udp`` (``top_down_eval.py``) on float32 (N, K, H, W) heatmaps (changed in place)."""
    import cv2

    B, K, H, W = heatmaps.shape
    N = coords.shape[0]
    for maps in heatmaps:
        for m in maps:
            cv2.GaussianBlur(m, (kernel, kernel), 0, m)
    np.clip(heatmaps, 0.001, 50, heatmaps)
    np.log(heatmaps, heatmaps)
    flat = np.pad(heatmaps, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").flatten()
    index = coords[..., 0] + 1 + (coords[..., 1] + 1) * (W + 2)
    index += (W + 2) * (H + 2) * np.arange(0, B * K).reshape(-1, K)
    index = index.astype(int).reshape(-1, 1)
    i_, ix1, iy1 = flat[index], flat[index + 1], flat[index + W + 2]
    ix1y1, ix1_y1_ = flat[index + W + 3], flat[index - W - 3]
    ix1_, iy1_ = flat[index - 1], flat[index - 2 - W]
    derivative = np.concatenate([0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)], axis=1).reshape(N, K, 2, 1)
    dxx, dyy = ix1 - 2 * i_ + ix1_, iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.linalg.inv(np.concatenate([dxx, dxy, dxy, dyy], axis=1).reshape(N, K, 2, 2) + np.finfo(np.float32).eps * np.eye(2))
    coords -= np.einsum("ijmn,ijnk->ijmk", hessian, derivative).squeeze()
    return coords


def heatmaps_to_keypoints(heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keypoints_from_heatmaps(heatmaps, center, scale, unbiased=True, use_udp=True)``: (N, K, 2) float32 (x, y) in the
    crop's pixels and (N, K, 1) peak values. ``center``, ``scale``: (N, 2) box centre and size (px)."""
    heatmaps = np.array(heatmaps, dtype=np.float32, copy=True)
    N, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(N, K, -1)
    idx = np.argmax(flat, 2).reshape(N, K, 1)
    maxvals = np.amax(flat, 2).reshape(N, K, 1)
    preds = np.tile(idx, (1, 1, 2)).astype(np.float32)
    preds[:, :, 0] = preds[:, :, 0] % W
    preds[:, :, 1] = preds[:, :, 1] // W
    preds = np.where(np.tile(maxvals, (1, 1, 2)) > 0.0, preds, -1)
    preds = _dark_udp(preds, heatmaps)
    for i in range(N):  # transform_preds(use_udp=True)
        sx, sy = scale[i][0] / (W - 1.0), scale[i][1] / (H - 1.0)
        out = np.ones_like(preds[i])
        out[:, 0] = preds[i][:, 0] * sx + center[i][0] - scale[i][0] * 0.5
        out[:, 1] = preds[i][:, 1] * sy + center[i][1] - scale[i][1] * 0.5
        preds[i] = out
    return preds, maxvals


def crop_for_box(frame: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The padded crop the network sees for ``box`` [x0, y0, x1, y1] (px), its (left, top) padding and its (x0, y0)."""
    b = np.asarray(box, dtype=np.float64)[:4].round().astype(int)
    b[[0, 2]] = np.clip(b[[0, 2]] + [-BOX_PAD, BOX_PAD], 0, frame.shape[1])
    b[[1, 3]] = np.clip(b[[1, 3]] + [-BOX_PAD, BOX_PAD], 0, frame.shape[0])
    crop, pads = pad_to_aspect(frame[b[1]:b[3], b[0]:b[2]])
    return crop, pads, (int(b[0]), int(b[1]))


@torch.no_grad()
def keypoints_in_box(model: ViTPose, frame: np.ndarray, box: np.ndarray, *, device: str = "cpu") -> np.ndarray:
    """(25, 3) ``(y, x, score)`` of the person in ``box`` in frame pixels, float32, as easy_ViTPose returns them."""
    crop, (left, top), (x0, y0) = crop_for_box(frame, box)
    h, w = crop.shape[:2]
    heatmaps = model(torch.from_numpy(preprocess(crop)).to(device)).float().cpu().numpy()
    points, prob = heatmaps_to_keypoints(heatmaps, np.array([[w // 2, h // 2]]), np.array([[w, h]]))
    kp = np.concatenate([points[:, :, ::-1], prob], axis=2)[0]
    kp[:, :2] += np.array([y0, x0]) - [top, left]
    return kp


def _convert(raw: bytes, source: str) -> dict[str, Any]:
    """easy_ViTPose's checkpoint (a state dict, or ``{"state_dict": …}``), checked key by key against the port."""
    from macedance.weights import checked_state, user_state

    return checked_state(user_state(raw, source), source, ViTPose().state_dict(), "ViTPose-S COCO-25")


WEIGHTS = register_weights(
    WeightSpec("vitpose-s-coco25", "easy_ViTPose ViTPose-S, COCO-25 keypoints: MACE-Dance's official 2D evaluation (`--pose-backend vitpose`)",
               "Apache-2.0 (ViTPose, easy_ViTPose)", "easy_ViTPose's release vitpose-s-coco_25.pth (user-supplied; Hugging Face "
               "JunkyByte/easy_ViTPose, torch/coco_25/)", "", "", "vitpose-s-coco_25.pth", None, _convert),
    WeightSpec("yolov8s", "YOLOv8s person boxes for `--pose-backend vitpose` (used only with the optional ultralytics extra)",
               "AGPL-3.0 (Ultralytics)", "Ultralytics' release yolov8s.pt (user-supplied; stored as given, read by ultralytics)",
               "", "", "yolov8s.pt", None, None),
)


def load_vitpose(weights: str | Path | None = None, device: str = "cpu") -> tuple[ViTPose, str]:
    """The ViTPose-S COCO-25 network with ``weights`` (easy_ViTPose's file) or the installed ``vitpose-s-coco25``; and the
    file's sha256."""
    from macedance.fileio import sha256_file
    from macedance.weights import weights_file

    path = Path(weights) if weights is not None else weights_file("vitpose-s-coco25")
    if not path.is_file():
        raise InputNotFoundError(f"{path}: `pose_weights` file not found (easy_ViTPose's vitpose-s-coco_25.pth)")
    model = ViTPose()
    model.load_state_dict(_convert(path.read_bytes(), str(path)))
    return model.eval().to(device), sha256_file(path)


class YoloDetector:
    """YOLOv8 person boxes through ``ultralytics`` (optional, AGPL-3.0: never a dependency), as easy_ViTPose calls it:
    ``yolo(bgr, imgsz=320, classes=[0])``, boxes in the model's order (by confidence) above 0.35."""

    name = "yolov8"

    def __init__(self, weights: str | Path, device: str = "cpu"):
        try:
            from ultralytics import YOLO
        except ImportError:
            raise MissingDependencyError("YOLOv8 boxes need ultralytics (AGPL-3.0, optional): pip install ultralytics") from None
        self._model, self._device = YOLO(str(weights), task="detect"), device

    def detect(self, frame: np.ndarray) -> np.ndarray:
        res = self._model(np.ascontiguousarray(frame[..., ::-1]), verbose=False, imgsz=320, device=self._device if self._device != "cuda" else 0,
                          classes=[0])[0]
        rows = [r[:5] for r in res.boxes.data.cpu().numpy() if r[4] > MIN_BOX_SCORE]
        return np.array(rows, dtype=np.float64).reshape(-1, 5)


class BlazePoseBoxes:
    """Our offline person detector (MediaPipe's BlazePose detector, :mod:`macedance.pose.person_detector`): boxes above
    0.35, the highest score first."""

    name = "blazepose"

    def __init__(self) -> None:
        from macedance.pose.person_detector import PersonDetector

        self._detector = PersonDetector(score_threshold=MIN_BOX_SCORE)

    def detect(self, frame: np.ndarray) -> np.ndarray:
        boxes = np.asarray(self._detector.detect(frame), dtype=np.float64).reshape(-1, 5)
        return boxes[np.argsort(-boxes[:, 4], kind="stable")]


class ViTPoseBackend:
    """Pose backend ``vitpose``: the first person box of each frame (easy_ViTPose's single-pose rule: person 0; nobody →
    zeros), its COCO-25 keypoints as ``(x, y, score)``. Frames are used at full size (``max_side`` None). Boxes come from
    YOLOv8s when ``ultralytics`` is installed and the ``yolov8s`` weights are imported, else from our BlazePose detector;
    ``info()`` records which."""

    name, skeleton, version = "vitpose", "vitpose25", "1"
    max_side = None

    def __init__(self, weights: str | Path | None = None, *, device: str = "cpu"):
        import importlib.util

        from macedance.fileio import sha256_file
        from macedance.weights import status, weights_file

        self.model, self._sha = load_vitpose(weights, device)
        self.device = device
        self._yolo_sha = None
        if importlib.util.find_spec("ultralytics") is not None and status("yolov8s") == "installed":
            yolo = weights_file("yolov8s")
            self.detector: Any = YoloDetector(yolo, device)
            self._yolo_sha = sha256_file(yolo)
        else:  # the offline default: recorded in info()
            self.detector = BlazePoseBoxes()

    def start_shot(self) -> None:
        pass

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, None]:
        boxes = self.detector.detect(frame)
        if len(boxes) == 0:
            return np.zeros((25, 3)), None
        kp = keypoints_in_box(self.model, frame, boxes[0], device=self.device).astype(np.float64)
        # a heatmap peak ≤ 0 is a "score" below 0 in easy_ViTPose (its position kept, as there): confidences are ≥ 0 here
        return np.stack([kp[:, 1], kp[:, 0], np.clip(kp[:, 2], 0.0, None)], axis=1), None

    def info(self) -> dict[str, str]:
        out = {"backend": self.name, "backend_version": self.version, "model": "easy_ViTPose ViTPose-S coco_25",
               "weights_sha256": self._sha, "detector": self.detector.name}
        if self._yolo_sha:
            out["detector_sha256"] = self._yolo_sha
        return out

