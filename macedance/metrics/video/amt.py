"""AMT-S frame interpolation (Li et al. CVPR'23), the network behind VBench's motion smoothness.

A re-implementation of ``networks/AMT-S.py`` of AMT as vendored by VBench (corr radius 3, 4 levels,
3 flows; pyramid channels 20/32/44/56; skip channels 20), with the parameter names of the released
``amt-s.pth`` (``{"state_dict": …}``). Given two frames (B, 3, H, W) in [0, 1] (H, W multiples of 16)
and t = ½ it returns the interpolated frame, clamped to [0, 1]:

* a RAFT-style feature encoder (7×7 stride-2 conv, instance norms, bottleneck blocks → 84 channels at
  1/8) gives a bidirectional all-pairs correlation volume (4 levels, radius 3);
* an IFRNet-style 4-level pyramid encoder (PReLU convs) for both frames; decoders from 1/16 up to 1/2
  predict bidirectional flows and an intermediate feature, each refined by a correlation lookup and a
  small update block; the last decoder predicts 3 flow pairs, occlusion masks and residuals;
* the 3 candidates (backward-warped frames blended by the masks) are averaged and corrected by a small
  convolution block. Frames are centred by the pair's mean intensity before and after.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from macedance.weights import WeightSpec, checked_state, register_weights, user_state


def _resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp of (B, C, H, W) by a (B, 2, H, W) flow in pixels (bilinear, border padding)."""
    b, _, h, w = flow.shape
    xx = torch.linspace(-1.0, 1.0, w, dtype=img.dtype, device=img.device).view(1, 1, 1, w).expand(b, -1, h, -1)
    yy = torch.linspace(-1.0, 1.0, h, dtype=img.dtype, device=img.device).view(1, 1, h, 1).expand(b, -1, -1, w)
    grid = torch.cat([xx, yy], 1)
    flow = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    return F.grid_sample(img, (grid + flow).permute(0, 2, 3, 1), mode="bilinear", padding_mode="border", align_corners=True)


def _convrelu(cin: int, cout: int, k: int = 3, s: int = 1, p: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.PReLU(cout))


class _Bottleneck(nn.Module):
    """RAFT's bottleneck block with instance norms (no parameters)."""

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes // 4, 1)
        self.conv2 = nn.Conv2d(planes // 4, planes // 4, 3, stride, 1)
        self.conv3 = nn.Conv2d(planes // 4, planes, 1)
        self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride), nn.InstanceNorm2d(planes)) if stride != 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(F.instance_norm(self.conv1(x)))
        y = F.relu(F.instance_norm(self.conv2(y)))
        y = F.relu(F.instance_norm(self.conv3(y)))
        return F.relu((self.downsample(x) if self.downsample is not None else x) + y)


