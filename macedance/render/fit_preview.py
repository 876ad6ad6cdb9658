"""Fit previews: a clip's source frames beside its fitted SMPL body, and the contact sheet of a dataset.

A preview frame is two panels of the source frame's size (downscaled so that the longer side is at
most ``max_side``)::

    | source frame (+ its 2D keypoints)  | fitted body, drawn from the estimated camera, over the   |
    | "src <frame index>"                | dimmed source frame; floor grid; foot contacts; "fit i/n" |

The body is a :class:`~macedance.render.character.Character` (default: the capsule body on the fit's
rest skeleton), coloured by side like the keypoints of :func:`~macedance.render.overlay.draw_keypoints`
(left limbs blue, right limbs red, the trunk and head light grey), so a left/right swap shows as a
colour mismatch between the panels. The floor grid (0.5 m squares) lies on the world's y = 0 plane
(the lowest foot joint of the clip, see :func:`macedance.motion.camera.world_offset`); a ring on the
floor marks each foot joint within :data:`CONTACT_HEIGHT` of it.

Frames are rasterised in batches with :func:`macedance.render.raster.rasterize` (torch, CPU or CUDA)
and encoded by :func:`macedance.io.video.write_video` (the pinned encoder of every macedance video).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from macedance.motion.camera import FOOT_JOINTS, PinholeCamera

log = logging.getLogger(__name__)

DIM = 0.45  # brightness of the source frame under the body
BODY_ALPHA = 0.7  # opacity of the body over it
GRID_STEP = 0.5  # metres between floor grid lines
GRID_LEVEL = 70  # grey level added by a grid line
CONTACT_HEIGHT = 0.04  # metres: a foot joint this close to the floor is drawn as a contact
STILL_FRAMES = 4  # frames of a preview still
_LEFT = (1, 4, 7, 10, 13, 16, 18, 20, 22)
_RIGHT = (2, 5, 8, 11, 14, 17, 19, 21, 23)
_COLOURS = np.array([(235, 235, 225), (40, 110, 230), (230, 80, 60)], np.float32) / 255  # trunk, left, right
_LIGHT = np.array([-0.35, 0.55, 0.75]) / np.linalg.norm([-0.35, 0.55, 0.75])  # from the upper left front


def write_fit_preview(video: str | Path, out: str | Path, *, start: int, end: int, fps: float, motion: Any,
                      camera: PinholeCamera | dict[str, float], keypoints: np.ndarray | None = None, skeleton: str | None = None,
                      audio: str | Path | None = None, character: Any = None, max_side: int = 640, label: str | None = None,
                      still: str | Path | None = None, batch: int = 16, device: str = "cpu",
                      threads: int | None = 1) -> Path:
    """Write the side-by-side fit preview of frames [start, end) of ``video`` as an H.264 mp4.

    Args:
        video: the source video (display rotation applied, as the fit saw it).
        out: output ``.mp4``; its frames are (H, 2·W, 3), W × H the downscaled source size.
        start, end: source frame range; ``motion`` has one pose per frame of it.
        fps: frame rate of the output (the source's).
        motion: the fitted :class:`~macedance.schema.Motion` at the source frame rate, y-up metres, in the
            camera's world (``FitResult.motion``, before any resampling).
        camera: the fit's :class:`~macedance.motion.camera.PinholeCamera` (or its ``to_dict()``), in source pixels.
        keypoints: (end − start, K, 3) 2D keypoints (source px, confidence) drawn on the left panel; needs ``skeleton``.
        skeleton: the keypoints' skeleton name (``mediapipe33``, ``coco17``, …).
        audio: the clip's audio file, muxed in (trimmed to the clip).
        character: the body drawn (default: :func:`~macedance.render.character.capsule_character` on the
            built-in skeleton; pass the one of the fit's rest skeleton).
        max_side: longest side of a panel, px.
        label: text drawn in the corner of the right panel (e.g. the clip id and its reprojection error).
        still: also write a JPEG of :data:`STILL_FRAMES` frames spread over the clip (sources above,
            renders below) here.
        batch: frames rasterised together.
        device: torch device of the rendering.
        threads: torch CPU threads while rendering (None: leave as is). One by default, as
            :class:`~macedance.render.scene.Renderer`: the tensors of a batch are too small for
            intra-op threads to pay (measured 3× slower with two on two busy cores).

    Returns:
        ``out``.
    """
    import torch

    from macedance.io.video import iter_av_frames, sample_indices, to_rgb, write_video
    from macedance.motion.rotations import axis_angle_to_matrix
    from macedance.render.character import capsule_character
    from macedance.render.raster import rasterize

    cam = camera if isinstance(camera, PinholeCamera) else PinholeCamera.from_dict(camera)
    if keypoints is not None and skeleton is None:
        raise ValueError("keypoints need their skeleton name")
    if motion.up_axis != "y":
        motion = motion.to_up_axis("y")
    n = int(end - start)
    if motion.num_frames != n:
        log.warning("preview %s: %d poses for %d frames (the last pose is held)", out, motion.num_frames, n)
    character = capsule_character() if character is None else character
    dev = torch.device(device)
    rot = axis_angle_to_matrix(torch.tensor(np.asarray(motion.poses), dtype=torch.float64, device=dev))
    trans = torch.tensor(np.asarray(motion.trans), dtype=torch.float64, device=dev)
    faces = torch.as_tensor(character.faces, device=dev)
    face_colour = torch.as_tensor(_COLOURS[_face_sides(character)], device=dev)
    joints = motion.joints(character.rest)  # (T, 24, 3), for the floor grid and the contacts
    pick = set(sample_indices(n, STILL_FRAMES).tolist()) if still is not None else set()
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    state: dict[str, Any] = {}

    def render(imgs: list[np.ndarray], first: int) -> Iterator[np.ndarray]:
        import cv2

        h, w = state["size"]
        idx = torch.as_tensor([min(first + k, motion.num_frames - 1) for k in range(len(imgs))], device=dev)
        verts, normals, _ = character.pose(rot.index_select(0, idx), trans.index_select(0, idx))
        verts, normals = verts.float(), normals.float()
        uv = cam.project(verts) * torch.tensor(state["scale"], dtype=torch.float32, device=dev)
        frags = rasterize(uv, _depth(cam, verts), faces, (w, h))
        right = np.stack([cv2.add(cv2.convertScaleAbs(img, alpha=DIM), state["grid"]) for img in imgs])  # dimmed + floor grid
        flat = torch.from_numpy(right).view(-1, 3)
        if len(frags.pixel):
            B, V = len(imgs), verts.shape[1]
            b = torch.div(frags.pixel, h * w, rounding_mode="floor")
            vid = faces.index_select(0, frags.face)
            g = normals.reshape(B * V, 3).index_select(0, (b[:, None] * V + vid).reshape(-1)).view(-1, 3, 3)
            nrm = (frags.bary[..., None] * g).sum(1)
            nrm = nrm / nrm.norm(dim=-1, keepdim=True).clamp(min=1e-9)
            light = 0.35 + 0.65 * (nrm @ torch.as_tensor(_LIGHT, dtype=torch.float32, device=dev)).clamp(min=0)
            body = face_colour.index_select(0, frags.face) * light[:, None] * (255 * BODY_ALPHA)
            pix = frags.pixel.cpu()
            under = flat.index_select(0, pix).float() * (1 - BODY_ALPHA)
            flat.index_copy_(0, pix, (body.cpu() + under + 0.5).clamp(0, 255).to(torch.uint8))
        for k, img in enumerate(imgs):
            i = first + k
            left = _draw_left(img, keypoints, skeleton, i, state["scale"])
            rgt = right[k]
            _draw_contacts(rgt, joints[min(i, len(joints) - 1)], cam, state["scale"])
            if i in pick:
                pairs.append((left.copy(), rgt.copy()))
            _text(left, f"src {start + i}", corner="left")
            _text(rgt, f"fit {i + 1}/{n}" + (f"  {label}" if label else ""), corner="right")
            yield np.concatenate([left, rgt], axis=1)

    def frames() -> Iterator[np.ndarray]:
        buf: list[np.ndarray] = []
        first = 0
        for i, frame in enumerate(iter_av_frames(video, start, n)):
            img = to_rgb(frame, max_side, rotate=True)
            if not state:
                h, w = img.shape[:2]
                state["scale"] = (w / cam.width, h / cam.height)
                state["size"] = (h - h % 2, w - w % 2)
                state["grid"] = _floor_grid(cam, joints, state["scale"], state["size"])
            hh, ww = state["size"]
            buf.append(img[:hh, :ww])
            if len(buf) == batch:
                yield from render(buf, first)
                first, buf = i + 1, []
        if buf:
            yield from render(buf, first)

    before = torch.get_num_threads()
    if threads and dev.type == "cpu":
        torch.set_num_threads(threads)
    try:
        path = write_video(out, frames(), fps, audio=audio, audio_seconds=n / fps)
    finally:
        torch.set_num_threads(before)
    if still is not None and pairs:
        _write_jpeg(still, preview_still(pairs))
    return path


def _depth(cam: PinholeCamera, points: Any) -> Any:
    """(...,) depth (metres along the optical axis) of (..., 3) world points, numpy or torch: the
    camera's own ``depth`` where it has one (a tilted camera), else ``cam_z − z`` (a level one)."""
    depth = getattr(cam, "depth", None)
    return depth(points) if depth is not None else cam.cam_z - points[..., 2]


def _face_sides(character: Any) -> np.ndarray:
    """(F,) 0 trunk, 1 left, 2 right: the side of the joint that moves each face's first vertex most."""
    owner = np.asarray(character.weights).argmax(1)[np.asarray(character.faces)[:, 0]]
    return np.where(np.isin(owner, _LEFT), 1, np.where(np.isin(owner, _RIGHT), 2, 0))


def _draw_left(img: np.ndarray, keypoints: np.ndarray | None, skeleton: str | None, i: int, scale: tuple[float, float]) -> np.ndarray:
    if keypoints is None or i >= len(keypoints):
        return img.copy()
    from macedance.render.overlay import draw_keypoints

    kp = np.array(keypoints[i], dtype=np.float64)
    kp[:, 0] *= scale[0]
    kp[:, 1] *= scale[1]
    return draw_keypoints(img, kp, skeleton or "")


def _floor_grid(cam: PinholeCamera, joints: np.ndarray, scale: tuple[float, float], size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 grid lines on the y = 0 plane around the clip's pelvis path (in front of the camera
    only), to add to a frame."""
    import cv2

    h, w = size
    mask = np.zeros((h, w, 3), np.uint8)
    if cam.cam_y <= 0.05:  # camera at or below the floor: no grid to see
        return mask
    pel = joints[:, 0]
    x0, x1 = (math.floor((pel[:, 0].min() - 1.5) / GRID_STEP) * GRID_STEP, math.ceil((pel[:, 0].max() + 1.5) / GRID_STEP) * GRID_STEP)
    z0 = math.floor((pel[:, 2].min() - 1.5) / GRID_STEP) * GRID_STEP
    z1 = min(math.ceil((pel[:, 2].max() + 1.5) / GRID_STEP) * GRID_STEP, cam.cam_z - 0.5)
    if z1 <= z0:
        return mask
    segs = [((x, z0), (x, z1)) for x in np.arange(x0, x1 + 1e-9, GRID_STEP)]
    segs += [((x0, z), (x1, z)) for z in np.arange(z0, z1 + 1e-9, GRID_STEP)]
    thick = max(1, h // 360)
    for (xa, za), (xb, zb) in segs:
        uv = cam.project(np.array([[xa, 0.0, za], [xb, 0.0, zb]])) * np.asarray(scale)
        if np.all(np.isfinite(uv)) and np.abs(uv).max() < 1e5:
            cv2.line(mask, tuple(int(round(v)) for v in uv[0]), tuple(int(round(v)) for v in uv[1]), (GRID_LEVEL,) * 3, thick, cv2.LINE_AA)
    return mask


def _draw_contacts(img: np.ndarray, joints: np.ndarray, cam: PinholeCamera, scale: tuple[float, float]) -> None:
    """Green rings on the floor under the foot joints (SMPL 7, 8, 10, 11) within CONTACT_HEIGHT of it, in place."""
    import cv2

    feet = joints[list(FOOT_JOINTS)]
    down = feet[feet[:, 1] < CONTACT_HEIGHT].copy()
    if not len(down):
        return
    down[:, 1] = 0.0
    uv = cam.project(down) * np.asarray(scale)
    depth = np.maximum(_depth(cam, down), 0.1)
    for (u, v), z in zip(uv, depth, strict=True):
        r = max(2, int(round(cam.focal * scale[0] * 0.05 / z)))
        cv2.ellipse(img, (int(round(u)), int(round(v))), (r, max(1, r // 3)), 0, 0, 360, (60, 230, 90), max(1, img.shape[0] // 360),
                    cv2.LINE_AA)


def _text(img: np.ndarray, text: str, *, corner: str) -> None:
    """White text on a dark box in the top-left (``left``) or top-right (``right``) corner, in place."""
    import cv2

    h, w = img.shape[:2]
    s = max(0.35, h / 720)
    t = max(1, int(round(s * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, t)
    x = 4 if corner == "left" else max(4, w - tw - 8)
    cv2.rectangle(img, (x - 4, 0), (x + tw + 4, th + base + 8), (0, 0, 0), -1)
    cv2.putText(img, text, (x, th + 4), cv2.FONT_HERSHEY_SIMPLEX, s, (255, 255, 255), t, cv2.LINE_AA)


def preview_still(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *, height: int = 180) -> np.ndarray:
    """(2·height + 2, ≈ n·W', 3) uint8 still of n (source, render) panel pairs: sources in the top row,
    renders below, each panel resized to ``height`` px, 2 px dark gaps."""
    import cv2

    tops, bottoms = [], []
    for left, right in pairs:
        w = max(2, int(round(left.shape[1] * height / left.shape[0])))
        tops.append(cv2.resize(left, (w, height), interpolation=cv2.INTER_AREA))
        bottoms.append(cv2.resize(right, (w, height), interpolation=cv2.INTER_AREA))

    def row(panels: list[np.ndarray]) -> np.ndarray:
        gap = np.full((height, 2, 3), 24, np.uint8)
        return np.concatenate([p for q in panels for p in (q, gap)][:-1], axis=1)

    top, bottom = row(tops), row(bottoms)
    return np.concatenate([top, np.full((2, top.shape[1], 3), 24, np.uint8), bottom], axis=0)


def _write_jpeg(path: str | Path, rgb: np.ndarray, quality: int = 90) -> None:
    import cv2

    from macedance.fileio import atomic_write

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"{path}: JPEG encoding failed")
    with atomic_write(path) as f:
        f.write(buf.tobytes())


def write_contact_sheet(out: str | Path, tiles: Sequence[tuple[str | Path, str]], *, columns: int = 3, tile_width: int = 600) -> Path:
    """A grid of preview stills with a label bar above each, as a JPEG, in the order given (row by row).

    Args:
        out: the ``.jpg`` written (atomically).
        tiles: (still image file, label) per tile; an unreadable still becomes a grey tile.
        columns: tiles per row.
        tile_width: width of a tile, px (its height follows the still's aspect ratio, rows as tall as their tallest tile).

    Returns:
        ``out``.
    """
    import cv2

    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    bar = 26
    columns = max(1, min(columns, len(tiles)))
    images = []
    for still, _ in tiles:
        img = cv2.imread(str(still), cv2.IMREAD_COLOR)
        if img is None:
            log.warning("contact sheet: cannot read %s", still)
            img = np.full((tile_width // 3, tile_width, 3), 90, np.uint8)
        h = max(2, int(round(img.shape[0] * tile_width / img.shape[1])))
        images.append(cv2.resize(img, (tile_width, h), interpolation=cv2.INTER_AREA)[..., ::-1])
    pad = 6
    rows = []
    for r in range(0, len(images), columns):
        chunk = list(zip(images[r : r + columns], [lab for _, lab in tiles[r : r + columns]], strict=True))
        th = max(img.shape[0] for img, _ in chunk) + bar
        row = np.full((th, columns * (tile_width + pad) + pad, 3), 16, np.uint8)
        for c, (img, lab) in enumerate(chunk):
            x = pad + c * (tile_width + pad)
            row[bar : bar + img.shape[0], x : x + tile_width] = img
            cv2.putText(row, _fit_text(lab, tile_width - 8, 0.5), (x + 4, bar - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (240, 240, 240), 1, cv2.LINE_AA)
        rows.append(row)
        rows.append(np.full((pad, row.shape[1], 3), 16, np.uint8))
    _write_jpeg(out, np.concatenate(rows, axis=0))
    return Path(out)


def _fit_text(text: str, width: int, scale: float) -> str:
    """``text`` shortened from the left ("...") until it is at most ``width`` px wide in HERSHEY_SIMPLEX."""
    import cv2

    text = text.encode("ascii", "replace").decode()
    out = text
    while len(out) > 4 and cv2.getTextSize(out, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        text = text[1:]
        out = "..." + text
    return out
