"""Generated raw dance videos for tests, the demo and the benchmarks of ``macedance data build``.

A video is a list of shots. Each shot draws a cartoon dancer (filled limbs, shirt, face) moving with
a procedural dance (:func:`~macedance.datasets.synthetic.synthetic_motion`) through a pinhole camera
on its own background colour, so shot boundaries are hard cuts at known frames. A shot can also be
``static`` (the dancer frozen: no motion at all), show ``two`` dancers, or be ``empty`` (no one).
A drum track at the shot's tempo is muxed in as AAC unless ``audio=False``. MediaPipe Pose detects
the cartoon dancer in every frame (measured), so the whole builder pipeline runs on these videos.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from macedance.datasets.synthetic import synthetic_motion
from macedance.motion.camera import PinholeCamera, project_front

if TYPE_CHECKING:
    from macedance.schema import Clip

SHOT_KINDS = ("dance", "static", "two", "empty")
_SKIN, _SHIRT, _TROUSERS, _SHOES, _HAIR = (220, 180, 150), (200, 60, 40), (90, 50, 50), (20, 20, 20), (20, 30, 40)
# (joint a, joint b, width as a fraction of the image height, colour)
_LIMBS = (
    (1, 4, 0.040, _TROUSERS), (2, 5, 0.040, _TROUSERS), (4, 7, 0.034, _TROUSERS), (5, 8, 0.034, _TROUSERS),
    (7, 10, 0.024, _SHOES), (8, 11, 0.024, _SHOES), (16, 18, 0.028, _SHIRT), (17, 19, 0.028, _SHIRT),
    (18, 20, 0.022, _SKIN), (19, 21, 0.022, _SKIN), (12, 15, 0.025, _SKIN),
)


@dataclass(frozen=True)
class ShotSpec:
    """One shot of a generated video: its length (s), kind (``SHOT_KINDS``) and dance tempo (BPM)."""

    seconds: float
    kind: str = "dance"
    bpm: float = 120.0


def camera_joints(joints: np.ndarray, distance: float = 3.6, x_offset: float = 0.0) -> np.ndarray:
    """(T, 24, 3) y-up world joints → the frame of a level camera at the origin (x right, y up, z toward
    the camera, as :class:`~macedance.motion.camera.PinholeCamera`): the clip's mean pelvis
    ``distance`` metres in front of the camera, ``x_offset`` metres right and 0.15 m below its axis; the
    dancer faces +z (towards the camera)."""
    cam = np.array(joints, dtype=np.float64)
    centre = cam[:, 0].mean(axis=0)
    cam = cam - centre
    cam[..., 2] -= distance
    cam[..., 0] += x_offset
    cam[..., 1] -= 0.15
    return cam


def draw_dancer(img: np.ndarray, uv: np.ndarray) -> None:
    """Draw a cartoon dancer in place from (24, 2) pixel positions of the SMPL joints."""
    import cv2

    h = img.shape[0]
    torso = np.round(uv[[16, 17, 2, 1]]).astype(np.int32)
    cv2.fillConvexPoly(img, torso, _SHIRT, cv2.LINE_AA)
    for a, b, width, colour in _LIMBS:
        pa, pb = tuple(int(v) for v in np.round(uv[a])), tuple(int(v) for v in np.round(uv[b]))
        cv2.line(img, pa, pb, colour, max(2, int(width * h)), cv2.LINE_AA)
    hc = uv[15]
    r = max(3.0, float(np.linalg.norm(uv[15] - uv[12])) * 1.1)
    centre = tuple(int(v) for v in np.round(hc))
    cv2.ellipse(img, centre, (int(r * 0.8), int(r)), 0, 0, 360, _SKIN, -1, cv2.LINE_AA)
    cv2.ellipse(img, tuple(int(v) for v in np.round(hc + [0, -r * 0.5])), (int(r * 0.85), int(r * 0.55)), 0, 180, 360, _HAIR, -1, cv2.LINE_AA)
    for dx in (-0.3, 0.3):
        cv2.circle(img, tuple(int(v) for v in np.round(hc + [dx * r, -0.05 * r])), max(1, int(r / 8)), (30, 30, 30), -1)
    cv2.line(img, tuple(int(v) for v in np.round(hc + [-0.25 * r, 0.45 * r])), tuple(int(v) for v in np.round(hc + [0.25 * r, 0.45 * r])),
             (120, 40, 40), max(1, int(r / 10)))


def shot_frames(spec: ShotSpec, fps: float, size: tuple[int, int], seed: int, index: int) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 RGB frames of one shot."""
    import cv2

    if spec.kind not in SHOT_KINDS:
        raise ValueError(f"shot kind must be one of {SHOT_KINDS}, got {spec.kind!r}")
    w, h = size
    rng = np.random.default_rng([seed, index])
    n = max(1, int(round(spec.seconds * fps)))
    bg = tuple(int(v) for v in rng.integers(40, 215, 3))
    floor = tuple(int(v * 0.6) for v in bg)
    camera = PinholeCamera(focal=0.9 * max(w, h), cx=w / 2.0, cy=h / 2.0, width=w, height=h)
    dancers = []
    offsets = (-0.55, 0.55) if spec.kind == "two" else (float(rng.uniform(-0.3, 0.3)),)
    for k, x in enumerate(offsets if spec.kind != "empty" else ()):
        motion = synthetic_motion(seconds=n / fps, fps=fps, bpm=spec.bpm, seed=seed * 1000 + index * 10 + k)
        uv = camera.project(camera_joints(motion.joints(), x_offset=x))
        if spec.kind == "static":
            uv = np.repeat(uv[:1], len(uv), axis=0)
        dancers.append(uv)
    for t in range(n):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = bg
        cv2.rectangle(img, (0, int(h * 0.78)), (w, h), floor, -1)
        for uv in dancers:
            draw_dancer(img, uv[min(t, len(uv) - 1)])
        yield img


