"""One source video → candidate clips, each kept (files written) or rejected with a reason.

Stages, in order (the model stages, :mod:`~macedance.datasets.from_video.stages`, are cached by input
hash + stage version + parameters in the macedance cache, so a re-run or a resumed build reuses them):

1. ingest — :func:`~macedance.io.video.probe_video` (fps, size, frames, rotation, audio stream);
   the music analysis of the audio track starts in a thread;
2. scan — one decode: :func:`~macedance.datasets.from_video.shots.scan_video` → TransNet V2 (or histogram)
   transitions → shots (:func:`~macedance.datasets.from_video.shots.shot_ranges`), and
   the person count at ``people_fps`` (tiled BlazePose detector, helper thread); shots shorter than
   ``min_clip``, near-static shots and multi-person shots are rejected;
3. segment — seeded 5–10 s windows inside each remaining shot;
4. pose — every window in one of ``pose_threads`` threads (own model, own seeking decoder, fresh
   tracker); a finished window is checked (no person in more than ``max_missing`` of its frames,
   fewer than ``min_beats`` beats unless ``allow_silent``) and its SMPL fit starts in a fit thread;
5. fit — rejected above the fit's error thresholds; then the physical diagnostics of the fitted motion
   (:mod:`macedance.motion.plausibility`) go into the row, and a clip above ``plausibility`` limits is
   rejected as ``implausible``;
6. export (:mod:`~macedance.datasets.from_video.export`) — motion, keypoints, music features, audio,
   reference frame, clip video (and preview) per kept clip, written atomically. Rows are appended in window order, so threads never change the outcome;
   the kept clips' perceptual fingerprints (from the scan's frame hashes) go into the outcome, for the de-duplication
   across sources when the dataset is finalised (:mod:`~macedance.datasets.curation.dedupe`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from macedance.datasets.curation.fingerprint import fingerprint_source
from macedance.datasets.curation.media import analyze_music, clip_music
from macedance.datasets.curation.outcome import ManifestRow, SourceOutcome
from macedance.datasets.curation.segment import segment_shot
from macedance.datasets.from_video.export import export_clips
from macedance.datasets.from_video.params import BuildParams
from macedance.datasets.from_video.shots import is_static, shot_mean, shot_ranges
from macedance.datasets.from_video.stages import ProgressFn, clone_backend, fit_clip, motion_frames, pose_windows, rest_skeleton, scan_signals
from macedance.errors import MaceDanceError
from macedance.io.video import VideoInfo, probe_video

log = logging.getLogger(__name__)


class AudioUnusable(MaceDanceError):
    """The video has an audio stream that cannot be analysed (and silent clips are not allowed)."""


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


def _row(outcome: SourceOutcome, info: VideoInfo | None, genre: str | None, **kw: Any) -> ManifestRow:
    """A manifest row of this video (with its frame rate and size once probed)."""
    if info is not None:
        kw.update(src_fps=info.fps, width=info.width, height=info.height)
    return outcome.row(genre, **kw)


def _implausible(phys: dict[str, float], limits: dict[str, float]) -> list[str]:
    """Reasons for every ``phys_*`` diagnostic above its limit (see BuildParams.plausibility)."""
    from macedance.motion.plausibility import Diagnostics

    d = Diagnostics(**{k.removeprefix("phys_"): v for k, v in phys.items()})
    return d.problems(limits)


def _ingest_code(exc: Exception) -> str:
    text = str(exc)
    return "zero-length" if "zero-length" in text else "no-video-stream" if "no video stream" in text else "unreadable"


def process_video(path: Path, rel: str, out: Path, *, params: BuildParams, genre: str | None = None,
                  progress: ProgressFn | None = None, backend: Any = None) -> SourceOutcome:
    """Run every stage on one video; write the kept clips under ``out``; never raises for bad data
    (a file that cannot be used becomes one rejected row)."""
    from macedance.fileio import sha256_file

    t_start = time.perf_counter()
    try:
        sha = sha256_file(path)
    except OSError as exc:
        outcome = SourceOutcome.start(rel, "")
        outcome.rows.append(_row(outcome, None, genre, stage="ingest", code="unreadable", reason=f"unreadable file: {exc}"))
        return outcome
    outcome = SourceOutcome.start(rel, sha)
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


def _process(path: Path, info: VideoInfo, outcome: SourceOutcome, out: Path, params: BuildParams, genre: str | None,
             progress: ProgressFn | None, backend: Any, timer: Callable[[str], Any]) -> None:
    fps = info.fps
    rows = outcome.rows

    def timed_music() -> Any:
        with timer("music"):
            return analyze_music(path, params.music_preset, params.fps)

    if info.frames / fps < params.min_clip:
        rows.append(_row(outcome, info, genre, stage="ingest", code="too-short", reason=f"video shorter than --min-clip ({info.frames / fps:.2f} s < {params.min_clip:g} s)"))
        return
    if not info.has_audio and not params.allow_silent:
        rows.append(_row(outcome, info, genre, stage="music", code="no-audio", reason="no audio track (use --allow-silent to keep motion-only clips)"))
        return
    with ThreadPoolExecutor(1) as music_pool:  # the music analysis runs beside the scan and the pose pass
        music_job = music_pool.submit(timed_music) if info.has_audio else None
        _process_shots(path, info, outcome, out, params, genre, progress, backend, timer, music_job)


def _process_shots(path: Path, info: VideoInfo, outcome: SourceOutcome, out: Path, params: BuildParams, genre: str | None,
                   progress: ProgressFn | None, backend: Any, timer: Callable[[str], Any], music_job: Future[Any] | None) -> None:
    fps = info.fps
    rows = outcome.rows
    with timer("scan"):
        sig = scan_signals(path, outcome.sha256, info, params, progress)
    n = len(sig["hist"]) + 1
    shots = shot_ranges(sig, n, params.shots)
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
    backends = [backend] + [clone_backend(backend, params) for _ in range(max(1, min(params.pose_threads, len(windows))) - 1)]
    rest = rest_skeleton(params)
    from macedance.pose.fitters import get_fitter

    fitter = get_fitter(params.fitter, params.fit)
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
            cut = clip_music(music[1][0], a / fps, b / fps, motion_frames(b - a, fps, params.fps))
            base.update(clip_music=cut, n_beats=int(len(cut.beat_times)), tempo=float(cut.tempo))
        go = base["missing_frac"] <= params.max_missing and (params.allow_silent or base.get("n_beats", 0) >= params.min_beats)
        world = data["world"] if data["world"].size else None
        with lock:
            bases[j], poses[j] = base, data
            if go:
                jobs[j] = fit_pool.submit(timed_fit, data["kp"], world, (a, b))

    def timed_fit(kp: np.ndarray, world: np.ndarray | None, window: tuple[int, int]) -> dict[str, Any]:
        with timer("fit"):
            return fit_clip(kp, world, backend.skeleton, info, rest, params, fitter=fitter, video=path, window=window)

    kept = []
    with ThreadPoolExecutor(1) as fit_pool:
        with timer("pose"):
            pose_windows(path, outcome.sha256, info, windows, backends, params, progress, on_window)
        for j in range(len(windows)):  # rows in window order: deterministic whatever the threads did
            base = bases[j]
            cut = base.pop("clip_music", None)
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
            base.update(fit["phys"])
            if params.plausibility and (problems := _implausible(fit["phys"], params.plausibility)):
                rows.append(_row(outcome, info, genre, stage="physics", code="implausible",
                                 reason=f"implausible motion: {'; '.join(problems)}", **base))
                continue
            kept.append((base["candidate_id"], base, poses[j]["kp"], fit, cut))
    if not kept:
        return
    with timer("export"):
        export_clips(path, info, outcome, out=out, params=params, genre=genre, backend=backend, kept=kept, music=music)
    outcome.fingerprints = fingerprint_source(sig, [(cid, base["start_frame"], base["end_frame"]) for cid, base, *_ in kept], fps=fps,
                                               seconds=info.frames / fps, width=info.width, height=info.height)
