"""The export stage: every kept clip's files (motion, keypoints, music features, audio, reference frame,
clip video and, with ``params.preview``, the fit preview ``previews/<clip>.mp4`` and its still
``previews/<clip>.jpg``), written atomically, and its manifest row and clip record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from macedance import __version__
from macedance.datasets.curation.media import write_clip_audio, write_jpeg
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.from_video.params import BuildParams
from macedance.errors import MaceDanceError
from macedance.io.video import VideoInfo, iter_frames

KeptClip = tuple[str, dict[str, Any], np.ndarray, dict[str, Any], Any]  # (clip id, row columns, keypoints, fit, clip music or None)


def export_clips(path: Path, info: VideoInfo, outcome: SourceOutcome, *, out: Path, params: BuildParams, genre: str | None, backend: Any,
                 kept: list[KeptClip], music: Any) -> None:
    """Write every kept clip's files (atomically); append its manifest row and clip record to ``outcome``."""
    from macedance.io.audio import load_audio
    from macedance.io.video import write_clip
    from macedance.music.analysis import save_music
    from macedance.schema import Clip, Keypoints2D

    provenance = {"macedance": __version__, "source_sha256": outcome.sha256, "pose": backend.info(), "build_params_hash": params.hash}
    audio = load_audio(path) if music is not None else None
    starts = {base["start_frame"]: cid for cid, base, *_ in kept}
    refs = reference_frames(path, sorted(starts))
    character = preview_character(params) if params.preview else None
    for cid, base, kp, fit, music_cut in kept:
        a, b = base["start_frame"], base["end_frame"]
        rel = {
            "motion_path": f"motions/{cid}.npz", "keypoints_path": f"keypoints/{cid}.npz",
            "music_path": f"music/{cid}.npz" if music_cut is not None else None,
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
        if music_cut is not None:
            preset = music[0]
            save_music(music_cut, preset, out / rel["music_path"], source=f"{outcome.source}#t={a / info.fps:.6f},{b / info.fps:.6f}", digest=outcome.sha256)
        if audio is not None:
            write_clip_audio(out / rel["audio_path"], audio, a, b, info.fps)
        write_jpeg(out / rel["reference_path"], refs[a])
        clip_audio = out / rel["audio_path"] if rel["audio_path"] else None
        if params.videos:
            write_clip(path, out / rel["video_path"], start=a, end=b, fps=info.fps, audio=clip_audio)
        if params.preview:  # the fit at the source rate (one pose per source frame) beside the source frames, and a still
            from macedance.render.fit_preview import write_fit_preview

            write_fit_preview(path, out / rel["preview_path"], start=a, end=b, fps=info.fps, motion=fit["motion"], camera=fit["camera"],
                              keypoints=kp, skeleton=backend.skeleton, audio=clip_audio, character=character,
                              label=f"reproj {fit['reproj_px']:.1f} px", still=out / f"previews/{cid}.jpg")
        outcome.rows.append(outcome.row(genre, status="kept", stage="kept", code="kept", src_fps=info.fps, width=info.width, height=info.height,
                                        **base, **rel))
        clip = Clip(cid, outcome.source, a / info.fps, b / info.fps, rel["motion_path"], rel["keypoints_path"], rel["music_path"], genre,
                    None, {**provenance, "fit": {k: fit[k] for k in ("reproj_px", "reproj_rel", "landmark_mm", "camera", "fitter", "phys")}},
                    rel["audio_path"], rel["reference_path"], rel["video_path"])
        outcome.clips.append(clip.to_dict())


def preview_character(params: BuildParams) -> Any:
    """The body drawn by the fit previews: capsules on the rest skeleton the fits used."""
    from macedance.datasets.from_video.stages import rest_skeleton
    from macedance.render.character import capsule_character

    return capsule_character(rest_skeleton(params))


def reference_frames(path: Path, starts: list[int]) -> dict[int, np.ndarray]:
    """The source frames at ``starts`` (full resolution; each decoded after a seek)."""
    out = {}
    for a in starts:
        frames = list(iter_frames(path, start=a, max_frames=1, rotate=True))
        if not frames:
            raise MaceDanceError(f"{path}: frame {a} cannot be decoded (truncated video?)")
        out[a] = frames[0]
    return out
