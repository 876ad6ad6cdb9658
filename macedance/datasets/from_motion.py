"""``macedance data render``: imported motions → the 3D-rendered subset of MA-Data.

Every motion (an imported AIST++/FineDance folder, or any folder of motion ``.npz`` files) is cut
into seeded 5–10 s windows; each window is drawn on a 3D character (:mod:`macedance.render`) from a
fixed level front camera, with its music muxed in, and written in the clip layout of ``data build``
plus the rendered video::

    videos/<clip>.mp4       the rendered clip (H.264 yuv420p, music as AAC)
    motions/<clip>.npz      the ground-truth motion, in the builder's world (camera-aligned, see below)
    keypoints/<clip>.npz    its projected SMPL-24 joints (``smpl24``, confidence 1 inside the frame)
    music/<clip>.npz        features, beats, tempo at --fps     audio/<clip>.wav   the clip's music
    reference/<clip>.jpg    the first rendered frame
    manifest.parquet  clips.jsonl  splits/  README.md (card)  render_report.json  .build/ (resume state)

World of the stored motion (the convention of ``data build``'s fits, so the two compare directly):
the source motion (y-up; z-up is converted) is turned about the vertical so that its mean facing
direction over the clip points at the camera (+z), then translated so that the pelvis of the clip's
first frame is at x = z = 0 and its lowest foot joint at y = 0. The camera is level and looks along
−z; its parameters are in the motion's ``meta["camera"]`` (read by :func:`macedance.pose.fit.project`).

Music is matched to each motion by file stem in ``--music-dir`` (searched recursively), trying in
order: the AIST++ music id (``mBR0`` … from the importer's ``music_id`` or the sequence name), the
sequence name recorded by the importer (``source_video``: FineDance's ``001``), the motion file's
stem. A motion without music is rejected (``no-music``) unless ``allow_silent``; the music is taken
to start with the motion's first frame, and a motion longer than its music is used up to the
music's end.

Resume, atomic writes and workers follow ``data build`` (:mod:`macedance.datasets.from_video.runner`):
a source is finished when its state file is written after all its clip files; ``resume`` skips
finished sources; different options are refused; ``workers`` spawned processes share the cores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.datasets.from_video.params import check_split_fractions
from macedance.datasets.from_video.runner import BuildProgress, BuildReport
from macedance.errors import InputNotFoundError, MaceDanceError, ValidationError

log = logging.getLogger(__name__)

RENDER_VERSION = "2"  # bump when a change of the renderer or of this module changes the outputs
OUTPUT_DIRS = ("motions", "keypoints", "music", "audio", "reference", "videos", "splits", ".build")
OUTPUT_FILES = ("manifest.parquet", "clips.jsonl", "README.md", "render_report.json")


@dataclass(frozen=True)
class RenderParams:
    """Every choice of ``macedance data render`` (hashed into the resume state and the card).

    Attributes:
        size: (width, height) of the videos, px (even numbers).
        fps: frame rate of the videos, motions, keypoints and music features.
        character: ``capsule`` (default, no licensed file) or ``smpl`` (needs ``smpl_model``).
        smpl_model: the user's SMPL model folder or file (the ``smpl`` mesh; for ``capsule`` its skeleton).
        seed: seeds the windows, the splits and the random looks.
        min_clip, max_clip: clip length range, seconds.
        background: ``studio`` (one neutral set and outfit) or ``random`` (a seeded set and outfit per clip).
        allow_silent: render motions without music as silent clips instead of rejecting them.
        min_beats: a clip with music needs at least this many beats (else ``no-beats``), as in ``data build``.
        music_preset: preset of the music features and beats.
        split_fractions: (train, val, test) shares of the source motions when they carry no official split.
        focal: focal length px (None = max(width, height), what ``data build`` assumes).
        margin: fraction of the half frame kept free around the performance.
        device: torch device of the renderer (not part of the hash: outputs agree to rounding).
        batch: frames rasterised together (not part of the hash).
    """

    size: tuple[int, int] = (720, 1280)
    fps: float = 30.0
    character: str = "capsule"
    smpl_model: str | None = None
    seed: int = 0
    min_clip: float = 5.0
    max_clip: float = 10.0
    background: str = "studio"
    allow_silent: bool = False
    min_beats: int = 2
    music_preset: str = "clean"
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    focal: float | None = None
    margin: float = 0.08
    device: str = "cpu"
    batch: int = 1

    def __post_init__(self) -> None:
        from macedance.render.character import CHARACTERS
        from macedance.render.scene import BACKGROUNDS
        from macedance.schema._check import choice

        w, h = (int(v) for v in self.size)
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise ValidationError("size", "WIDTHxHEIGHT, even numbers ≥ 16 (H.264 yuv420p)", f"{self.size[0]}x{self.size[1]}")
        object.__setattr__(self, "size", (w, h))
        if not 0 < self.min_clip <= self.max_clip:
            raise ValidationError("min_clip/max_clip", "0 < min ≤ max (seconds)", f"{self.min_clip}, {self.max_clip}")
        if self.fps <= 0:
            raise ValidationError("fps", "a frame rate > 0", str(self.fps))
        choice("character", self.character, CHARACTERS)
        choice("background", self.background, BACKGROUNDS)
        if self.character == "smpl" and self.smpl_model is None:
            if not os.environ.get("MACEDANCE_SMPL_DIR"):
                raise ValidationError("smpl_model", "your SMPL model folder for `character=smpl` (or MACEDANCE_SMPL_DIR)", "nothing")
            from macedance.motion.skeleton import resolve_smpl_model

            object.__setattr__(self, "smpl_model", str(resolve_smpl_model(None)))  # resolved once, hashed by content
        object.__setattr__(self, "split_fractions", check_split_fractions(self.split_fractions))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"], d["split_fractions"] = list(self.size), list(self.split_fractions)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the parameters that can change outputs, and the renderer version."""
        d = self.to_dict()
        for k in ("device", "batch"):
            d.pop(k)
        if self.smpl_model is not None:  # the body model's content decides the outputs, not its path
            from macedance.motion.skeleton import smpl_model_digest

            d["smpl_model"] = {"sha256": smpl_model_digest(self.smpl_model)}
        return hashlib.sha256(json.dumps({"v": RENDER_VERSION, **d}, sort_keys=True).encode()).hexdigest()