def write_dance_video(path: str | Path, shots: Sequence[ShotSpec], *, fps: float = 30.0, size: tuple[int, int] = (640, 360),
                      seed: int = 0, audio: bool = True) -> dict[str, object]:
    """Write a generated raw dance video (H.264 mp4, AAC drum track unless ``audio=False``).

    Returns:
        ``{"cuts": [first frame of every shot after the first], "frames": total, "beats": beat times (s)}``.
    """
    import soundfile as sf

    from macedance.io.video import write_video
    from macedance.music.synth import beat_times, drum_track

    counts = [max(1, int(round(s.seconds * fps))) for s in shots]
    total = int(sum(counts))
    seconds = total / fps

    def frames() -> Iterator[np.ndarray]:
        for i, spec in enumerate(shots):
            yield from shot_frames(spec, fps, size, seed, i)

    beats = beat_times(shots[0].bpm if shots else 120.0, seconds, start=0.25)
    if audio:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "music.wav"
            sf.write(wav, drum_track(beats, seconds, sr=22050, seed=seed), 22050)
            write_video(path, frames(), fps, audio=wav, audio_seconds=seconds)
    else:
        write_video(path, frames(), fps)
    return {"cuts": np.cumsum(counts)[:-1].tolist(), "frames": total, "beats": beats.tolist()}


