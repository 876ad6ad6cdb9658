"""One source motion → its rendered clips: each seeded window is turned to face the camera, drawn on the
character with its music muxed in, and written with its ground truth (motion, projected keypoints, music
features, audio, reference frame); a motion that cannot be used becomes a rejected manifest row."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.datasets.curation.media import analyze_music, clip_music, write_clip_audio, write_jpeg
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.curation.segment import segment_shot
from macedance.datasets.from_motion.params import RENDER_VERSION, RenderParams
from macedance.datasets.from_motion.sources import match_music
from macedance.errors import MaceDanceError


def face_camera(poses: np.ndarray, trans: np.ndarray, rest: Any) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Turn a y-up motion about the vertical so that its mean facing points at the camera (+z), and
    translate it into the builder's world (pelvis of frame 0 at x = z = 0, lowest foot joint at y = 0).

    Returns:
        ``(poses, trans, yaw, offset)``: the new motion, the source's mean facing angle (radians from
        +z towards +x) and the translation added after the rotation.
    """
    from macedance.motion.camera import world_offset
    from macedance.motion.kinematics import forward_kinematics, rotate_root
    from macedance.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle

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


def render_source(path: Path, rel: str, out: Path, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
                  report: Callable[[int], None] | None = None) -> SourceOutcome:
    """Render one source motion into its clips under ``out``; never raises for bad data (a motion
    that cannot be used becomes a rejected manifest row). Returns the outcome (rows, clips, timings)."""
    from macedance.fileio import sha256_file
    from macedance.schema import load_motion

    t0 = time.perf_counter()
    try:
        sha = sha256_file(path)
    except OSError as exc:
        o = SourceOutcome.start(rel, "")
        o.rows.append(o.row(genre, stage="ingest", code="unreadable", reason=f"unreadable file: {exc}"))
        return o
    outcome = SourceOutcome.start(rel, sha)
    try:
        motion = load_motion(path)
    except MaceDanceError as exc:
        outcome.rows.append(outcome.row(genre, stage="ingest", code="unreadable", reason=str(exc).replace(str(path), rel)))
        return outcome
    genre = motion.meta.get("genre") or genre
    if motion.meta.get("split") in ("train", "val", "test"):
        outcome.split = motion.meta["split"]
    _render_clips(path, rel, out, params, genre, music_index, motion, outcome, report)
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _render_clips(path: Path, rel: str, out: Path, params: RenderParams, genre: str | None, music_index: dict[str, list[str]],
                  motion: Any, outcome: SourceOutcome, report: Callable[[int], None] | None) -> None:
    from macedance.io.audio import load_audio
    from macedance.render.scene import Renderer

    fps = params.fps
    rows = outcome.rows
    timing = outcome.stage_seconds
    src_fps = motion.fps
    character = _character(params)
    motion = motion.to_up_axis("y", character.rest).resample(fps)
    music_path, why = match_music(path.stem, motion.meta, music_index)
    base = dict(src_fps=src_fps, width=params.size[0], height=params.size[1])
    if music_path is None and not params.allow_silent:
        rows.append(outcome.row(genre, stage="music", code="no-music", reason=f"{why} (use --allow-silent to render silent clips)", **base))
        return
    music = audio = None
    n = motion.num_frames
    if music_path is not None:
        t = time.perf_counter()
        try:
            preset, (music, digest) = analyze_music(music_path, params.music_preset, params.fps)
            audio = load_audio(music_path)
        except MaceDanceError as exc:
            rows.append(outcome.row(genre, stage="music", code="no-audio", reason=f"music {music_path.name} cannot be used: {exc}", **base))
            return
        timing["music"] = time.perf_counter() - t
        n = min(n, int(math.floor(audio.duration * fps + 1e-9)))
    if n / fps < params.min_clip:
        rows.append(outcome.row(genre, stage="ingest", code="too-short",
                         reason=f"motion{' with music' if music else ''} shorter than --min-clip ({n / fps:.2f} s < {params.min_clip:g} s)", **base))
        return
    sha_int = int(outcome.sha256[:15], 16)
    windows = segment_shot(0, n, fps, params.min_clip, params.max_clip, np.random.default_rng([int(params.seed), sha_int]))
    renderer = Renderer(character, params.size, params.device, params.batch)
    for w, (a, b) in enumerate(windows):
        cid = f"{outcome.video_id}_c{w:02d}"
        row = dict(candidate_id=cid, shot=0, start_frame=a, end_frame=b, start_s=a / fps, end_s=b / fps, duration_s=(b - a) / fps, **base)
        cut = None
        if music is not None:
            cut = clip_music(music, a / fps, b / fps, b - a)
            row.update(n_beats=int(len(cut.beat_times)), tempo=float(cut.tempo))
            if row["n_beats"] < params.min_beats and not params.allow_silent:
                rows.append(outcome.row(genre, stage="music", code="no-beats",
                                 reason=f"{row['n_beats']} beats (< {params.min_beats}; use --allow-silent to keep)", **row))
                continue
        t = time.perf_counter()
        files = _render_clip(out, cid, params, renderer, motion.slice(a, b), (a, b), outcome, w, audio, report)
        timing["render"] = timing.get("render", 0.0) + time.perf_counter() - t
        if cut is not None:
            from macedance.music.analysis import save_music

            save_music(cut, preset, out / f"music/{cid}.npz", source=f"{music_path.name}#t={a / fps:.6f},{b / fps:.6f}", digest=digest)
            files["music_path"] = f"music/{cid}.npz"
        outcome.frames += b - a
        rows.append(outcome.row(genre, status="kept", stage="kept", code="kept", reason="", **row, **files))
        _add_clip(outcome, cid, rel, a, b, fps, genre, files, params, music_path)