# ----- sources and music --------------------------------------------------------------------------


def find_motions(motion_dir: str | Path) -> tuple[Path, list[tuple[Path, str, str | None]]]:
    """The search root (``MOTION_DIR/motions`` of an imported folder, else ``MOTION_DIR``) and every
    non-hidden ``.npz`` below it as (path, path relative to the root, first sub-folder or None)."""
    motion_dir = Path(motion_dir)
    if not motion_dir.is_dir():
        raise InputNotFoundError(f"{motion_dir}: motion folder not found")
    root = motion_dir / "motions" if (motion_dir / "motions").is_dir() else motion_dir
    out = []
    for p in sorted(root.rglob("*.npz")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append((p, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else None))
    if not out:
        raise InputNotFoundError(f"{root}: no motion .npz files found (an imported folder or a folder of motion files)")
    return root, out


def index_music(music_dir: str | Path | None) -> dict[str, list[str]]:
    """Audio/video files below ``music_dir`` by stem (several files may share a stem)."""
    from macedance.io.audio import MEDIA_SUFFIXES

    if music_dir is None:
        return {}
    music_dir = Path(music_dir)
    if not music_dir.is_dir():
        raise InputNotFoundError(f"{music_dir}: `music_dir` not found")
    index: dict[str, list[str]] = {}
    for p in sorted(music_dir.rglob("*")):
        if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith("."):
            index.setdefault(p.stem, []).append(str(p))
    return index


def music_keys(stem: str, meta: dict[str, str]) -> list[str]:
    """The music file stems tried for a motion, in order (see the module docstring)."""
    from macedance.music.features import aist_music_id

    keys = []
    for k in (meta.get("music_id") or aist_music_id(stem), aist_music_id(meta.get("source_video", "")), meta.get("source_video"), stem):
        if k and k not in keys:
            keys.append(k)
    return keys


def match_music(stem: str, meta: dict[str, str], index: dict[str, list[str]]) -> tuple[Path | None, str]:
    """The music file of a motion, or None and why not."""
    keys = music_keys(stem, meta)
    for k in keys:
        found = index.get(k, [])
        if len(found) > 1:
            return None, f"ambiguous music: {len(found)} files named {k}.* ({', '.join(Path(f).name for f in found)})"
        if found:
            return Path(found[0]), ""
    tried = ", ".join(f"{k}.*" for k in keys)
    return None, f"no music file {tried} in --music-dir" if index else "no --music-dir given"


# ----- one source motion ---------------------------------------------------------------------------


def face_camera(poses: np.ndarray, trans: np.ndarray, rest: Any) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Turn a y-up motion about the vertical so that its mean facing points at the camera (+z), and
    translate it into the builder's world (pelvis of frame 0 at x = z = 0, lowest foot joint at y = 0).

    Returns:
        ``(poses, trans, yaw, offset)``: the new motion, the source's mean facing angle (radians from
        +z towards +x) and the translation added after the rotation.
    """
    from macedance.motion.kinematics import forward_kinematics, rotate_root
    from macedance.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from macedance.pose.fit import world_offset

    root = axis_angle_to_matrix(poses[:, 0])
    fwd = root[:, :, 2]  # the rest pose faces +z
    mean = fwd[:, [0, 2]].mean(0)
    if np.linalg.norm(mean) < 1e-6:
        mean = fwd[0, [0, 2]]
    yaw = float(np.arctan2(mean[0], mean[1]))
    c, s = np.cos(-yaw), np.sin(-yaw)
    R = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    root, trans = rotate_root(root, trans, R, rest.joints[0])
    poses = poses.copy()
    poses[:, 0] = matrix_to_axis_angle(root)
    offset = world_offset(forward_kinematics(axis_angle_to_matrix(poses), trans, rest))
    return poses, trans + offset, yaw, offset


_CACHE: dict[str, Any] = {}


def _character(params: RenderParams) -> Any:
    from macedance.render.character import get_character

    key = f"{params.character}:{params.smpl_model}"
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = get_character(params.character, params.smpl_model)
    return _CACHE[key]


def _row(outcome: dict[str, Any], genre: str | None, **kw: Any) -> dict[str, Any]:
    row = {"candidate_id": kw.pop("candidate_id", outcome["video_id"]), "video_id": outcome["video_id"], "source_video": outcome["source"],
           "source_sha256": outcome["sha256"], "genre": genre, "status": "rejected", "shot": -1}
    row.update(kw)
    return row


def render_source(path: Path, rel: str, out: Path, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
                  report: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Render one source motion into its clips under ``out``; never raises for bad data (a motion
    that cannot be used becomes a rejected manifest row). Returns the outcome (rows, clips, timings)."""
    from macedance.datasets.from_video.pipeline import video_id_for
    from macedance.fileio import sha256_file
    from macedance.schema import load_motion

    t0 = time.perf_counter()
    try:
        sha = sha256_file(path)
    except OSError as exc:
        o = {"video_id": video_id_for(rel, "0" * 8), "source": rel, "sha256": "", "rows": [], "clips": []}
        o["rows"].append(_row(o, genre, stage="ingest", code="unreadable", reason=f"unreadable file: {exc}"))
        return o
    outcome: dict[str, Any] = {"video_id": video_id_for(rel, sha), "source": rel, "sha256": sha, "rows": [], "clips": [], "frames": 0,
                               "seconds": 0.0, "stage_seconds": {}, "split": None}
    try:
        motion = load_motion(path)
    except MaceDanceError as exc:
        outcome["rows"].append(_row(outcome, genre, stage="ingest", code="unreadable", reason=str(exc).replace(str(path), rel)))
        return outcome
    genre = motion.meta.get("genre") or genre
    if motion.meta.get("split") in ("train", "val", "test"):
        outcome["split"] = motion.meta["split"]
    _render_clips(path, rel, out, params, genre, music_index, motion, outcome, report)
    outcome["seconds"] = time.perf_counter() - t0
    return outcome