def write_dancer_clip(root: str | Path, cid: str, *, seconds: float, fps: float, size: tuple[int, int], seed: int, split: str,
                      bpm: float = 120.0) -> Clip:
    """One clip of a cartoon dancer seen from the front (orthographic) in ``data build``'s layout under ``root``: its SMPL
    motion (``motions/``), exact MediaPipe-33 keypoints (``keypoints/``), video with a drum track at ``bpm``
    (``videos/``), the drum track (``audio/``) and first frame (``reference/``); returns its Clip record."""
    import soundfile as sf
    from PIL import Image

    from macedance.io.video import write_video
    from macedance.music.synth import beat_times, drum_track
    from macedance.pose.mapping import smpl_joints_to_keypoints
    from macedance.schema import Clip, Keypoints2D

    root = Path(root)
    w, h = size
    m = synthetic_motion(seconds=seconds, fps=fps, bpm=bpm, seed=seed)
    uv = 0.47 * h * project_front(m.to_up_axis("y").joints()) + np.array([w / 2, 0.52 * h])
    frames = []
    for p in uv:
        img = np.full((h, w, 3), 230, np.uint8)
        draw_dancer(img, p)
        frames.append(img)
    kp, filled = smpl_joints_to_keypoints(uv, "mediapipe33")
    kp = np.concatenate([kp, np.broadcast_to(filled[:, None].astype(float), kp.shape[:-1] + (1,))], axis=-1)
    files = {"motion_path": f"motions/{cid}.npz", "keypoints_path": f"keypoints/{cid}.npz", "audio_path": f"audio/{cid}.wav",
             "reference_path": f"reference/{cid}.jpg", "video_path": f"videos/{cid}.mp4"}
    m.save(root / files["motion_path"])
    (root / "audio").mkdir(parents=True, exist_ok=True)
    sf.write(root / files["audio_path"], drum_track(beat_times(bpm, seconds, start=0.25), seconds, sr=22050, seed=seed), 22050)
    write_video(root / files["video_path"], frames, fps, audio=root / files["audio_path"], audio_seconds=seconds)
    Keypoints2D(kp, "mediapipe33", size, fps).save(root / files["keypoints_path"])
    (root / "reference").mkdir(exist_ok=True)
    Image.fromarray(frames[0]).save(root / files["reference_path"])
    return Clip(cid, f"synthetic/{cid}.mp4", 0.0, len(frames) / fps, genre="synthetic", split=split, **files)


def write_appearance_dataset(root: str | Path, *, seconds: float = 2.0, fps: float = 10.0, size: tuple[int, int] = (128, 192),
                             seed: int = 4, test: int = 0) -> Path:
    """A dataset folder in ``macedance data build``'s layout for Appearance-Expert training tests and
    benchmarks: one train clip ``c0`` (:func:`write_dancer_clip`), a train clip ``c1`` whose video is missing and
    a test clip ``t0`` without files (both must be skipped) — or, with ``test`` > 0, ``test`` complete test clips
    ``t0``, ``t1`` … of their own dances and tempos — in ``clips.jsonl``."""
    import json

    from macedance.schema import Clip

    root = Path(root)
    clips = [write_dancer_clip(root, "c0", seconds=seconds, fps=fps, size=size, seed=seed, split="train")]
    clips.append(Clip("c1", "synthetic/c1.mp4", 0.0, seconds, keypoints_path="keypoints/c0.npz", reference_path="reference/c0.jpg",
                      split="train"))
    if test:
        clips += [write_dancer_clip(root, f"t{i}", seconds=seconds, fps=fps, size=size, seed=seed + 1 + i, split="test", bpm=100.0 + 10 * i)
                  for i in range(test)]
    else:
        clips.append(Clip("t0", "synthetic/t0.mp4", 0.0, seconds, split="test"))
    (root / "clips.jsonl").write_text("".join(json.dumps(c.to_dict()) + "\n" for c in clips))
    return root


@dataclass(frozen=True)
class Reframe:
    """One segment of :func:`write_reframed_video`: ``frames`` output frames showing the crop that is ``1 / zoom`` of
    the largest box of the output's aspect ratio inside the source frame, centred at (``cx``, ``cy``) — fractions of
    the source width and height, moved inwards where the box would cross the frame's edge."""

    frames: int
    zoom: float = 1.0
    cx: float = 0.5
    cy: float = 0.5