class _FeatureEncoder(nn.Module):
    """RAFT's small encoder (instance norm): (B, 3, H, W) → (B, 84, H/8, W/8)."""

    def __init__(self, out: int = 84):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 3)
        cin = 32
        for i, (dim, stride) in enumerate(((32, 1), (64, 2), (96, 2)), 1):
            setattr(self, f"layer{i}", nn.Sequential(_Bottleneck(cin, dim, stride), _Bottleneck(dim, dim)))
            cin = dim
        self.conv2 = nn.Conv2d(96, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.instance_norm(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


class _ResBlock(nn.Module):
    """IFRNet's residual block whose last ``side`` channels get extra convolutions."""

    def __init__(self, c: int, side: int):
        super().__init__()
        self.side = side
        self.conv1, self.conv2, self.conv3, self.conv4 = _convrelu(c, c), _convrelu(side, side), _convrelu(c, c), _convrelu(side, side)
        self.conv5 = nn.Conv2d(c, c, 3, 1, 1)
        self.prelu = nn.PReLU(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.side
        out = self.conv1(x)
        out = self.conv3(torch.cat([out[:, :-s], self.conv2(out[:, -s:])], 1))
        out = self.conv5(torch.cat([out[:, :-s], self.conv4(out[:, -s:])], 1))
        return self.prelu(x + out)


class _Encoder(nn.Module):
    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        self.n = len(channels)
        prev = 3
        for i, c in enumerate(channels, 1):
            self.register_module(f"pyramid{i}", nn.Sequential(_convrelu(prev, c, 3, 2, 1), _convrelu(c, c)))
            prev = c

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i in range(self.n):
            x = getattr(self, f"pyramid{i + 1}")(x)
            out.append(x)
        return out


def _decoder_block(cin: int, cmid: int, cout: int, skip: int) -> nn.Sequential:
    return nn.Sequential(_convrelu(cin, cmid), _ResBlock(cmid, skip), nn.ConvTranspose2d(cmid, cout, 4, 2, 1))


class _InitDecoder(nn.Module):
    def __init__(self, cin: int, cout: int, skip: int):
        super().__init__()
        self.convblock = _decoder_block(2 * cin + 1, 2 * cin, cout + 4, skip)

    def forward(self, f0: torch.Tensor, f1: torch.Tensor, embt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.convblock(torch.cat([f0, f1, embt.repeat(1, 1, *f0.shape[2:])], 1))
        return out[:, 0:2], out[:, 2:4], out[:, 4:]


class _IntermediateDecoder(nn.Module):
    def __init__(self, cin: int, cout: int, skip: int):
        super().__init__()
        self.convblock = _decoder_block(3 * cin + 4, 3 * cin, cout + 4, skip)

    def forward(self, ft: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, flow0: torch.Tensor,
                flow1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.convblock(torch.cat([ft, warp(f0, flow0), warp(f1, flow1), flow0, flow1], 1))
        return out[:, 0:2] + 2.0 * _resize(flow0, 2.0), out[:, 2:4] + 2.0 * _resize(flow1, 2.0), out[:, 4:]


class _MultiFlowDecoder(nn.Module):
    def __init__(self, cin: int, skip: int, flows: int):
        super().__init__()
        self.flows = flows
        self.convblock = _decoder_block(3 * cin + 4, 3 * cin, 8 * flows, skip)

    def forward(self, ft: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, flow0: torch.Tensor,
                flow1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = self.flows
        out = self.convblock(torch.cat([ft, warp(f0, flow0), warp(f1, flow1), flow0, flow1], 1))
        d0, d1, mask, res = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        return (d0 + 2.0 * _resize(flow0, 2.0).repeat(1, n, 1, 1), d1 + 2.0 * _resize(flow1, 2.0).repeat(1, n, 1, 1),
                torch.sigmoid(mask), res)


class _UpdateBlock(nn.Module):
    """RAFT's small update block (no GRU state: two convolutions) predicting feature and flow residuals."""

    def __init__(self, cdim: int, scale: int | None, hidden: int = 76, flow_dim: int = 20, corr_dim: int = 64,
                 fc_dim: int = 68, levels: int = 4, radius: int = 3):
        super().__init__()
        self.scale = scale
        planes = levels * (2 * radius + 1) ** 2
        self.convc1 = nn.Conv2d(2 * planes, corr_dim, 1)
        self.convf1 = nn.Conv2d(4, 2 * flow_dim, 7, padding=3)
        self.convf2 = nn.Conv2d(2 * flow_dim, flow_dim, 3, padding=1)
        self.conv = nn.Conv2d(corr_dim + flow_dim, fc_dim, 3, padding=1)
        for name, cout in (("gru", hidden), ("feat_head", cdim), ("flow_head", 4)):
            cin = fc_dim + 4 + cdim if name == "gru" else hidden
            self.register_module(name, nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.LeakyReLU(0.1),
                                                     nn.Conv2d(hidden, cout, 3, padding=1)))

    def forward(self, net: torch.Tensor, flow: torch.Tensor, corr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lrelu = lambda x: F.leaky_relu(x, 0.1)
        if self.scale is not None:
            net = _resize(net, 1 / self.scale)
        flo = lrelu(self.convf2(lrelu(self.convf1(flow))))
        inp = lrelu(self.conv(torch.cat([lrelu(self.convc1(corr)), flo], 1)))
        out = self.gru(torch.cat([inp, flow, net], 1))
        d_net, d_flow = self.feat_head(out), self.flow_head(out)
        if self.scale is not None:
            d_net, d_flow = _resize(d_net, self.scale), self.scale * _resize(d_flow, self.scale)
        return d_net, d_flow


def _sample(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    h, w = img.shape[-2:]
    x, y = coords.split([1, 1], dim=-1)
    return F.grid_sample(img, torch.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1), align_corners=True)


class _BidirCorr:
    """All-pairs correlation of two (B, C, h, w) feature maps, both directions, as a 4-level pyramid."""

    def __init__(self, f0: torch.Tensor, f1: torch.Tensor, levels: int, radius: int):
        b, c, h, w = f0.shape
        corr = (f0.view(b, c, h * w).transpose(1, 2) @ f1.view(b, c, h * w)).view(b, h, w, 1, h, w) / torch.sqrt(torch.tensor(c, dtype=f0.dtype))
        corr_t = corr.permute(0, 4, 5, 3, 1, 2).reshape(b * h * w, 1, h, w)
        corr = corr.reshape(b * h * w, 1, h, w)
        self.radius, self.pyr, self.pyr_t = radius, [corr], [corr_t]
        for _ in range(levels - 1):
            self.pyr.append(F.avg_pool2d(self.pyr[-1], 2, stride=2))
            self.pyr_t.append(F.avg_pool2d(self.pyr_t[-1], 2, stride=2))

    def __call__(self, c0: torch.Tensor, c1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.radius
        c0, c1 = c0.permute(0, 2, 3, 1), c1.permute(0, 2, 3, 1)
        b, h, w, _ = c0.shape
        d = torch.linspace(-r, r, 2 * r + 1, dtype=c0.dtype, device=c0.device)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 2 * r + 1, 2 * r + 1, 2)
        out, out_t = [], []
        for i, (corr, corr_t) in enumerate(zip(self.pyr, self.pyr_t, strict=True)):
            out.append(_sample(corr, c0.reshape(b * h * w, 1, 1, 2) / 2**i + delta).view(b, h, w, -1))
            out_t.append(_sample(corr_t, c1.reshape(b * h * w, 1, 1, 2) / 2**i + delta).view(b, h, w, -1))
        return torch.cat(out, -1).permute(0, 3, 1, 2).contiguous(), torch.cat(out_t, -1).permute(0, 3, 1, 2).contiguous()


def _coords(b: int, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, device=like.device), torch.arange(w, device=like.device), indexing="ij")
    return torch.stack([xs, ys], dim=0).to(like.dtype)[None].repeat(b, 1, 1, 1)


class AMTS(nn.Module):
    """AMT-S: ``model(img0, img1, embt)`` → interpolated frame (B, 3, H, W) in [0, 1] at time ``embt``."""

    def __init__(self, radius: int = 3, levels: int = 4, flows: int = 3, channels: tuple[int, ...] = (20, 32, 44, 56), skip: int = 20):
        super().__init__()
        self.radius, self.levels, self.flows = radius, levels, flows
        self.feat_encoder = _FeatureEncoder(84)
        self.encoder = _Encoder(channels)
        self.decoder4 = _InitDecoder(channels[3], channels[2], skip)
        self.decoder3 = _IntermediateDecoder(channels[2], channels[1], skip)
        self.decoder2 = _IntermediateDecoder(channels[1], channels[0], skip)
        self.decoder1 = _MultiFlowDecoder(channels[0], skip, flows)
        self.update4 = _UpdateBlock(44, None, levels=levels, radius=radius)
        self.update3 = _UpdateBlock(32, 2, levels=levels, radius=radius)
        self.update2 = _UpdateBlock(20, 4, levels=levels, radius=radius)
        self.comb_block = nn.Sequential(nn.Conv2d(3 * flows, 6 * flows, 3, 1, 1), nn.PReLU(6 * flows), nn.Conv2d(6 * flows, 3, 3, 1, 1))

    @staticmethod
    def _lookup(corr: _BidirCorr, coord: torch.Tensor, flow0: torch.Tensor, flow1: torch.Tensor, embt: torch.Tensor,
                down: int) -> tuple[torch.Tensor, torch.Tensor]:
        if down != 1:
            flow0, flow1 = (1 / down) * _resize(flow0, 1 / down), (1 / down) * _resize(flow1, 1 / down)
        c0, c1 = corr(coord + flow1 * (1.0 / embt), coord + flow0 * (1.0 / (1.0 - embt)))
        return torch.cat([c0, c1], 1), torch.cat([flow0, flow1], 1)

    def _refine(self, update: _UpdateBlock, corr: _BidirCorr, coord: torch.Tensor, flow0: torch.Tensor, flow1: torch.Tensor,
                ft: torch.Tensor, embt: torch.Tensor, down: int) -> tuple[torch.Tensor, ...]:
        c, flow = self._lookup(corr, coord, flow0, flow1, embt, down)
        d_ft, d_flow = update(ft, flow, c)
        d0, d1 = torch.chunk(d_flow, 2, 1)
        return flow0 + d0, flow1 + d1, ft + d_ft

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        mean = torch.cat([img0, img1], 2).mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        img0, img1 = img0 - mean, img1 - mean
        b, _, h, w = img0.shape
        coord = _coords(b, h // 8, w // 8, img0)
        fmap0, fmap1 = torch.split(self.feat_encoder(torch.cat([img0, img1], 0)), [b, b], 0)
        corr = _BidirCorr(fmap0, fmap1, self.levels, self.radius)
        f0 = self.encoder(img0)
        f1 = self.encoder(img1)
        flow0, flow1, ft = self.decoder4(f0[3], f1[3], embt)
        flow0, flow1, ft = self._refine(self.update4, corr, coord, flow0, flow1, ft, embt, 1)
        flow0, flow1, ft = self.decoder3(ft, f0[2], f1[2], flow0, flow1)
        flow0, flow1, ft = self._refine(self.update3, corr, coord, flow0, flow1, ft, embt, 2)
        flow0, flow1, ft = self.decoder2(ft, f0[1], f1[1], flow0, flow1)
        flow0, flow1, ft = self._refine(self.update2, corr, coord, flow0, flow1, ft, embt, 4)
        flow0, flow1, mask, res = self.decoder1(ft, f0[0], f1[0], flow0, flow1)
        return torch.clamp(self._combine(img0, img1, flow0, flow1, mask, res, mean), 0, 1)

    def _combine(self, img0: torch.Tensor, img1: torch.Tensor, flow0: torch.Tensor, flow1: torch.Tensor, mask: torch.Tensor,
                 res: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        b, c, h, w = flow0.shape
        n = c // 2
        rep = lambda x: torch.stack([x] * n, 1).reshape(-1, *x.shape[1:])
        warps = (mask.reshape(-1, 1, h, w) * warp(rep(img0), flow0.reshape(-1, 2, h, w))
                 + (1 - mask.reshape(-1, 1, h, w)) * warp(rep(img1), flow1.reshape(-1, 2, h, w))
                 + rep(mean) + res.reshape(-1, 3, h, w)).reshape(b, n, 3, h, w)
        return warps.mean(1) + self.comb_block(warps.view(b, -1, h, w))


def _convert(raw: bytes, source: str) -> dict[str, torch.Tensor]:
    """VBench's motion-smoothness checkpoint ``amt-s.pth`` (``{"state_dict": …}``)."""
    with torch.device("meta"):
        expected = AMTS().state_dict()
    return checked_state(user_state(raw, source), source, expected, "AMT-S")


WEIGHTS = register_weights(
    WeightSpec("amt-s", "AMT-S frame interpolation (Vimeo90K): VBench motion smoothness", "CC-BY-NC-4.0 (MCG-NKU/AMT, as vendored by VBench)",
               "AMT-S checkpoint as VBench downloads it (user-supplied; VBench's pretrained/amt_model/amt-s.pth)", "", "",
               "amt-s.pth", None, _convert),
)