def _render_clips(path: Path, rel: str, out: Path, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
                  motion: Any, outcome: dict[str, Any], report: Callable[[int], None] | None) -> None:
    from macedance.datasets.from_video.pipeline import _clip_music, _music
    from macedance.datasets.from_video.segment import segment_shot
    from macedance.io.audio import load_audio
    from macedance.render.scene import Renderer

    fps = params.fps
    rows = outcome["rows"]
    timing = outcome["stage_seconds"]
    src_fps = motion.fps
    character = _character(params)
    motion = motion.to_up_axis("y", character.rest).resample(fps)
    music_path, why = match_music(path.stem, motion.meta, music_index)
    base = dict(src_fps=src_fps, width=params.size[0], height=params.size[1])
    if music_path is None and not params.allow_silent:
        rows.append(_row(outcome, genre, stage="music", code="no-music", reason=f"{why} (use --allow-silent to render silent clips)", **base))
        return
    music = audio = None
    n = motion.num_frames
    if music_path is not None:
        t = time.perf_counter()
        try:
            preset, (music, digest) = _music(music_path, params)
            audio = load_audio(music_path)
        except MaceDanceError as exc:
            rows.append(_row(outcome, genre, stage="music", code="no-audio", reason=f"music {music_path.name} cannot be used: {exc}", **base))
            return
        timing["music"] = time.perf_counter() - t
        n = min(n, int(math.floor(audio.duration * fps + 1e-9)))
    if n / fps < params.min_clip:
        rows.append(_row(outcome, genre, stage="ingest", code="too-short",
                         reason=f"motion{' with music' if music else ''} shorter than --min-clip ({n / fps:.2f} s < {params.min_clip:g} s)", **base))
        return
    sha_int = int(outcome["sha256"][:15], 16)
    windows = segment_shot(0, n, fps, params.min_clip, params.max_clip, np.random.default_rng([int(params.seed), sha_int]))
    renderer = Renderer(character, params.size, params.device, params.batch)
    for w, (a, b) in enumerate(windows):
        cid = f"{outcome['video_id']}_c{w:02d}"
        row = dict(candidate_id=cid, shot=0, start_frame=a, end_frame=b, start_s=a / fps, end_s=b / fps, duration_s=(b - a) / fps, **base)
        clip_music = None
        if music is not None:
            clip_music = _clip_music(music, a / fps, b / fps, b - a)
            row.update(n_beats=int(len(clip_music.beat_times)), tempo=float(clip_music.tempo))
            if row["n_beats"] < params.min_beats and not params.allow_silent:
                rows.append(_row(outcome, genre, stage="music", code="no-beats",
                                 reason=f"{row['n_beats']} beats (< {params.min_beats}; use --allow-silent to keep)", **row))
                continue
        t = time.perf_counter()
        files = _render_clip(out, cid, params, renderer, motion.slice(a, b), (a, b), outcome, w, audio, report)
        timing["render"] = timing.get("render", 0.0) + time.perf_counter() - t
        if clip_music is not None:
            from macedance.music.analysis import save_music

            save_music(clip_music, preset, out / f"music/{cid}.npz", f"{music_path.name}#t={a / fps:.6f},{b / fps:.6f}", digest)
            files["music_path"] = f"music/{cid}.npz"
        outcome["frames"] += b - a
        rows.append(_row(outcome, genre, status="kept", stage="kept", code="kept", reason="", **row, **files))
        _add_clip(outcome, cid, rel, a, b, fps, genre, files, params, music_path)


