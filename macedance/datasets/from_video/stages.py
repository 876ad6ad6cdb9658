"""The stages of one video that run a model, each cached in the macedance cache by its inputs, version and
parameters: the scan (cut/static signals and person counts), the 2D pose of every clip window, the SMPL
fit of a clip; and the pose backends and body skeleton they use."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from macedance.cache import NpzCache, cache_key
from macedance.datasets.from_video.params import BuildParams
from macedance.datasets.from_video.shots import SCAN_VERSION, scan_video
from macedance.errors import MaceDanceError
from macedance.io.video import VideoInfo, iter_frames, scaled_size

FIT_CACHE_VERSION = "3"  # 2: the motion's meta is cached too; 3: the fitter (name, version, config) in the key and scalars
ProgressFn = Callable[[int], None]  # called with the number of newly processed frames (scan pass, then pose pass)


def scan_signals(path: Path, sha: str, info: VideoInfo, params: BuildParams, progress: ProgressFn | None) -> dict[str, np.ndarray]:
    """Cut/static signals, person counts (every ``people_step`` frames), per-frame motion hashes (the clips'
    fingerprints for the de-duplication) and, with the ``transnet`` detector, its per-frame transition probabilities
    (``transnet_single``, ``transnet_many``), all from one decode; cached."""
    from macedance.pose.person_detector import PersonDetector

    step = _people_step(info, params)
    transnet = params.shots.detector == "transnet"
    cache = NpzCache("build-scan")
    key = cache_key("scan", SCAN_VERSION, PersonDetector.VERSION, sha, str(step), str(params.pose_max_side), str(params.person_score),
                    str(params.person_min_height), "transnet" if transnet else "", repr(info.fps))
    if (hit := cache.get(key)) is not None:
        if progress is not None:
            progress(info.frames)
        return hit
    detector = PersonDetector(score_threshold=params.person_score)

    def count(frame: np.ndarray) -> int:
        return detector.count(frame, min_score=params.person_score, min_height=params.person_min_height, tiles=True)

    model = None
    if transnet:  # only on a cache miss (the build's preflight has checked the weight)
        from macedance.datasets.from_video.transnet import load_transnet

        model = load_transnet()
    sig = scan_video(path, progress=progress, people_step=step, count_people=count, people_side=params.pose_max_side or max(info.width, info.height),
                     transnet=model, fps=info.fps)
    cache.put(key, sig)
    return sig


def _people_step(info: VideoInfo, params: BuildParams) -> int:
    return max(1, int(round(info.fps / params.people_fps)))


def _pose_key(sha: str, window: tuple[int, int], info: dict[str, str], version: str, params: BuildParams) -> str:
    return cache_key("pose", version, json.dumps(info, sort_keys=True), sha, f"{window[0]}-{window[1]}", str(params.pose_max_side))


def pose_windows(path: Path, sha: str, info: VideoInfo, windows: list[tuple[int, int]], backends: list[Any], params: BuildParams,
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


def fit_clip(kp: np.ndarray, world: np.ndarray | None, skeleton: str, info: VideoInfo, rest: Any, params: BuildParams, *,
             fitter: Any, video: Path, window: tuple[int, int]) -> dict[str, Any]:
    """SMPL fit of one clip window by ``fitter`` (:mod:`macedance.pose.fitters`), cached by the keypoints'
    bytes + the fitter's name, version and config + skeleton (plug-ins also by the source video's
    window, which they may read); then the common reprojection error, acceptance and physical
    diagnostics."""
    from macedance.pose.fit import FitConfig
    from macedance.pose.fitters import BUILTIN, FitInput, check_output, reprojection_error
    from macedance.schema import Motion

    h = hashlib.sha256(np.ascontiguousarray(kp).tobytes())
    if world is not None:
        h.update(np.ascontiguousarray(world).tobytes())
    where = "" if fitter.name == BUILTIN else f"{hashlib.sha256(str(video).encode()).hexdigest()}:{window[0]}-{window[1]}"
    key = cache_key("fit", FIT_CACHE_VERSION, h.hexdigest(), skeleton, f"{info.width}x{info.height}@{info.fps}", fitter.name, fitter.version,
                    json.dumps(fitter.config(), sort_keys=True, default=str), where, rest.name, hashlib.sha256(rest.joints.tobytes()).hexdigest())
    cache = NpzCache("build-fit")
    if (hit := cache.get(key)) is not None:
        scalars = json.loads(str(hit["scalars_json"]))
        motion = Motion(hit["poses"], hit["trans"], float(hit["fps"]), "y", meta=json.loads(str(hit["meta_json"])))
        return _with_diagnostics({"motion": motion, **scalars}, rest)
    t0 = time.perf_counter()
    inp = FitInput(video, window[0], window[1], kp, skeleton, world, (info.width, info.height), info.fps, rest)
    try:
        res = check_output(fitter.fit(inp), inp, fitter.name)
    except Exception as exc:  # a fitter's failure rejects this clip with its reason; the build goes on
        if fitter.name == BUILTIN and not isinstance(exc, MaceDanceError):
            raise
        nan = float("nan")
        return {"motion": None, "reproj_px": nan, "reproj_rel": nan, "landmark_mm": nan, "ok": False, "camera": {}, "phys": {},
                "reason": f"fitter {fitter.name!r} failed: {type(exc).__name__}: {exc}", "fitter": {"name": fitter.name, "version": fitter.version}}
    reproj_px, reproj_rel = reprojection_error(res.motion, res.camera, inp)
    ok, reason = res.ok, res.reason
    limit = FitConfig().max_reproj
    if ok and fitter.name != BUILTIN and not reproj_rel <= limit:  # the built-in fit applies its own (configurable) limit
        ok, reason = False, f"mean reprojection error {reproj_px:.1f} px = {reproj_rel:.3f} × person height > {limit}"
    scalars = {"reproj_px": reproj_px, "reproj_rel": reproj_rel, "landmark_mm": float(res.stats.get("landmark_mm", float("nan"))),
               "ok": bool(ok), "reason": reason, "camera": res.camera.to_dict(), "fitter": {"name": fitter.name, "version": fitter.version},
               "fit_seconds": time.perf_counter() - t0}
    cache.put(key, {"poses": res.motion.poses, "trans": res.motion.trans, "fps": np.float64(res.motion.fps),
                    "scalars_json": np.str_(json.dumps(scalars)), "meta_json": np.str_(json.dumps(res.motion.meta))})
    return _with_diagnostics({"motion": res.motion, **scalars}, rest)


def _with_diagnostics(fit: dict[str, Any], rest: Any) -> dict[str, Any]:
    """``fit`` plus ``phys``: the physical diagnostics of an accepted fit (computed, never cached: cheap, and their
    definitions may change without the fit changing)."""
    from macedance.motion.camera import PinholeCamera

    fit["phys"] = physical_diagnostics(fit["motion"], PinholeCamera.from_dict(fit["camera"]), rest) if fit["ok"] else {}
    return fit


def physical_diagnostics(motion: Any, camera: Any, rest: Any) -> dict[str, float]:
    """The manifest's ``phys_*`` columns of a fitted motion (:func:`macedance.motion.plausibility.diagnose`),
    the depth drift measured along the camera's horizontal viewing direction."""
    from macedance.motion.plausibility import diagnose

    view = camera.rotation() @ np.array([0.0, 0.0, -1.0])
    return diagnose(motion.joints(rest), motion.fps, view=view).to_dict()


def clone_backend(backend: Any, params: BuildParams) -> Any:
    """Another instance of the same pose backend (one per pose thread)."""
    from macedance.pose.backends import get_backend

    return get_backend(params.pose_backend, params.pose_weights) if backend.name == params.pose_backend else type(backend)()


def motion_frames(n_src: int, src_fps: float, fps: float) -> int:
    """Frames of a clip of ``n_src`` source frames after resampling to ``fps`` (as Motion.resample)."""
    from macedance.motion.kinematics import resample_times

    return len(resample_times(n_src, src_fps, fps))


def rest_skeleton(params: BuildParams) -> Any:
    """The skeleton the fits use: the user's SMPL model's bone lengths, else the built-in skeleton."""
    from macedance.motion.skeleton import builtin_skeleton

    if params.smpl_model is None:
        return builtin_skeleton()
    from macedance.motion.skeleton import skeleton_from_smplx

    return skeleton_from_smplx(params.smpl_model)