def _reframe_box(spec: Reframe, src: tuple[int, int], out: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, w, h) pixel crop box of ``spec`` in a ``src`` (w, h) frame for an ``out`` (w, h) output."""
    (sw, sh), aspect = src, out[0] / out[1]
    bw, bh = (sw, sw / aspect) if sw / sh <= aspect else (sh * aspect, sh)
    w, h = max(1.0, bw / spec.zoom), max(1.0, bh / spec.zoom)
    x0 = min(max(spec.cx * sw - w / 2, 0.0), sw - w)
    y0 = min(max(spec.cy * sh - h / 2, 0.0), sh - h)
    return int(round(x0)), int(round(y0)), int(round(w)), int(round(h))


def write_reframed_video(src: str | Path, out: str | Path, *, segments: Sequence[Reframe | int], start: int = 0,
                         size: tuple[int, int] | None = None, fps: float | None = None, seed: int = 0) -> list[int]:
    """Write frames [start, start + Σ frames) of one shot of ``src`` as an H.264 mp4 whose framing jumps between
    crops of that shot at known frames — the reframing cuts of a phone edit (same dancer and place, another
    framing), which a colour-histogram detector barely sees.

    Args:
        segments: consecutive segments, each a :class:`Reframe` (frame count and crop) or an int ``n``: ``n``
            frames of a framing drawn from ``seed`` — the full frame after a zoomed segment, else a 1.4–1.9×
            zoom centred at a random point of the frame's middle (x 0.35–0.65, y 0.35–0.6).
        start: first source frame (index of :func:`~macedance.io.video.iter_frames`).
        size: output (w, h), even; default: the source's size (rounded down to even).
        fps: frame rate written to the file (frames are not resampled); default: the source's.
        seed: seed of the framings of int segments.

    The source's audio for the same time span is muxed in (mono AAC) when the source has audio and ``fps`` is
    its own rate; otherwise the video is silent.

    Returns:
        The output frame indices where the framing changes (first frame of each segment whose crop box differs
        from the previous segment's), ascending.

    Raises:
        ValueError: an empty or invalid segment list, an odd size, or a source with fewer frames than asked for.
    """
    import cv2
    import soundfile as sf

    from macedance.io.audio import load_audio
    from macedance.io.video import iter_frames, probe_video, write_video

    info = probe_video(src)
    out_size = size or (info.width - info.width % 2, info.height - info.height % 2)
    if out_size[0] % 2 or out_size[1] % 2 or min(out_size) < 2:
        raise ValueError(f"output size must be even and at least 2×2, got {out_size}")
    rng = np.random.default_rng(seed)
    specs: list[Reframe] = []
    for seg in segments:
        if isinstance(seg, Reframe):
            specs.append(seg)
        elif specs and specs[-1].zoom > 1.2:
            specs.append(Reframe(int(seg)))
        else:
            specs.append(Reframe(int(seg), float(rng.uniform(1.4, 1.9)), float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.35, 0.6))))
    if not specs or any(s.frames < 1 or s.zoom < 1.0 or not (0.0 <= s.cx <= 1.0 and 0.0 <= s.cy <= 1.0) for s in specs):
        raise ValueError("segments must be non-empty, each with frames ≥ 1, zoom ≥ 1 and a centre inside the frame")
    if start < 0:
        raise ValueError(f"start must be ≥ 0, got {start}")
    boxes = [_reframe_box(s, (info.width, info.height), out_size) for s in specs]
    owner = np.repeat(np.arange(len(specs)), [s.frames for s in specs])
    total = len(owner)
    bounds = np.cumsum([s.frames for s in specs])[:-1]
    cuts = [int(b) for k, b in enumerate(bounds) if boxes[k + 1] != boxes[k]]

    def frames() -> Iterator[np.ndarray]:
        n = 0
        for n, img in enumerate(iter_frames(src, start=start, max_frames=total, rotate=True), 1):
            x0, y0, w, h = boxes[owner[n - 1]]
            crop = img[y0 : y0 + h, x0 : x0 + w]
            interp = cv2.INTER_AREA if w >= out_size[0] else cv2.INTER_LINEAR
            yield np.ascontiguousarray(cv2.resize(crop, out_size, interpolation=interp))
        if n < total:
            raise ValueError(f"{src}: frames [{start}, {start + total}) asked for, the video ends after {start + n}")

    rate = float(fps) if fps else info.fps
    if info.has_audio and abs(rate - info.fps) < 1e-6 * info.fps:
        audio = load_audio(src)
        sr = audio.sample_rate
        seg = audio.samples[int(round(start / info.fps * sr)) : int(round((start + total) / info.fps * sr))]
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "music.wav"
            sf.write(wav, seg if len(seg) else np.zeros(1, np.float32), sr)
            write_video(out, frames(), rate, audio=wav, audio_seconds=total / rate)
    else:
        write_video(out, frames(), rate)
    return cuts
