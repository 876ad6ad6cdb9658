"""Scene, camera framing, lighting and shading of the 3D renderer (torch; CPU or CUDA).

* **Camera**: the pinhole model of the SMPL fit (:class:`macedance.motion.camera.PinholeCamera`, the
  type of ``FitResult.camera``): level (no pitch or roll), looking along −z, focal length
  ``max(W, H)`` px by default (≈ 53° on the long side, what ``data build`` assumes when it fits), the
  principal point at the image centre. :func:`frame_camera` places it in front of the performer so
  that every vertex of the clip stays inside the frame with a margin (fixed for the whole clip).
* **Set**: a floor plane under the lowest vertex of the clip and a back wall 1.5 m behind the
  performance, coloured (and optionally textured: stripes, checks or tiles) by a :class:`Look`; a soft
  contact shadow under the pelvis and the feet.
* **Lighting**: a key light from the upper left front, a fill light from the right, ambient light and a
  weak specular highlight; smooth shading from interpolated vertex normals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from macedance.motion.camera import PinholeCamera
from macedance.render.character import HEAD, SHIRT, SHOES, SKIN, TROUSERS, Character
from macedance.render.raster import Fragments, rasterize

PATTERNS = ("plain", "stripes", "checks", "tiles")
BACKGROUNDS = ("studio", "random")
_KEY = np.array([-0.45, 0.75, 0.5]) / np.linalg.norm([-0.45, 0.75, 0.5])
_FILL = np.array([0.7, 0.25, 0.65]) / np.linalg.norm([0.7, 0.25, 0.65])


@dataclass(frozen=True)
class Look:
    """Colours (RGB 0–255) of the set and the outfit, and the wall and floor patterns."""

    wall: tuple[int, int, int] = (196, 204, 214)
    floor: tuple[int, int, int] = (150, 142, 132)
    wall_pattern: str = "plain"
    floor_pattern: str = "tiles"
    skin: tuple[int, int, int] = (224, 172, 140)
    shirt: tuple[int, int, int] = (196, 52, 44)
    trousers: tuple[int, int, int] = (44, 58, 110)
    shoes: tuple[int, int, int] = (34, 30, 30)
    hair: tuple[int, int, int] = (40, 28, 22)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def random_look(rng: np.random.Generator) -> Look:
    """A random set (wall and floor colour and pattern) and outfit; skin and hair stay natural."""

    def colour(lo: int, hi: int) -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]

    skins = ((236, 188, 160), (224, 172, 140), (190, 140, 105), (141, 95, 66), (98, 64, 44))
    hairs = ((40, 28, 22), (20, 18, 18), (110, 74, 40), (180, 140, 80))
    return Look(wall=colour(40, 236), floor=colour(40, 220), wall_pattern=str(rng.choice(PATTERNS)),
                floor_pattern=str(rng.choice(PATTERNS)), skin=skins[int(rng.integers(len(skins)))], shirt=colour(20, 236),
                trousers=colour(20, 200), shoes=colour(10, 90), hair=hairs[int(rng.integers(len(hairs)))])


def frame_camera(points: np.ndarray, size: tuple[int, int], *, focal: float | None = None, margin: float = 0.08,
                 min_distance: float = 2.0) -> PinholeCamera:
    """A level camera looking along −z that keeps every point inside the frame.

    Args:
        points: (N, 3) world points (y up) that must be visible, e.g. every vertex of every frame.
        size: (width, height) px.
        focal: focal length px (default ``max(width, height)``).
        margin: fraction of the half-width/height kept free on each side.
        min_distance: the camera is at least this far (m) in front of the nearest point.

    Returns:
        The camera, ``focal_estimated`` 0 (the focal length is known exactly).
    """
    w, h = size
    f = float(focal) if focal else float(max(w, h))
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    lo, hi = p.min(0), p.max(0)
    cx, cy = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])
    need_x = p[:, 2] + f * np.abs(p[:, 0] - cx) / (0.5 * w * (1 - margin))
    need_y = p[:, 2] + f * np.abs(p[:, 1] - cy) / (0.5 * h * (1 - margin))
    cz = max(float(need_x.max()), float(need_y.max()), float(hi[2]) + min_distance)
    return PinholeCamera(focal=f, cx=w / 2.0, cy=h / 2.0, width=float(w), height=float(h), cam_x=float(cx), cam_y=float(cy),
                         cam_z=cz, focal_estimated=0.0)


def _pattern(name: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Brightness factor of a pattern at surface coordinates (a, b) metres."""
    if name == "stripes":
        return 1.0 - 0.18 * (torch.remainder(a / 0.25, 1.0) < 0.5).to(a.dtype)
    if name == "checks":
        return 1.0 - 0.2 * (torch.remainder(torch.floor(a / 0.4) + torch.floor(b / 0.4), 2.0))
    if name == "tiles":
        edge = (torch.remainder(a / 0.6, 1.0) < 0.03) | (torch.remainder(b / 0.6, 1.0) < 0.03)
        return 1.0 - 0.25 * edge.to(a.dtype)
    return torch.ones_like(a)


