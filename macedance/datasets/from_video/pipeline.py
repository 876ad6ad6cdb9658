"""One source video → candidate clips, each kept (files written) or rejected with a reason.

Stages, in order (each cached by input hash + stage version + parameters in the macedance cache,
so a re-run or a resumed build reuses them):

1. ingest — :func:`~macedance.io.video.probe_video` (fps, size, frames, rotation, audio stream);
   the music analysis of the audio track starts in a thread;
2. scan — one decode: :func:`~macedance.datasets.from_video.shots.scan_video` → hard cuts → shots, and
   the person count at ``people_fps`` (tiled BlazePose detector, helper thread); shots shorter than
   ``min_clip``, near-static shots and multi-person shots are rejected;
3. segment — seeded 5–10 s windows inside each remaining shot;
4. pose — every window in one of ``pose_threads`` threads (own model, own seeking decoder, fresh
   tracker); a finished window is checked (no person in more than ``max_missing`` of its frames,
   fewer than ``min_beats`` beats unless ``allow_silent``) and its SMPL fit starts in a fit thread;
5. fit — rejected above the fit's error thresholds;
6. export — motion, keypoints, music features, audio, reference frame, clip video (and preview) per kept clip,
   written atomically. Rows are appended in window order, so threads never change the outcome.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.cache import NpzCache, cache_key
from macedance.datasets.from_video.params import BuildParams
from macedance.datasets.from_video.segment import sample_span, segment_shot
from macedance.datasets.from_video.shots import SCAN_VERSION, detect_cuts, is_static, scan_video, shot_mean, split_shots
from macedance.errors import MaceDanceError
from macedance.fileio import atomic_write
from macedance.io.video import VideoInfo, iter_frames, probe_video, scaled_size

log = logging.getLogger(__name__)

FIT_CACHE_VERSION = "1"
ProgressFn = Callable[[int], None]  # called with the number of newly processed frames (scan pass, then pose pass)


@dataclass
class VideoOutcome:
    """What :func:`process_video` returns: manifest rows (kept and rejected) and the kept clips."""

    video_id: str
    source: str
    sha256: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AudioUnusable(MaceDanceError):
    """The video has an audio stream that cannot be analysed (and silent clips are not allowed)."""


def video_id_for(rel: str, sha256: str) -> str:
    """A clip-id-safe id from a source path relative to RAW_DIR, plus 8 hex digits of its sha256."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", str(Path(rel).with_suffix(""))).strip("-._") or "video"
    return f"{stem[:80]}-{sha256[:8]}"


def _timer(out: dict[str, float]) -> Callable[[str], Any]:
    """``with timer("stage"):`` adds the block's wall time to ``out["stage"]``."""

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            out[name] = out.get(name, 0.0) + time.perf_counter() - t

    return timed


def _row(outcome: VideoOutcome, info: VideoInfo | None, genre: str | None, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "candidate_id": kw.pop("candidate_id", outcome.video_id), "video_id": outcome.video_id, "source_video": outcome.source,
        "source_sha256": outcome.sha256, "genre": genre, "status": "rejected", "stage": "", "code": "", "reason": "", "shot": -1,
        "start_frame": None, "end_frame": None, "start_s": None, "end_s": None, "duration_s": None,
        "src_fps": info.fps if info else None, "width": info.width if info else None, "height": info.height if info else None,
        "moving": None, "multi_person_frac": None, "missing_frac": None, "n_beats": None, "tempo": None,
        "reproj_px": None, "reproj_rel": None, "landmark_mm": None,
    }
    row.update(kw)
    return row


def _ingest_code(exc: Exception) -> str:
    text = str(exc)
    return "zero-length" if "zero-length" in text else "no-video-stream" if "no video stream" in text else "unreadable"