def _render_clip(out: Path, cid: str, params: RenderParams, renderer: Any, clip: Any, window: tuple[int, int], outcome: SourceOutcome,
                 w: int, audio: Any, report: Callable[[int], None] | None) -> dict[str, Any]:
    """Render one window: video (with its audio), ground-truth motion and keypoints, reference frame."""
    from macedance.io.video import write_video
    from macedance.render.scene import Look, frame_camera, random_look
    from macedance.schema import Keypoints2D

    fps, (W, H), (a, b) = params.fps, params.size, window
    character = renderer.character
    poses, trans, yaw, offset = face_camera(clip.poses, clip.trans, character.rest)
    verts, normals, joints = renderer.pose(poses, trans)
    flat = verts.reshape(-1, 3)
    camera = frame_camera(flat[:: max(1, len(flat) // 400_000)].cpu().numpy(), (W, H), focal=params.focal, margin=params.margin)
    rng = np.random.default_rng([int(params.seed), int(outcome.sha256[:15], 16), w])
    look = random_look(rng) if params.background == "random" else Look()
    files = {"motion_path": f"motions/{cid}.npz", "keypoints_path": f"keypoints/{cid}.npz", "music_path": None,
             "audio_path": None, "reference_path": f"reference/{cid}.jpg", "video_path": f"videos/{cid}.mp4"}
    wav = None
    if audio is not None:
        wav = out / f"audio/{cid}.wav"
        write_clip_audio(wav, audio, a, b, fps)
        files["audio_path"] = f"audio/{cid}.wav"
    first: list[np.ndarray] = []

    def frames() -> Iterator[np.ndarray]:
        for k, frame in enumerate(in_thread(renderer.render(verts, normals, joints, camera, look))):
            if k == 0:
                first.append(frame)
            if report is not None and k % 16 == 15:
                report(16)
            yield frame
        if report is not None:
            report(len(verts) % 16)

    write_video(out / files["video_path"], frames(), fps, audio=wav, audio_seconds=(b - a) / fps)
    write_jpeg(out / files["reference_path"], first[0])
    J = joints.double().cpu().numpy()
    uv = camera.project(J)
    inside = ((uv >= 0) & (uv < np.array([W, H]))).all(-1)
    meta = {"source_motion": outcome.source, "source_sha256": outcome.sha256, "clip": cid, "start_frame": str(a), "end_frame": str(b),
            "character": character.name, "skeleton": character.rest.name, "camera": json.dumps(camera.to_dict()),
            "look": json.dumps(look.to_dict()), "renderer": f"macedance-render v{RENDER_VERSION}"}
    Keypoints2D(np.concatenate([uv, inside[..., None].astype(np.float64)], -1), "smpl24", (W, H), fps, meta).save(out / files["keypoints_path"])
    motion_meta = {**clip.meta, **meta, "world": "data build convention: level camera looking along -z, pelvis of frame 0 at x=z=0, lowest foot joint at y=0",
                   "yaw_rad": repr(yaw), "offset_m": json.dumps(offset.tolist())}
    clip.replace(poses=poses, trans=trans, meta=motion_meta).save(out / files["motion_path"])
    return files


def in_thread(frames: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
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


def _add_clip(outcome: SourceOutcome, cid: str, rel: str, a: int, b: int, fps: float, genre: str | None, files: dict[str, Any],
              params: RenderParams, music: Path | None) -> None:
    from macedance.schema import Clip

    provenance = {"macedance": __version__, "source_sha256": outcome.sha256, "render_params_hash": params.hash,
                  "renderer": f"macedance-render v{RENDER_VERSION}", "character": params.character, "video": files["video_path"],
                  "music_file": music.name if music else None}
    clip = Clip(cid, rel, a / fps, b / fps, files["motion_path"], files["keypoints_path"], files["music_path"], genre, None, provenance,
                files["audio_path"], files["reference_path"], files["video_path"])
    outcome.clips.append(clip.to_dict())
