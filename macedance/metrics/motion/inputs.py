"""Reading what people evaluate: motion files of any published layout, keypoint files, music beats.

Accepted 3D sequence files (:mod:`macedance.io.motion_formats`, detected from the suffix and the keys or
shape, or forced with ``motion_format``): macedance motion ``.npz``; the native outputs of EDGE /
MACE-Dance / POPDG (``.pkl``), FineDance / LODGE (``.npy``, ``.pkl``), AIST++ / Bailando++ (``.pkl``),
FACT (``.npy``) and SMPL-X parameter ``.npz`` files (rotations; joints by FK over the built-in or the
user's skeleton); plain joint positions — ``.npy``, ``.npz`` (key ``joints``, ``positions``,
``pred_position``, ``full_pose`` or a single array) or ``.csv`` (no header) — shaped T×J×3 or T×3J,
in metres; they carry no frame rate or up axis, so ``fps`` and ``up_axis`` must be given.

2D keypoints — macedance ``keypoints2d`` ``.npz``; the official MACE-Dance / easy_ViTPose ``.json``
(``{"keypoints": [T][25][3]}`` stored as (y, x, score)); or ``.npy`` T×25×3 (x, y, conf).

Music beats (paired by file stem): ``.npy`` (1-D beat times, s), ``.npz`` (key ``beats``, s — also the
music files written by ``macedance data music``), ``.txt`` (one time per line, s), or audio / a video's
audio track, analysed with the motion preset's music preset (cached).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError, ValidationError
from macedance.io.audio import MEDIA_SUFFIXES as AUDIO_SUFFIXES
from macedance.io.motion_formats import MOTION_FILE_SUFFIXES
from macedance.limits import MAX_KEYPOINT_JSON_BYTES, check_array_file, load_json

MOTION_SUFFIXES = (*MOTION_FILE_SUFFIXES, ".json")
BEAT_SUFFIXES = (".npy", ".npz", ".txt")
OPTION_FIELDS = ("fps", "fps/up_axis", "motion_format")  # ValidationError fields that name an argument, not a bad file


@dataclass
class Sequence:
    """One loaded sequence: (T, J, 3) values, its frame rate and up axis (None for 2D)."""

    name: str
    data: np.ndarray
    fps: float
    up_axis: str | None
    format: str = "keypoints2d"


def list_sequences(directory: str | Path, role: str) -> list[Path]:
    """Sequence files in ``directory`` (recursive, sorted); a clear error when there are none."""
    d = Path(directory)
    if not d.is_dir():
        raise InputNotFoundError(f"{d}: --{role} folder not found")
    files = sorted(f for f in d.rglob("*") if f.suffix.lower() in MOTION_SUFFIXES and f.is_file())
    if not files:
        raise InputNotFoundError(f"{d}: no motion files ({', '.join(MOTION_SUFFIXES)}) in the --{role} folder")
    return files


def load_sequence(
    path: str | Path,
    *,
    representation: str,
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: object | None = None,
    motion_format: str = "auto",
) -> Sequence:
    """Load one sequence for evaluation.

    Args:
        path: the file.
        representation: ``"joints3d"`` or ``"keypoints2d"`` (from the preset).
        fps, up_axis: required for plain joint arrays and plain keypoint arrays (fps only); for method
            outputs that store none, they override the format's documented values.
        skeleton: rest skeleton for FK of motion files (default: built-in).
        motion_format: 3D file layout, ``"auto"`` (detected) or a name of :data:`macedance.io.motion_formats.MOTION_FORMATS`.
    """
    from macedance.io.motion_formats import plain_joints, read_motion_file
    from macedance.schema.npz import load_keypoints

    path = Path(path)
    suffix = path.suffix.lower()
    if representation == "keypoints2d":
        if suffix == ".json":
            data = load_json(path, what="keypoint JSON", max_bytes=MAX_KEYPOINT_JSON_BYTES)  # bounded size and nesting
            try:
                kp = np.asarray(data["keypoints"], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as exc:
                raise DataFormatError(f"{path}: not a keypoint JSON with a 'keypoints' [T][25][3] list ({exc})") from None
            if kp.ndim != 3 or kp.shape[1:] != (25, 3):
                raise ValidationError("keypoints", "shape (T, 25, 3)", f"shape {kp.shape}", source=path)
            json_fps = data.get("fps") if isinstance(data, dict) else None
            return Sequence(path.stem, kp[..., [1, 0, 2]], float(fps or json_fps or 16.0), None)
        if suffix == ".npz" and _is_macedance(path, "keypoints2d"):
            k = load_keypoints(path)
            if k.skeleton != "vitpose25":
                raise ValidationError("skeleton", "vitpose25 keypoints for the 2D motion metrics", k.skeleton, source=path)
            return Sequence(path.stem, k.data, k.fps, None)
        if fps is None:
            raise ValidationError("fps", "a frame rate for plain keypoint arrays", "none", source=path)
        return Sequence(path.stem, plain_joints(path), float(fps), None)
    if suffix == ".json":
        raise DataFormatError(f"{path}: a JSON keypoint file cannot be evaluated with a 3D preset")
    f = read_motion_file(path, motion_format=motion_format, fps=fps, up_axis=up_axis, skeleton=skeleton)  # type: ignore[arg-type]
    name = path.name[: -len(".pkl.npy")] if path.name.endswith(".pkl.npy") else path.stem  # Bailando's NAME.pkl.npy
    return Sequence(name, f.positions(skeleton), f.fps, f.up_axis, f.format)  # type: ignore[arg-type]


def _is_macedance(path: Path, kind: str | None) -> bool:
    try:
        check_array_file(path, str(path))
        with np.load(path, allow_pickle=False) as z:
            if "schema_version" not in z.files:
                return False
            return kind is None or str(z["kind"]) == kind
    except (ValueError, OSError, zipfile.BadZipFile, KeyError, DataFormatError):
        return False


def find_music(directory: str | Path | None, stem: str) -> Path | None:
    """The music/beat file for ``stem`` in ``directory`` (beat files preferred over audio)."""
    if directory is None:
        return None
    d = Path(directory)
    for suffix in BEAT_SUFFIXES + AUDIO_SUFFIXES:
        f = d / f"{stem}{suffix}"
        if f.is_file():
            return f
    return None


def load_beat_times(path: Path, music_preset: str | None = None) -> np.ndarray:
    """Beat times in seconds from a beat file, a music ``.npz``, or audio analysed with ``music_preset``."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".npy", ".npz"):
            check_array_file(path, str(path))  # sizes, zip bombs, forged .npy shapes: refused before numpy allocates
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "beats" not in z.files:
                    raise DataFormatError(f"{path}: no 'beats' array (beat times in seconds); keys: {z.files}")
                arr = z["beats"]
        elif suffix == ".txt":
            arr = np.loadtxt(path, ndmin=1)
        elif suffix in AUDIO_SUFFIXES:
            if music_preset is None:
                raise DataFormatError(f"{path}: this preset scores no BAS from audio; give beat-time files instead")
            from macedance.music.analysis import analyze_file
            from macedance.music.presets import get_music_preset

            return analyze_file(path, get_music_preset(music_preset))[0].beat_times
        else:
            raise DataFormatError(f"{path}: unknown music/beat file type")
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a numeric beat-time array ({exc})") from None
    arr = np.asarray(arr, dtype=np.float64).reshape(-1)
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValidationError("beat times", "finite seconds ≥ 0", f"{arr[:5]}…", source=path)
    return np.sort(arr)