def _scan(path: Path, sha: str, info: VideoInfo, params: BuildParams, progress: ProgressFn | None) -> dict[str, np.ndarray]:
    """Cut/static signals and person counts (every ``people_step`` frames) of one decode, cached."""
    from macedance.pose.person_detector import PersonDetector

    step = _people_step(info, params)
    cache = NpzCache("build-scan")
    key = cache_key("scan", SCAN_VERSION, PersonDetector.VERSION, sha, str(step), str(params.pose_max_side), str(params.person_score),
                    str(params.person_min_height))
    if (hit := cache.get(key)) is not None:
        if progress is not None:
            progress(info.frames)
        return hit
    detector = PersonDetector(score_threshold=params.person_score)

    def count(frame: np.ndarray) -> int:
        return detector.count(frame, min_score=params.person_score, min_height=params.person_min_height, tiles=True)

    sig = scan_video(path, progress, people_step=step, count_people=count, people_side=params.pose_max_side or max(info.width, info.height))
    cache.put(key, sig)
    return sig


def _people_step(info: VideoInfo, params: BuildParams) -> int:
    return max(1, int(round(info.fps / params.people_fps)))


def _pose_key(sha: str, window: tuple[int, int], info: dict[str, str], version: str, params: BuildParams) -> str:
    return cache_key("pose", version, json.dumps(info, sort_keys=True), sha, f"{window[0]}-{window[1]}", str(params.pose_max_side))


def _pose_windows(path: Path, sha: str, info: VideoInfo, windows: list[tuple[int, int]], backends: list[Any], params: BuildParams,
                  progress: ProgressFn | None, on_window: Callable[[int, dict[str, np.ndarray]], None]) -> None:
    """2D pose of every clip window: ``kp`` (n, K, 3) in source pixels and ``world`` (n, K, 4) or empty.

    Each window gets a fresh tracker and its own seeking decoder, so windows run in parallel, one
    thread per backend instance (the pose models and FFmpeg release the GIL). Results are cached per
    window; ``on_window(index, data)`` is called as each finishes (from the worker threads).
    """
    cache = NpzCache("build-pose")
    ref = backends[0]
    todo: queue.Queue[int] = queue.Queue()
    for j, win in enumerate(windows):
        if (hit := cache.get(_pose_key(sha, win, ref.info(), ref.version, params))) is not None:
            if progress is not None:
                progress(win[1] - win[0])
            on_window(j, hit)
        else:
            todo.put(j)
    w, h = scaled_size(info.width, info.height, params.pose_max_side or None)
    scale = np.array([info.width / w, info.height / h])
    lock = threading.Lock()

    def work(backend: Any) -> None:
        while True:
            try:
                j = todo.get_nowait()
            except queue.Empty:
                return
            a, b = windows[j]
            backend.start_shot()
            kps, worlds = [], []
            for k, frame in enumerate(iter_frames(path, start=a, max_frames=b - a, max_side=params.pose_max_side or None, rotate=True)):
                kp, world = backend(frame)
                kp = kp.copy()
                kp[:, :2] *= scale
                kps.append(kp)
                if world is not None:
                    worlds.append(world)
                if progress is not None and k % 32 == 31:
                    with lock:
                        progress(32)
            if len(kps) != b - a:
                raise MaceDanceError(f"{path}: decoded {len(kps)} of the {b - a} frames {a}–{b} (truncated video?)")
            if progress is not None:
                with lock:
                    progress((b - a) % 32)
            data = {"kp": np.stack(kps), "world": np.stack(worlds) if len(worlds) == b - a else np.zeros((0,))}
            cache.put(_pose_key(sha, (a, b), ref.info(), ref.version, params), data)
            on_window(j, data)

    with ThreadPoolExecutor(len(backends)) as pool:
        for fut in [pool.submit(work, be) for be in backends]:
            fut.result()


