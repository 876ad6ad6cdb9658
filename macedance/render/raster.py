"""A batched triangle rasteriser in torch (CPU or CUDA): visibility, depth and barycentrics per pixel.

The approach is the classic one, vectorised: every triangle is paired with the pixels of its screen
bounding box (``repeat_interleave`` over the box sizes), the edge functions at the pixel centres
keep the pairs inside the triangle, and a z-buffer (``scatter_reduce`` with ``amin``) keeps the
nearest triangle per pixel. Work is proportional to the covered area, not to pixels × triangles, so
a 14k-triangle body at 720×1280 costs about a million pairs per frame. Triangles facing away from
the camera are culled (the meshes are closed and wound counter-clockwise seen from outside).

Conventions: pixel coordinates are continuous, x right, y down, origin at the image's top-left
corner, pixel (row i, column j) is sampled at its centre (j + 0.5, i + 0.5) — the convention of
:meth:`macedance.motion.camera.PinholeCamera.project` and of MediaPipe's normalised landmarks. ``depth`` is the distance
along the optical axis (> 0 in front of the camera). Barycentrics are perspective-correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_NEAR = 1e-3  # metres: triangles with a vertex closer than this are dropped


@dataclass
class Fragments:
    """The visible surface at every covered pixel of a batch of frames (sparse: covered pixels only).

    Attributes:
        size: (batch, height, width).
        pixel: (N,) int64 flat index ``(b · H + row) · W + column`` of each covered pixel.
        face: (N,) int64 index of the visible triangle there.
        bary: (N, 3) perspective-correct barycentric coordinates of the pixel centre in that triangle.
        depth: (N,) depth of the visible surface.
    """

    size: tuple[int, int, int]
    pixel: torch.Tensor
    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor

    def face_map(self) -> torch.Tensor:
        """(B, H, W) int64 visible triangle per pixel, −1 where nothing is drawn."""
        out = torch.full((self.size[0] * self.size[1] * self.size[2],), -1, dtype=torch.long, device=self.face.device)
        out[self.pixel] = self.face
        return out.view(self.size)


def rasterize(uv: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, size: tuple[int, int],
              max_pairs: int = 4_000_000) -> Fragments:
    """Rasterise triangle meshes for a batch of frames.

    Args:
        uv: (B, V, 2) vertex positions in pixels (see the module docstring).
        depth: (B, V) vertex depths (metres, > 0 in front of the camera).
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside the mesh.
        size: (width, height) of the image in pixels.
        max_pairs: triangle–pixel pairs processed at once (bounds the memory: about 60 bytes each).

    Returns:
        :class:`Fragments` on the device of ``uv``.
    """
    W, H = size
    B = uv.shape[0]
    dev = uv.device
    tri = uv[:, faces]  # (B, F, 3, 2)
    tz = depth[:, faces]  # (B, F, 3)
    x, y = tri[..., 0], tri[..., 1]
    # Twice the signed area in image coordinates (y down): a counter-clockwise triangle facing the
    # camera in the y-up world appears clockwise in the image, with a negative area here.
    area = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0])
    j0 = torch.ceil(x.min(-1).values - 0.5).clamp(min=0)
    j1 = torch.floor(x.max(-1).values - 0.5).clamp(max=W - 1)
    i0 = torch.ceil(y.min(-1).values - 0.5).clamp(min=0)
    i1 = torch.floor(y.max(-1).values - 0.5).clamp(max=H - 1)
    keep = (area < -1e-12) & (tz.min(-1).values > _NEAR) & (j1 >= j0) & (i1 >= i0)
    # Per kept triangle (1D from here on; index_select is much faster than advanced indexing on CPU):
    # box origin and width, the barycentric plane coefficients (b_k = A_k x + B_k y + C_k at a pixel
    # centre (x, y)) and the inverse vertex depths.
    flat = torch.nonzero(keep.reshape(-1)).squeeze(1)
    nf = faces.shape[0]
    b_idx, f_idx = torch.div(flat, nf, rounding_mode="floor"), flat % nf

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(B * nf, *t.shape[2:]).index_select(0, flat)

    j0, i0 = pick(j0).long(), pick(i0).long()
    bw = pick(j1).long() - j0 + 1
    counts = bw * (pick(i1).long() - i0 + 1)
    X, Y, area = pick(x) - j0[:, None], pick(y) - i0[:, None], pick(area)  # box-relative: keeps float32 precision
    X1, X2, Y1, Y2 = X.roll(-1, 1), X.roll(-2, 1), Y.roll(-1, 1), Y.roll(-2, 1)
    coef = (torch.stack([Y1 - Y2, X2 - X1, X1 * Y2 - X2 * Y1], -1) / area[:, None, None]).reshape(-1, 9)  # (n, 3 vertices × 3)
    inv_z = 1.0 / pick(tz)
    # z-buffer key: the float32 depth's bits (monotonic for positive floats), then the face index,
    # so one amin finds the nearest surface (ties: the smaller face index).
    face_bits = max(1, int(faces.shape[0]).bit_length())
    keybuf = torch.full((B * H * W,), torch.iinfo(torch.int64).max, device=dev, dtype=torch.long)
    if len(counts) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return Fragments((B, H, W), empty, empty, torch.zeros((0, 3), dtype=uv.dtype, device=dev), torch.zeros(0, dtype=uv.dtype, device=dev))
    ends = torch.cumsum(counts, 0)
    bounds = [0]  # chunks of whole triangles with at most max_pairs pairs (a larger triangle is its own chunk)
    while bounds[-1] < len(counts):
        start = int(ends[bounds[-1] - 1]) if bounds[-1] > 0 else 0
        nxt = int(torch.searchsorted(ends, torch.tensor(start + max_pairs, device=dev), right=True))
        bounds.append(max(nxt, bounds[-1] + 1))
    passes = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        sl = slice(a, b)
        pix, tid, bary, z = _pairs(bw[sl], counts[sl], j0[sl], i0[sl], coef[sl], inv_z[sl], b_idx[sl], W, H)
        face = f_idx[sl].index_select(0, tid)
        key = (z.float().view(torch.int32).long() << face_bits) | face
        keybuf.scatter_reduce_(0, pix, key, "amin")
        passes.append((pix, key, face, bary, z))
    parts = []
    for pix, key, face, bary, z in passes:
        win = torch.nonzero(keybuf.index_select(0, pix) == key).squeeze(1)  # exactly one pair per covered pixel
        parts.append([t.index_select(0, win) for t in (pix, face, bary, z)])
    return Fragments((B, H, W), *(torch.cat(c) if len(c) > 1 else c[0] for c in zip(*parts, strict=True)))


def _pairs(bw: torch.Tensor, counts: torch.Tensor, j0: torch.Tensor, i0: torch.Tensor, coef: torch.Tensor, inv_z: torch.Tensor,
           b_idx: torch.Tensor, W: int, H: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Covered pixels of a chunk of triangles: (pixel index, triangle in chunk, perspective-correct
    barycentrics, depth) per (triangle, pixel) pair inside its triangle."""
    dev = counts.device
    tid = torch.repeat_interleave(torch.arange(len(counts), device=dev), counts)
    local = torch.arange(int(counts.sum()), device=dev) - (torch.cumsum(counts, 0) - counts).index_select(0, tid)
    w = bw.index_select(0, tid)
    py = torch.div(local, w, rounding_mode="floor")
    px = local - py * w  # box-relative pixel
    c = coef.index_select(0, tid).view(-1, 3, 3)
    bary = torch.addcmul(torch.addcmul(c[..., 2], c[..., 0], (px.to(c.dtype) + 0.5)[:, None]), c[..., 1], (py.to(c.dtype) + 0.5)[:, None])
    px = px + j0.index_select(0, tid)
    py = py + i0.index_select(0, tid)
    keep = torch.nonzero((bary >= 0).all(-1)).squeeze(1)
    bary, tid, px, py = bary.index_select(0, keep), tid.index_select(0, keep), px.index_select(0, keep), py.index_select(0, keep)
    wz = bary * inv_z.index_select(0, tid)  # 1/z is affine in screen space: perspective-correct interpolation
    z = 1.0 / wz.sum(-1)
    return (b_idx.index_select(0, tid) * H + py) * W + px, tid, wz * z[:, None], z