def _render_clip(out: Path, cid: str, params: RenderParams, renderer: Any, clip: Any, window: tuple[int, int], outcome: dict[str, Any],
                 w: int, audio: Any, report: Callable[[int], None] | None) -> dict[str, Any]:
    """Render one window: video (with its audio), ground-truth motion and keypoints, reference frame."""
    import soundfile as sf

    from macedance.datasets.from_video.pipeline import _write_jpeg
    from macedance.datasets.from_video.segment import sample_span
    from macedance.fileio import atomic_write
    from macedance.io.video import write_video
    from macedance.pose.fit import project
    from macedance.render.scene import Look, frame_camera, random_look
    from macedance.schema import Keypoints2D

    fps, (W, H), (a, b) = params.fps, params.size, window
    character = renderer.character
    poses, trans, yaw, offset = face_camera(clip.poses, clip.trans, character.rest)
    verts, normals, joints = renderer.pose(poses, trans)
    flat = verts.reshape(-1, 3)
    camera = frame_camera(flat[:: max(1, len(flat) // 400_000)].cpu().numpy(), (W, H), params.focal, params.margin)
    rng = np.random.default_rng([int(params.seed), int(outcome["sha256"][:15], 16), w])
    look = random_look(rng) if params.background == "random" else Look()
    files = {"motion_path": f"motions/{cid}.npz", "keypoints_path": f"keypoints/{cid}.npz", "music_path": None,
             "audio_path": None, "reference_path": f"reference/{cid}.jpg", "video_path": f"videos/{cid}.mp4"}
    wav = None
    if audio is not None:
        s0, s1 = sample_span(a, b, fps, audio.sample_rate)
        y = audio.samples[s0:s1]
        y = np.pad(y, (0, s1 - s0 - len(y))) if len(y) < s1 - s0 else y
        wav = out / f"audio/{cid}.wav"
        with atomic_write(wav) as f:
            sf.write(f, y, audio.sample_rate, format="WAV", subtype="PCM_16")
        files["audio_path"] = f"audio/{cid}.wav"
    first: list[np.ndarray] = []

    def frames() -> Iterator[np.ndarray]:
        for k, frame in enumerate(_in_thread(renderer.render(verts, normals, joints, camera, look))):
            if k == 0:
                first.append(frame)
            if report is not None and k % 16 == 15:
                report(16)
            yield frame
        if report is not None:
            report(len(verts) % 16)

    write_video(out / files["video_path"], frames(), fps, audio=wav, audio_seconds=(b - a) / fps)
    _write_jpeg(out / files["reference_path"], first[0])
    J = joints.double().cpu().numpy()
    uv = project(J, camera)
    inside = ((uv >= 0) & (uv < np.array([W, H]))).all(-1)
    meta = {"source_motion": outcome["source"], "source_sha256": outcome["sha256"], "clip": cid, "start_frame": str(a), "end_frame": str(b),
            "character": character.name, "skeleton": character.rest.name, "camera": json.dumps(camera),
            "look": json.dumps(look.to_dict()), "renderer": f"macedance-render v{RENDER_VERSION}"}
    Keypoints2D(np.concatenate([uv, inside[..., None].astype(np.float64)], -1), "smpl24", (W, H), fps, meta).save(out / files["keypoints_path"])
    motion_meta = {**clip.meta, **meta, "world": "data build convention: level camera looking along -z, pelvis of frame 0 at x=z=0, lowest foot joint at y=0",
                   "yaw_rad": repr(yaw), "offset_m": json.dumps(offset.tolist())}
    clip.replace(poses=poses, trans=trans, meta=motion_meta).save(out / files["motion_path"])
    return files


def _in_thread(frames: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """The items of ``frames``, produced by a background thread up to ``depth`` ahead: the renderer
    (torch, which releases the GIL) runs while the caller encodes the previous frames."""
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _add_clip(outcome: dict[str, Any], cid: str, rel: str, a: int, b: int, fps: float, genre: str | None, files: dict[str, Any],
              params: RenderParams, music: Path | None) -> None:
    from macedance.schema import Clip

    provenance = {"macedance": __version__, "source_sha256": outcome["sha256"], "render_params_hash": params.hash,
                  "renderer": f"macedance-render v{RENDER_VERSION}", "character": params.character, "video": files["video_path"],
                  "music_file": music.name if music else None}
    clip = Clip(cid, rel, a / fps, b / fps, files["motion_path"], files["keypoints_path"], files["music_path"], genre, None, provenance)
    outcome["clips"].append({**clip.to_dict(), "audio_path": files["audio_path"], "reference_path": files["reference_path"],
                             "video_path": files["video_path"]})


# ----- the whole folder ----------------------------------------------------------------------------


def _work(path: str, rel: str, out: str, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
          frames_q: Any) -> dict[str, Any]:
    """One source in a worker process (the character is built once per process)."""
    report = (lambda n: frames_q.put(n)) if frames_q is not None else None
    return render_source(Path(path), rel, Path(out), params, genre, music_index, report)


def _frames_hint(path: Path, fps: float) -> int:
    try:
        from macedance.schema import load_motion

        m = load_motion(path)
        return int(m.duration * fps)
    except MaceDanceError:
        return 0


def render_dataset(motion_dir: str | Path, out: str | Path, params: RenderParams | None = None, music_dir: str | Path | None = None,
                   workers: int = 1, resume: bool = False, overwrite: bool = False,
                   progress: Callable[[BuildProgress], None] | None = None, command: str | None = None,
                   executor: str = "local", address: str | None = None, task_cpus: int = 1, task_gpus: float = 0.0) -> BuildReport:
    """Render every motion below ``motion_dir`` into a dataset in ``out`` (see the module docstring).

    Args:
        music_dir: folder of music files matched to the motions (see :func:`match_music`).
        workers: processes rendering sources in parallel (1 = in this process).
        resume: finish an interrupted run in ``out`` (same parameters required).
        overwrite: delete a previous run's outputs in ``out`` first.
        progress: called after every 16 rendered frames and every finished source.
        command: the command line, recorded in the card.
        executor, address, task_cpus, task_gpus: ``ray`` runs every source as a Ray task on the cluster at
            ``address`` with these resources (as :func:`~macedance.datasets.from_video.build_dataset`;
            docs/scaling.md).
    """
    from macedance.datasets.from_video.runner import RayOptions, check_state, finalize, pending_sources, run_sources, worker_threads

    ray = RayOptions.of(executor, address, task_cpus, task_gpus)
    t0 = time.perf_counter()
    params = params or RenderParams()
    out = Path(out)
    _, sources = find_motions(motion_dir)
    music_index = index_music(music_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_state(out, params, resume, overwrite, RENDER_VERSION, OUTPUT_DIRS, OUTPUT_FILES)
    done, todo = pending_sources(out, sources)
    report = BuildReport(str(out), videos=len(sources), videos_resumed=len(done))
    run_sources(out, todo, done, report, {rel: _frames_hint(p, params.fps) for p, rel, _ in todo}, progress,
                lambda p, rel, g, frames: render_source(p, rel, out, params, g, music_index, frames), _work,
                lambda p, rel, g: (str(p), rel, str(out), params, g, music_index), workers,
                worker_threads(workers, ray), ray=ray)
    outcomes = [done[rel] for _, rel, _ in sources if rel in done]
    with_clips = [o for o in outcomes if o["clips"]]
    official = {o["sha256"]: o["split"] for o in with_clips if o.get("split")}
    fixed = official if with_clips and len(official) == len(with_clips) else None
    name = Path(motion_dir).name + " (rendered)"
    finalize(out, name, sources, done, params, report, command, kind="render", version=RENDER_VERSION, fixed_splits=fixed)
    report.seconds = time.perf_counter() - t0
    from macedance.fileio import write_json

    write_json(out / "render_report.json", {**report.to_dict(), "macedance": __version__, "params": params.to_dict(), "command": command,
                                            "music_dir": str(music_dir) if music_dir else None, "splits_from": "imported official splits" if fixed else "seeded assignment by source motion"})
    return report