def _fit(kp: np.ndarray, world: np.ndarray | None, skeleton: str, info: VideoInfo, rest: Any, params: BuildParams) -> dict[str, Any]:
    """SMPL fit of one clip (cached by the keypoints' bytes + fit options + skeleton)."""
    from macedance.pose.fit import FitConfig, fit_smpl
    from macedance.schema import Motion

    config = FitConfig(**params.fit)
    h = hashlib.sha256(np.ascontiguousarray(kp).tobytes())
    if world is not None:
        h.update(np.ascontiguousarray(world).tobytes())
    key = cache_key("fit", FIT_CACHE_VERSION, h.hexdigest(), skeleton, f"{info.width}x{info.height}@{info.fps}",
                    json.dumps(config.to_dict(), sort_keys=True), rest.name, hashlib.sha256(rest.joints.tobytes()).hexdigest())
    cache = NpzCache("build-fit")
    if (hit := cache.get(key)) is not None:
        scalars = json.loads(str(hit["scalars_json"]))
        motion = Motion(hit["poses"], hit["trans"], float(hit["fps"]), "y")
        return {"motion": motion, **scalars}
    res = fit_smpl(kp, skeleton, (info.width, info.height), info.fps, landmarks3d=world, rest=rest, config=config)
    scalars = {"reproj_px": float(res.reproj_px), "reproj_rel": float(res.reproj_rel), "landmark_mm": float(res.landmark_mm),
               "ok": bool(res.ok), "reason": res.reason, "camera": {k: float(v) for k, v in res.camera.items() if np.ndim(v) == 0},
               "fit_seconds": float(res.seconds)}
    cache.put(key, {"poses": res.motion.poses, "trans": res.motion.trans, "fps": np.float64(res.motion.fps),
                    "scalars_json": np.str_(json.dumps(scalars))})
    return {"motion": res.motion, **scalars}


def _music(path: Path, params: BuildParams) -> Any:
    from macedance.music.analysis import analyze_file
    from macedance.music.presets import get_music_preset

    preset = get_music_preset(params.music_preset)
    if abs(preset.fps - params.fps) > 1e-9:
        from dataclasses import replace

        preset = replace(preset, fps=params.fps)
    return preset, analyze_file(path, preset)


def _clip_music(analysis: Any, t0: float, t1: float, frames: int) -> Any:
    from macedance.music.features import MusicAnalysis

    a = int(round(t0 * analysis.fps))
    feats = analysis.features[a : a + frames]
    if len(feats) < frames:  # audio a little shorter than the video: repeat its last row
        pad = np.repeat(feats[-1:] if len(feats) else np.zeros((1, analysis.features.shape[1]), np.float32), frames - len(feats), 0)
        feats = np.concatenate([feats, pad])
    sel = (analysis.beat_times >= t0) & (analysis.beat_times < t1)
    beats = analysis.beat_times[sel] - t0
    return MusicAnalysis(feats.astype(np.float32), beats, np.rint(beats * analysis.fps).astype(np.int64), analysis.tempo,
                         analysis.fps, t1 - t0, analysis.start_bpm, dict(analysis.details))


def process_video(path: Path, rel: str, out: Path, params: BuildParams, genre: str | None = None,
                  progress: ProgressFn | None = None, backend: Any = None) -> VideoOutcome:
    """Run every stage on one video; write the kept clips under ``out``; never raises for bad data
    (a file that cannot be used becomes one rejected row)."""
    from macedance.fileio import sha256_file

    t_start = time.perf_counter()
    try:
        sha = sha256_file(path)
    except OSError as exc:
        sha = ""
        outcome = VideoOutcome(video_id_for(rel, "0" * 8), rel, sha)
        outcome.rows.append(_row(outcome, None, genre, stage="ingest", code="unreadable", reason=f"unreadable file: {exc}"))
        return outcome
    outcome = VideoOutcome(video_id_for(rel, sha), rel, sha)
    timer = _timer(outcome.stage_seconds)
    try:
        with timer("ingest"):
            info = probe_video(path)
    except MaceDanceError as exc:
        outcome.rows.append(_row(outcome, None, genre, stage="ingest", code=_ingest_code(exc), reason=str(exc).replace(str(path), rel)))
        return outcome
    outcome.frames = info.frames
    try:
        _process(path, info, outcome, out, params, genre, progress, backend, timer)
    except AudioUnusable as exc:
        outcome.rows = [_row(outcome, info, genre, stage="music", code="no-audio", reason=str(exc).replace(str(path), rel))]
        outcome.clips = []
    except MaceDanceError as exc:
        outcome.rows = [_row(outcome, info, genre, stage="ingest", code="undecodable", reason=str(exc).replace(str(path), rel))]
        outcome.clips = []
    outcome.seconds = time.perf_counter() - t_start
    return outcome


