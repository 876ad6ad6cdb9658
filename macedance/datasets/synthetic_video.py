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