class Renderer:
    """Renders a :class:`~macedance.render.character.Character` into frames of a fixed size.

    Args:
        character: the mesh to draw.
        size: (width, height) px (even numbers for H.264).
        device: torch device (``cpu`` or ``cuda``).
        batch: frames rasterised together (more on a GPU).
        threads: torch CPU threads while rendering (None: leave as is). One by default: the tensors
            of a frame are too small for intra-op threads to pay (measured slower with two on two
            busy cores); frames are encoded in parallel instead, and ``--workers`` adds processes.
    """

    def __init__(self, character: Character, size: tuple[int, int], device: str = "cpu", batch: int = 1, threads: int | None = 1):
        self.character = character
        self.threads = threads
        self.size = (int(size[0]), int(size[1]))
        self.device = torch.device(device)
        self.batch = max(1, int(batch))
        dev = self.device
        self.faces = torch.as_tensor(character.faces, device=dev)
        self.material = torch.as_tensor(character.material, device=dev)
        self.rest_vertices = torch.as_tensor(character.vertices, dtype=torch.float32, device=dev)

    def pose(self, poses: np.ndarray, trans: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Posed vertices (T, V, 3), vertex normals (T, V, 3) and joints (T, 24, 3), float32 on the
        device, from (T, 24, 3) axis-angle poses and (T, 3) translations (FK in float64)."""
        from macedance.motion.rotations import axis_angle_to_matrix

        rot = axis_angle_to_matrix(torch.tensor(np.asarray(poses), dtype=torch.float64, device=self.device))
        tr = torch.tensor(np.asarray(trans), dtype=torch.float64, device=self.device)
        parts = [self.character.pose(rot[a : a + 256], tr[a : a + 256]) for a in range(0, len(rot), 256)]
        return tuple(torch.cat([p[k] for p in parts]).float() for k in range(3))  # type: ignore[return-value]

    def background(self, camera: PinholeCamera, floor_y: float, wall_z: float, look: Look) -> tuple[torch.Tensor, torch.Tensor]:
        """The empty set as (H, W, 3) float colours in [0, 1] and the (H, W, 2) floor (x, z) per pixel
        (NaN off the floor), for the contact shadow."""
        w, h = self.size
        dev = self.device
        u = torch.arange(w, device=dev, dtype=torch.float32) + 0.5
        v = torch.arange(h, device=dev, dtype=torch.float32) + 0.5
        dx = ((u - camera.cx) / camera.focal)[None, :].expand(h, w)
        dy = (-(v - camera.cy) / camera.focal)[:, None].expand(h, w)
        t_wall = camera.cam_z - wall_z  # rays have d_z = −1
        t_floor = torch.where(dy < -1e-9, (floor_y - camera.cam_y) / dy.clamp(max=-1e-9), torch.full_like(dy, float("inf")))
        on_floor = t_floor < t_wall
        wall_x, wall_y = camera.cam_x + t_wall * dx, camera.cam_y + t_wall * dy
        fx, fz = camera.cam_x + t_floor * dx, camera.cam_z - t_floor
        wall_c = torch.tensor(look.wall, device=dev, dtype=torch.float32) / 255
        floor_c = torch.tensor(look.floor, device=dev, dtype=torch.float32) / 255
        wall_shade = (0.8 + 0.2 * torch.clamp((wall_y - floor_y) / 2.5, 0, 1)) * _pattern(look.wall_pattern, wall_x, wall_y)
        fade = torch.clamp(1.0 - (camera.cam_z - fz.nan_to_num(0)) / 40.0, 0.6, 1.0)
        floor_shade = 0.9 * fade * _pattern(look.floor_pattern, fx.nan_to_num(0), fz.nan_to_num(0))
        img = torch.where(on_floor[..., None], floor_c * floor_shade[..., None], wall_c * wall_shade[..., None])
        xz = torch.stack([fx, fz], -1)
        xz[~on_floor] = float("nan")
        return img.clamp(0, 1), xz

    def render(self, verts: torch.Tensor, normals: torch.Tensor, joints: torch.Tensor, camera: PinholeCamera, look: Look,
               floor_y: float | None = None) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames of posed vertices (T, V, 3) with their normals and joints (as
        returned by :meth:`pose`).

        The floor is at ``floor_y`` (default: the lowest vertex of all frames), the wall 1.5 m behind
        the rearmost vertex.
        """
        threads = torch.get_num_threads()
        if self.threads and self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            floor = float(verts[..., 1].min()) if floor_y is None else floor_y
            wall_z = float(verts[..., 2].min()) - 1.5
            bg, floor_xz = self.background(camera, floor, wall_z, look)
            bg8 = (bg * 255 + 0.5).to(torch.uint8)
            colours = self._palette(look)
            for a in range(0, len(verts), self.batch):
                v = verts[a : a + self.batch]
                frags = rasterize(camera.project(v), camera.cam_z - v[..., 2], self.faces, self.size)
                img = bg8.expand(len(v), -1, -1, -1).clone()
                self._shadow(img, floor_xz, joints[a : a + self.batch], floor, camera)
                self._shade(img.view(-1, 3), frags, v, normals[a : a + self.batch], camera, colours, look)
                yield from img.cpu().numpy()
        finally:
            torch.set_num_threads(threads)

    def _palette(self, look: Look) -> torch.Tensor:
        cols = {SKIN: look.skin, SHIRT: look.shirt, TROUSERS: look.trousers, SHOES: look.shoes, HEAD: look.skin}
        return torch.tensor([cols[k] for k in sorted(cols)], dtype=torch.float32, device=self.device) / 255

    def _shadow(self, img: torch.Tensor, floor_xz: torch.Tensor, joints: torch.Tensor, floor_y: float, camera: PinholeCamera) -> None:
        """Darken the floor under the pelvis and the feet (Gaussian blobs, fainter with height), in place
        on (B, H, W, 3) uint8 frames, inside the region the blobs can reach."""
        spots = joints[:, [0, 10, 11]]  # (B, 3, 3)
        dev = img.device
        radius = torch.tensor([0.3, 0.13, 0.13], device=dev)
        lift = (spots[..., 1] - floor_y).clamp(min=0)
        strength = torch.tensor([0.35, 0.45, 0.45], device=dev) * torch.exp(-lift / torch.tensor([1.2, 0.25, 0.25], device=dev))
        reach = 2.5 * radius
        corners = spots[..., None, :].repeat(1, 1, 4, 1)
        corners[..., 1] = floor_y
        corners[..., 0] += reach[:, None] * torch.tensor([-1.0, 1.0, -1.0, 1.0], device=dev)
        corners[..., 2] += reach[:, None] * torch.tensor([-1.0, -1.0, 1.0, 1.0], device=dev)
        uv = camera.project(corners.reshape(-1, 3))
        W, H = self.size
        u0, u1 = int(uv[:, 0].min().clamp(0, W)), int(uv[:, 0].max().clamp(0, W - 1)) + 1
        v0, v1 = int(uv[:, 1].min().clamp(0, H)), int(uv[:, 1].max().clamp(0, H - 1)) + 1
        if u1 <= u0 or v1 <= v0:
            return
        xz = floor_xz[v0:v1, u0:u1]
        d2 = ((xz[None, :, :, None, :] - spots[:, None, None, :, [0, 2]]) ** 2).sum(-1)  # (B, h, w, 3)
        dark = (strength[:, None, None] * torch.exp(-d2 / radius**2)).amax(-1).nan_to_num(0.0)
        region = img[:, v0:v1, u0:u1]
        region.copy_((region.float() * (1.0 - dark)[..., None] + 0.5).to(torch.uint8))

    def _shade(self, img: torch.Tensor, frags: Fragments, verts: torch.Tensor, normals: torch.Tensor, camera: PinholeCamera,
               colours: torch.Tensor, look: Look) -> None:
        """Write the lit, textured figure into ``img`` ((B·H·W, 3) uint8) at the covered pixels."""
        N = len(frags.pixel)
        if N == 0:
            return
        B, H, W = frags.size
        V = verts.shape[1]
        b = torch.div(frags.pixel, H * W, rounding_mode="floor")
        vid = self.faces.index_select(0, frags.face)  # (N, 3)
        # Interpolate position, normal and rest position (texture coordinates) in one gather.
        attr = torch.cat([verts, normals, self.rest_vertices.expand(B, -1, -1)], -1).reshape(B * V, 9)
        g = attr.index_select(0, (b[:, None] * V + vid).reshape(-1)).view(N, 3, 9)
        it = torch.bmm(frags.bary[:, None, :], g)[:, 0]
        pos, n, rest = it[:, :3], it[:, 3:6], it[:, 6:]
        n = n / n.norm(dim=-1, keepdim=True).clamp(min=1e-9)
        mat = self.material.index_select(0, frags.face)
        base = self._texture(colours.index_select(0, mat), mat, rest, look)
        dev = img.device
        view = torch.tensor([camera.cam_x, camera.cam_y, camera.cam_z], device=dev) - pos
        view = view / view.norm(dim=-1, keepdim=True).clamp(min=1e-9)
        key = torch.as_tensor(_KEY, dtype=torch.float32, device=dev)
        fill = torch.as_tensor(_FILL, dtype=torch.float32, device=dev)
        light = 0.32 + 0.62 * (n @ key).clamp(min=0) + 0.25 * (n @ fill).clamp(min=0)
        half = key + view
        half = half / half.norm(dim=-1, keepdim=True).clamp(min=1e-9)
        gloss = torch.tensor([0.12, 0.05, 0.05, 0.35, 0.12], device=dev).index_select(0, mat)  # by material
        spec = gloss * (n * half).sum(-1).clamp(min=0) ** 24
        colour = (base * light[:, None] + spec[:, None]).clamp(0, 1)
        img.index_copy_(0, frags.pixel, (colour * 255 + 0.5).to(torch.uint8))

    def _texture(self, base: torch.Tensor, mat: torch.Tensor, rest: torch.Tensor, look: Look) -> torch.Tensor:
        """Procedural texture from the rest-pose surface position: shirt stripes, hair, eyes, mouth."""
        head = self.character.head
        shirt = (mat == SHIRT) & (torch.remainder(rest[:, 1] / 0.08, 1.0) < 0.3)
        out = torch.where(shirt[:, None], base * 0.72 + 0.28, base)
        is_head = torch.nonzero(mat == HEAD).squeeze(1)
        if len(is_head) == 0:
            return out
        p = rest.index_select(0, is_head) - torch.tensor(head.centre, dtype=rest.dtype, device=rest.device)
        hair = (p[:, 1] > head.hair_top) | ((p[:, 2] < head.hair_back) & (p[:, 1] > head.hair_nape))
        front = (p[:, 2] > 0) & ~hair
        eye = torch.zeros_like(front)
        for ex, ey in head.eyes:
            eye |= ((p[:, 0] - ex) ** 2 + (p[:, 1] - ey) ** 2) < head.eye_radius**2
        mx, my = head.mouth
        mouth = ((p[:, 0] - mx) / head.mouth_size[0]) ** 2 + ((p[:, 1] - my) / head.mouth_size[1]) ** 2 < 1.0
        dev = out.device
        h = out.index_select(0, is_head)
        h = torch.where(hair[:, None], torch.tensor(look.hair, dtype=out.dtype, device=dev) / 255, h)
        h = torch.where((front & eye)[:, None], torch.tensor([0.12, 0.1, 0.1], device=dev), h)
        h = torch.where((front & mouth)[:, None], torch.tensor([0.55, 0.2, 0.2], device=dev), h)
        return out.index_copy(0, is_head, h)