def _process(path: Path, info: VideoInfo, outcome: VideoOutcome, out: Path, params: BuildParams, genre: str | None,
             progress: ProgressFn | None, backend: Any, timer: Callable[[str], Any]) -> None:
    fps = info.fps
    rows = outcome.rows

    def timed_music() -> Any:
        with timer("music"):
            return _music(path, params)

    if info.frames / fps < params.min_clip:
        rows.append(_row(outcome, info, genre, stage="ingest", code="too-short", reason=f"video shorter than --min-clip ({info.frames / fps:.2f} s < {params.min_clip:g} s)"))
        return
    if not info.has_audio and not params.allow_silent:
        rows.append(_row(outcome, info, genre, stage="music", code="no-audio", reason="no audio track (use --allow-silent to keep motion-only clips)"))
        return
    with ThreadPoolExecutor(1) as music_pool:  # the music analysis runs beside the scan and the pose pass
        music_job = music_pool.submit(timed_music) if info.has_audio else None
        _process_shots(path, info, outcome, out, params, genre, progress, backend, timer, music_job)


def _process_shots(path: Path, info: VideoInfo, outcome: VideoOutcome, out: Path, params: BuildParams, genre: str | None,
                   progress: ProgressFn | None, backend: Any, timer: Callable[[str], Any], music_job: Future[Any] | None) -> None:
    fps = info.fps
    rows = outcome.rows
    with timer("scan"):
        sig = _scan(path, outcome.sha256, info, params, progress)
    n = len(sig["hist"]) + 1
    shots = split_shots(detect_cuts(sig["hist"], params.shots), n)
    min_f = math.ceil(params.min_clip * fps - 1e-9)
    rng_seed = [int(params.seed), int(outcome.sha256[:15], 16)]
    windows: list[tuple[int, int]] = []
    window_info: list[tuple[int, int, float]] = []  # (shot, window index in shot, multi-person fraction)
    for k, (a, b) in enumerate(shots):
        common = dict(candidate_id=f"{outcome.video_id}_s{k:03d}", shot=k, start_frame=a, end_frame=b, start_s=a / fps,
                      end_s=b / fps, duration_s=(b - a) / fps, moving=shot_mean(sig["moving"], a, b))
        in_shot = (sig["people_frames"] >= a) & (sig["people_frames"] < b)
        multi = float((sig["people"][in_shot] >= 2).mean()) if in_shot.any() else 0.0
        if b - a < min_f:
            rows.append(_row(outcome, info, genre, stage="shots", code="short-shot", reason=f"shot shorter than --min-clip ({(b - a) / fps:.2f} s)", **common))
        elif is_static(sig["moving"], a, b, params.shots):
            rows.append(_row(outcome, info, genre, stage="static", code="static",
                             reason=f"near-static shot (moving pixels {common['moving']:.2%} < {params.shots.static_threshold:.2%})", **common))
        elif multi > params.max_multi_frac:
            rows.append(_row(outcome, info, genre, stage="people", code="multi-person", multi_person_frac=multi,
                             reason=f"more than one person in {multi:.0%} of sampled frames (> {params.max_multi_frac:.0%})", **common))
        else:
            for j, win in enumerate(segment_shot(a, b, fps, params.min_clip, params.max_clip, np.random.default_rng([*rng_seed, k]))):
                windows.append(win)
                window_info.append((k, j, multi))
    if not windows:
        return
    if backend is None:
        from macedance.pose.backends import get_backend

        backend = get_backend(params.pose_backend, params.pose_weights)
    backends = [backend] + [_clone_backend(backend, params) for _ in range(max(1, min(params.pose_threads, len(windows))) - 1)]
    rest = _rest(params)
    music = None
    if music_job is not None:
        try:
            music = music_job.result()
        except MaceDanceError as exc:
            if not params.allow_silent:
                raise AudioUnusable(f"audio track cannot be decoded ({exc}); use --allow-silent to keep motion-only clips") from None
    bases: dict[int, dict[str, Any]] = {}
    jobs: dict[int, Future[dict[str, Any]]] = {}
    poses: dict[int, dict[str, np.ndarray]] = {}
    lock = threading.Lock()

    def on_window(j: int, data: dict[str, np.ndarray]) -> None:
        """Clip-level checks of a finished window; its SMPL fit starts at once."""
        (a, b), (k, w, multi) = windows[j], window_info[j]
        base = dict(candidate_id=f"{outcome.video_id}_s{k:03d}_c{w:02d}", shot=k, start_frame=a, end_frame=b, start_s=a / fps,
                    end_s=b / fps, duration_s=(b - a) / fps, moving=shot_mean(sig["moving"], a, b), multi_person_frac=multi)
        base["missing_frac"] = float((data["kp"][..., 2].max(axis=1) < 0.5).mean())
        if music is not None:
            clip_music = _clip_music(music[1][0], a / fps, b / fps, _motion_frames(b - a, fps, params.fps))
            base.update(clip_music=clip_music, n_beats=int(len(clip_music.beat_times)), tempo=float(clip_music.tempo))
        go = base["missing_frac"] <= params.max_missing and (params.allow_silent or base.get("n_beats", 0) >= params.min_beats)
        world = data["world"] if data["world"].size else None
        with lock:
            bases[j], poses[j] = base, data
            if go:
                jobs[j] = fit_pool.submit(timed_fit, data["kp"], world)

    def timed_fit(kp: np.ndarray, world: np.ndarray | None) -> dict[str, Any]:
        with timer("fit"):
            return _fit(kp, world, backend.skeleton, info, rest, params)

    kept = []
    with ThreadPoolExecutor(1) as fit_pool:
        with timer("pose"):
            _pose_windows(path, outcome.sha256, info, windows, backends, params, progress, on_window)
        for j in range(len(windows)):  # rows in window order: deterministic whatever the threads did
            base = bases[j]
            clip_music = base.pop("clip_music", None)
            if base["missing_frac"] > params.max_missing:
                rows.append(_row(outcome, info, genre, stage="person", code="no-person",
                                 reason=f"no person in {base['missing_frac']:.0%} of frames (> {params.max_missing:.0%})", **base))
                continue
            if j not in jobs:
                rows.append(_row(outcome, info, genre, stage="music", code="no-beats",
                                 reason=f"{base['n_beats']} beats (< {params.min_beats}; use --allow-silent to keep)", **base))
                continue
            fit = jobs[j].result()
            base.update(reproj_px=fit["reproj_px"], reproj_rel=fit["reproj_rel"], landmark_mm=fit["landmark_mm"])
            if not fit["ok"]:
                rows.append(_row(outcome, info, genre, stage="fit", code="fit-error", reason=f"SMPL fit rejected: {fit['reason']}", **base))
                continue
            kept.append((base["candidate_id"], base, poses[j]["kp"], fit, clip_music))
    if not kept:
        return
    with timer("export"):
        _export(path, info, outcome, out, params, genre, backend, kept, music)


