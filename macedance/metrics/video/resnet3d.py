"""3D-ResNet-50 (Hara et al., Kinetics) as used by DisCo's "FID-VID" (``FVD-3DRN50``).

Layout of the 3D-ResNets-PyTorch model DisCo loads from ``resnet-50-kinetics.pth``: conv1 7×7×7,
stride (1, 2, 2), padding 3, no bias; BatchNorm; ReLU; max pool 3×3×3 stride 2 padding 1; four
bottleneck stages (3, 4, 6, 3 blocks; 64–512 planes, expansion 4; shortcut "B" = 1×1×1 conv + BN
where the shape changes; stride 2 in stages 2–4, in time as well); average pool over the remaining
(⌈T/16⌉, ⌈112/32⌉, ⌈112/32⌉) window; the 2,048-d pooled vector is the feature (``last_fc=False``).
Input (B, 3, 16, 112, 112): RGB in [0, 255] minus the ActivityNet mean [114.7748, 107.7354, 99.4750].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from macedance.weights import WeightSpec, checked_state, register_weights, user_state

MEAN = (114.7748, 107.7354, 99.4750)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int = 1, project: bool = False):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.downsample = nn.Sequential(nn.Conv3d(cin, planes * 4, 1, stride, bias=False), nn.BatchNorm3d(planes * 4)) \
            if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet3D50(nn.Module):
    """(B, 3, T, 112, 112) mean-subtracted RGB → (B, 2048)."""

    def __init__(self, sample_duration: int = 16, sample_size: int = 112, num_classes: int = 400):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, 7, (1, 2, 2), 3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        cin = 64
        for i, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
            stride = 1 if i == 0 else 2
            layers = [Bottleneck(cin, planes, stride, project=stride != 1 or cin != planes * 4)]
            cin = planes * 4
            layers += [Bottleneck(cin, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.pool = (math.ceil(sample_duration / 16), math.ceil(sample_size / 32), math.ceil(sample_size / 32))
        self.fc = nn.Linear(2048, num_classes)  # kept so the Kinetics checkpoint loads; unused for features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool3d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.avg_pool3d(x, self.pool, 1).flatten(1)


def resize_bicubic_pil_float(frame: np.ndarray, size: int = 112) -> np.ndarray:
    """clean-fid's ``make_resizer("PIL", False, "bicubic")`` (DisCo's FID-VID resize): each channel as
    a float32 PIL image, bicubic (antialiased) to size×size, not quantised. (H, W, 3) → float32."""
    from PIL import Image

    chans = [np.asarray(Image.fromarray(frame[:, :, c].astype(np.float32), mode="F").resize((size, size), Image.BICUBIC))
             for c in range(3)]
    return np.stack(chans, axis=2).astype(np.float32)


@torch.no_grad()
def video_features(model: ResNet3D50, frames: np.ndarray, *, duration: int = 16, device: str = "cpu") -> np.ndarray:
    """DisCo's FID-VID feature of one (T, H, W, 3) uint8 video: resize to 112, subtract the mean,
    cut into ``duration``-frame segments (the last padded by repeating the final frame), 2,048-d
    feature per segment, averaged over segments. Returns float32 (2048,)."""
    v = torch.as_tensor(np.stack([resize_bicubic_pil_float(f) for f in frames]))
    if len(v) % duration:
        v = torch.cat([v, v[-1:].expand(duration - len(v) % duration, *v.shape[1:])])
    v = (v.double() - torch.tensor(MEAN, dtype=torch.float64)).float()
    v = v.view(-1, duration, *v.shape[1:]).permute(0, 4, 1, 2, 3).contiguous()
    return model(v.to(device)).cpu().numpy().mean(0)


def _convert(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """Hara et al.'s ``resnet-50-kinetics.pth`` (the classifier ``fc`` is optional: features only)."""
    return checked_state(user_state(raw, source), source, ResNet3D50().state_dict(), "3D-ResNet-50", optional=("fc.",))


WEIGHTS = register_weights(
    WeightSpec("resnet3d-50-kinetics", "3D-ResNet-50, Kinetics-400 (Hara et al.), 2048-d pooled features: DisCo's FID-VID",
               "MIT (kenshohara/3D-ResNets-PyTorch)", "kenshohara/3D-ResNets-PyTorch release (user-supplied; DisCo's "
               "eval_fvd/resnet-50-kinetics.pth)", "", "", "resnet-50-kinetics.pth", None, _convert),
)