def _clone_backend(backend: Any, params: BuildParams) -> Any:
    """Another instance of the same pose backend (one per pose thread)."""
    from macedance.pose.backends import get_backend

    return get_backend(params.pose_backend, params.pose_weights) if backend.name == params.pose_backend else type(backend)()


def _motion_frames(n_src: int, src_fps: float, fps: float) -> int:
    """Frames of a clip of ``n_src`` source frames after resampling to ``fps`` (as Motion.resample)."""
    from macedance.motion.kinematics import resample_times

    return len(resample_times(n_src, src_fps, fps))


def _rest(params: BuildParams) -> Any:
    from macedance.motion.skeleton import builtin_skeleton

    if params.smpl_model is None:
        return builtin_skeleton()
    from macedance.motion.skeleton import skeleton_from_smplx

    return skeleton_from_smplx(params.smpl_model)


def _export(path: Path, info: VideoInfo, outcome: VideoOutcome, out: Path, params: BuildParams, genre: str | None, backend: Any,
            kept: list[tuple[str, dict[str, Any], np.ndarray, dict[str, Any], Any]], music: Any) -> None:
    """Write every kept clip's files (atomically) and its manifest row."""
    import soundfile as sf

    from macedance.io.audio import load_audio
    from macedance.io.video import write_clip
    from macedance.music.analysis import save_music
    from macedance.schema import Clip, Keypoints2D

    provenance = {"macedance": __version__, "source_sha256": outcome.sha256, "pose": backend.info(), "build_params_hash": params.hash}
    audio = load_audio(path) if music is not None else None
    starts = {base["start_frame"]: cid for cid, base, *_ in kept}
    refs = _reference_frames(path, sorted(starts))
    for cid, base, kp, fit, clip_music in kept:
        a, b = base["start_frame"], base["end_frame"]
        rel = {
            "motion_path": f"motions/{cid}.npz", "keypoints_path": f"keypoints/{cid}.npz",
            "music_path": f"music/{cid}.npz" if clip_music is not None else None,
            "audio_path": f"audio/{cid}.wav" if audio is not None else None, "reference_path": f"reference/{cid}.jpg",
            "video_path": f"videos/{cid}.mp4" if params.videos else None,
            "preview_path": f"previews/{cid}.mp4" if params.preview else None,
        }
        meta = {"source_video": outcome.source, "source_sha256": outcome.sha256, "clip": cid, "start_frame": str(a),
                "end_frame": str(b), "src_fps": repr(info.fps), "camera": json.dumps(fit["camera"])}
        motion = fit["motion"]
        motion = motion.resample(params.fps) if abs(motion.fps - params.fps) > 1e-9 else motion
        motion = motion.replace(meta={**motion.meta, **meta, "fit_reproj_px": f"{fit['reproj_px']:.3f}"})
        motion.save(out / rel["motion_path"])
        Keypoints2D(kp, backend.skeleton, (info.width, info.height), info.fps, {**meta, **backend.info()}).save(out / rel["keypoints_path"])
        if clip_music is not None:
            preset = music[0]
            save_music(clip_music, preset, out / rel["music_path"], f"{outcome.source}#t={a / info.fps:.6f},{b / info.fps:.6f}", outcome.sha256)
        if audio is not None:
            s0, s1 = sample_span(a, b, info.fps, audio.sample_rate)
            y = audio.samples[s0:s1]
            if len(y) < s1 - s0:
                y = np.pad(y, (0, s1 - s0 - len(y)))
            with atomic_write(out / rel["audio_path"]) as f:
                sf.write(f, y, audio.sample_rate, format="WAV", subtype="PCM_16")
        _write_jpeg(out / rel["reference_path"], refs[a])
        clip_audio = out / rel["audio_path"] if rel["audio_path"] else None
        if params.videos:
            write_clip(path, out / rel["video_path"], a, b, info.fps, clip_audio)
        if params.preview:
            from macedance.render.overlay import write_overlay_preview

            write_overlay_preview(path, out / rel["preview_path"], a, b, info.fps, kp, backend.skeleton, clip_audio)
        row = _row(outcome, info, genre, status="kept", stage="kept", code="kept", **base, **rel)
        outcome.rows.append(row)
        clip = Clip(cid, outcome.source, a / info.fps, b / info.fps, rel["motion_path"], rel["keypoints_path"], rel["music_path"], genre,
                    None, {**provenance, "fit": {k: fit[k] for k in ("reproj_px", "reproj_rel", "landmark_mm", "camera")}})
        outcome.clips.append({**clip.to_dict(), "audio_path": rel["audio_path"], "reference_path": rel["reference_path"],
                              "video_path": rel["video_path"]})


def _reference_frames(path: Path, starts: list[int]) -> dict[int, np.ndarray]:
    """The source frames at ``starts`` (full resolution; each decoded after a seek)."""
    out = {}
    for a in starts:
        frames = list(iter_frames(path, start=a, max_frames=1, rotate=True))
        if not frames:
            raise MaceDanceError(f"{path}: frame {a} cannot be decoded (truncated video?)")
        out[a] = frames[0]
    return out


def _write_jpeg(path: Path, frame: np.ndarray, quality: int = 95) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MaceDanceError(f"{path}: JPEG encoding failed")
    with atomic_write(path) as f:
        f.write(buf.tobytes())
