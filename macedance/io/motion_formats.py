"""Motion files as published methods write them: a registry of formats, their detection, one reader.

| format | files | layout (as the method's code writes it) | fps, up | written by |
|---|---|---|---|---|
| ``macedance`` | ``.npz`` | ``schema_version``, ``kind="motion"``, ``poses``, ``trans``, ``fps``, ``up_axis`` (or ``kind="joints3d"``, ``positions``) | stored | macedance |
| ``edge`` | ``.pkl`` | ``smpl_poses`` (T,72), ``smpl_trans`` (T,3), ``full_pose`` (T,24,3) | 30, z | EDGE, MACE-Dance, POPDG |
| ``finedance`` | ``.npy`` | (T,139) / (T,319): 4 contacts + 3 root + 22 / 52 joints × 6D; (T,135) / (T,315) without contacts | 30, y | FineDance data, LODGE |
| ``finedance-pkl`` | ``.pkl`` | ``smpl_poses`` (T,66) or (T,156), ``smpl_trans`` (T,3) | 30, y | FineDance (FineNet), LODGE |
| ``aistpp`` | ``.pkl`` | ``smpl_poses`` (T,72) or (T,24,3), ``smpl_trans`` (T,3), optional ``smpl_scaling`` | 60, y | AIST++, Bailando++ |
| ``fact`` | ``.npy`` | (T,225): 6 padding + 3 translation + 24 × 3×3 rotation matrices | 60, y | FACT (mint) |
| ``smplx`` | ``.npz`` | AMASS ``poses`` (T,66/72/156/165) + ``trans``; or ``global_orient`` + ``body_pose`` + ``transl`` | stored, z (AMASS) / y | AMASS, SMPL-X fitters |
| ``bailando`` | ``.npy`` ``.pkl`` | ``np.save``'d ``{"pred_position": (T,72)}`` joint positions, root first (files ``NAME.pkl.npy``) | 60, y | Bailando |
| ``joints`` | ``.npy`` ``.npz`` ``.csv`` | joint positions (T,J,3) or (T,3J), metres | given | any |

Detection (``motion_format="auto"``) looks at the suffix, then the keys or the array shape: a ``.pkl``
with ``full_pose`` is ``edge``, one whose ``smpl_poses`` hold 22 or 52 joints is ``finedance-pkl``, 24
joints ``aistpp``; an ``.npy`` (or ``.pkl``) holding an ``np.save``'d dict with ``pred_position`` is ``bailando`` (read through the
restricted unpickler); an ``.npy`` of width 135/139/315/319 is ``finedance``, 225 ``fact``, any other
``joints``; an ``.npz`` with ``schema_version`` is ``macedance``, with ``poses``/``global_orient``
``smplx``, else ``joints``. A forced format reads the file as that layout whatever it looks like.

Frame rate and up axis: a value stored in the file wins; else the caller's ``fps``/``up_axis``; else the
format's documented value (plain joint arrays have none, so both must be given). Pickles go through
the restricted unpickler (:func:`macedance.safe_pickle.safe_load_pickle`); arrays load with
``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError, MaceDanceError, ValidationError
from macedance.io import motion_layouts as lay
from macedance.limits import check_array_file
from macedance.motion.skeleton import RestSkeleton, builtin_skeleton
from macedance.schema._check import choice
from macedance.schema.motion import Motion

MotionFormat = Literal["macedance", "edge", "finedance", "finedance-pkl", "aistpp", "fact", "smplx", "bailando", "joints"]
MOTION_FORMATS: tuple[MotionFormat, ...] = get_args(MotionFormat)
FORMAT_CHOICES: tuple[str, ...] = ("auto", *MOTION_FORMATS)
MOTION_FILE_SUFFIXES = (".npz", ".npy", ".pkl", ".csv")
JOINT_KEYS = ("joints", "positions", "pred_position", "full_pose", "keypoints")  # plain joint arrays in an .npz


@dataclass(frozen=True)
class FormatSpec:
    """One motion file layout: its suffixes, the arrays it holds, documented fps and up axis (None: stored or given)."""

    name: MotionFormat
    suffixes: tuple[str, ...]
    layout: str
    written_by: str
    fps: float | None
    up_axis: str | None


FORMATS: dict[MotionFormat, FormatSpec] = {s.name: s for s in (
    FormatSpec("macedance", (".npz",), "macedance motion .npz (schema_version, kind='motion', poses, trans, fps, up_axis)",
               "macedance", None, None),
    FormatSpec("edge", (".pkl",), "{smpl_poses (T,72), smpl_trans (T,3), full_pose (T,24,3)}", "EDGE, MACE-Dance, POPDG",
               lay.EDGE_FPS, "z"),
    FormatSpec("finedance", (".npy",), "(T,139|319) = 4 contacts + 3 root + 22|52 joints × 6D, or (T,135|315) without contacts",
               "FineDance, LODGE", lay.FINEDANCE_FPS, "y"),
    FormatSpec("finedance-pkl", (".pkl",), "{smpl_poses (T,66|156), smpl_trans (T,3)}", "FineDance (FineNet), LODGE",
               lay.FINEDANCE_FPS, "y"),
    FormatSpec("aistpp", (".pkl",), "{smpl_poses (T,72), smpl_trans (T,3)[, smpl_scaling]}", "AIST++, Bailando++",
               lay.AISTPP_FPS, "y"),
    FormatSpec("fact", (".npy",), "(T,225) = 6 padding + 3 translation + 24 × 3×3 rotations", "FACT (mint)", lay.AISTPP_FPS, "y"),
    FormatSpec("smplx", (".npz",), "{poses (T,66|72|156|165), trans[, mocap_frame_rate]} or {global_orient, body_pose, transl[, fps]}",
               "AMASS, SMPL-X fitters", None, None),
    FormatSpec("bailando", (".npy", ".pkl"), "np.save'd {pred_position (T,72)}: 24 joint positions, root first (NAME.pkl.npy)", "Bailando",
               lay.AISTPP_FPS, "y"),
    FormatSpec("joints", (".npy", ".npz", ".csv"), "joint positions (T,J,3) or (T,3J) in metres, with --fps and --up-axis", "any",
               None, None),
)}
_FPS_KEYS = ("mocap_frame_rate", "mocap_framerate", "fps")


@dataclass(frozen=True)
class MotionFile:
    """A read motion file: its format, frame rate, up axis, and a Motion (rotations) or joint positions."""

    path: Path
    format: MotionFormat
    fps: float
    up_axis: str
    motion: Motion | None = None
    joints: np.ndarray | None = None  # (T, J, 3) metres, for layouts without rotations

    def positions(self, skeleton: RestSkeleton | None = None) -> np.ndarray:
        """(T, J, 3) joint positions in metres (FK over ``skeleton`` for motions; default: built-in)."""
        if self.motion is not None:
            return self.motion.joints(skeleton or builtin_skeleton())
        assert self.joints is not None
        return self.joints


def expected_layouts(suffix: str | None = None) -> str:
    """The layouts accepted for files with ``suffix`` (all when None), for error messages."""
    specs = [s for s in FORMATS.values() if suffix is None or suffix in s.suffixes]
    return "; ".join(f"{s.name} ({s.written_by}): {s.layout}" for s in specs)


# ----- loading and detection ------------------------------------------------------------------------------------------
def _load(path: Path) -> Any:
    """The file's content: a dict (.pkl, .npz) or an array (.npy, .csv); a one-line error when unreadable."""
    from macedance.safe_pickle import safe_load_npy_object, safe_load_pickle

    suffix = path.suffix.lower()
    if suffix not in MOTION_FILE_SUFFIXES:
        raise DataFormatError(f"{path}: not a motion file (expected {', '.join(MOTION_FILE_SUFFIXES)})")
    try:
        if suffix == ".pkl":
            with open(path, "rb") as fh:
                npy = fh.read(6) == b"\x93NUMPY"  # Bailando's np.save(NAME.pkl, dict): an .npy under a .pkl name
            data = safe_load_npy_object(path.read_bytes(), str(path)) if npy else safe_load_pickle(path)
            if not isinstance(data, dict):
                raise DataFormatError(f"{path}: expected a dict of arrays, found {type(data).__name__}; accepted .pkl layouts: "
                                      f"{expected_layouts('.pkl')}")
            return data
        if suffix == ".csv":
            return np.loadtxt(path, delimiter=",", ndmin=2)
        check_array_file(path, str(path))  # sizes, zip bombs, forged .npy shapes: refused before numpy allocates
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            if "schema_version" in z.files:
                return {"schema_version": z["schema_version"]}  # read in full by load_motion
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raw = path.read_bytes() if "allow_pickle" in str(exc) and suffix == ".npy" else b""
        if raw[:6] == b"\x93NUMPY":
            obj = safe_load_npy_object(raw, str(path))  # Bailando's np.save'd dict; anything else refused
            if isinstance(obj, dict) and "pred_position" in obj:
                return obj
            raise DataFormatError(f"{path}: an np.save'd {type(obj).__name__}; the only pickled layout read is Bailando's "
                                  "{'pred_position': (T, 72)}; save the arrays themselves") from None
        if "allow_pickle" in str(exc) and suffix == ".npz":
            raise DataFormatError(f"{path}: holds pickled Python objects (e.g. a dict saved with np.save), which are never "
                                  "loaded; save the arrays themselves") from None
        raise DataFormatError(f"{path}: not a plain numeric array ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(f"{path}: unreadable ({exc})") from None


def _width(value: Any) -> int | None:
    """Joints held by an axis-angle array of shape (T, 3J) or (T, J, 3); None otherwise."""
    shape = np.shape(value)
    if len(shape) == 2 and shape[1] % 3 == 0:
        return shape[1] // 3
    if len(shape) == 3 and shape[2] == 3:
        return shape[1]
    return None


def _detect(path: Path, content: Any) -> MotionFormat:
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        if "pred_position" in content:
            return "bailando"
        if "full_pose" in content and "smpl_poses" in content:
            return "edge"
        joints = _width(content.get("smpl_poses"))
        if "smpl_trans" in content and joints in (22, 52):
            return "finedance-pkl"
        if "smpl_trans" in content and joints == 24:
            return "aistpp"
        keys = {str(k): np.shape(v) for k, v in content.items()}
        raise DataFormatError(f"{path}: unknown motion layout (found {keys}); expected one of: {expected_layouts('.pkl')}")
    if suffix == ".npy":
        if isinstance(content, dict):
            return "bailando"
        width = content.shape[1] if content.ndim == 2 else None
        if width in lay.FINEDANCE_WIDTHS:
            return "finedance"
        return "fact" if width == lay.FACT_WIDTH else "joints"
    if suffix == ".npz":
        if "schema_version" in content:
            return "macedance"
        return "smplx" if "poses" in content or "global_orient" in content else "joints"
    return "joints"


def detect_format(path: str | Path) -> MotionFormat:
    """The format of a motion file, from its suffix and its keys or array shape (see the module table)."""
    path = Path(path)
    return _detect(path, _load(path))


# ----- reading -----------------------------------------------------------------------------------------------------
def _stored_fps(path: Path, content: dict[str, Any]) -> float | None:
    for key in _FPS_KEYS:
        if key in content:
            try:
                value = float(np.asarray(content[key]).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                raise ValidationError(key, "a frame rate (one number)", repr(content[key])[:80], source=path) from None
            if not np.isfinite(value) or value <= 0:
                raise ValidationError(key, "a frame rate > 0", repr(value), source=path)
            return value
    return None


def plain_joints(path: str | Path, content: Any = None) -> np.ndarray:
    """(T, J, 3) float64 values of a plain joint (or keypoint) array file: ``.npy``, ``.csv`` or ``.npz`` (key
    ``joints``, ``positions``, ``pred_position``, ``full_pose``, ``keypoints`` or a single array), T×J×3 or T×3J."""
    path = Path(path)
    content = _load(path) if content is None else content
    if isinstance(content, dict):
        keys = [k for k in JOINT_KEYS if k in content] or (list(content) if len(content) == 1 else [])
        if not keys:
            raise DataFormatError(f"{path}: unknown motion layout (keys {sorted(content)}); expected one of: {expected_layouts('.npz')}")
        content = content[keys[0]]
    a = np.asarray(content)
    if a.ndim == 2 and a.shape[1] % 3 == 0 and a.shape[1] > 0:
        a = a.reshape(a.shape[0], -1, 3)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] == 0:
        raise ValidationError("joint array", "shape (T, J, 3) or (T, 3J) with T ≥ 1", f"shape {np.shape(content)}", source=path)
    if not np.issubdtype(a.dtype, np.number):
        raise ValidationError("joint array", "numbers", f"dtype {a.dtype}", source=path)
    return a.astype(np.float64)


def _joints(path: Path, content: Any, fps: float | None, up_axis: str | None) -> MotionFile:
    joints = plain_joints(path, content)
    if fps is None or up_axis is None:
        raise ValidationError("fps/up_axis", "both given for plain joint arrays (they carry neither)",
                              f"fps={fps}, up_axis={up_axis}", source=path)
    return MotionFile(path, "joints", float(fps), up_axis, joints=joints)


def read_motion_file(
    path: str | Path,
    *,
    motion_format: str = "auto",
    fps: float | None = None,
    up_axis: str | None = None,
    skeleton: RestSkeleton | None = None,
) -> MotionFile:
    """Read one motion file in any format of :data:`FORMATS`.

    Args:
        path: the file.
        motion_format: ``"auto"`` (detect) or a name of :data:`MOTION_FORMATS` (read as that layout).
        fps, up_axis: for files that store none: override the format's documented values; required for
            plain joint arrays.
        skeleton: rest skeleton whose pelvis rest position converts EDGE's pelvis position ``smpl_trans``
            into SMPL ``transl`` (default: built-in).

    Raises:
        DataFormatError: unreadable, or an unknown layout (the message lists the accepted ones).
        ValidationError: an array of the wrong shape (names the key, expected vs found); ``fps/up_axis``
            missing for plain joint arrays.
    """
    path = Path(path)
    fmt, content = _open(path, motion_format, up_axis)
    return _read(path, fmt, content, fps, up_axis, skeleton)


def _open(path: Path, motion_format: str, up_axis: str | None) -> tuple[MotionFormat, Any]:
    """The file's format (detected or forced) and content, after the argument checks."""
    choice("motion_format", motion_format, FORMAT_CHOICES)
    if up_axis is not None:
        choice("up_axis", up_axis, ("y", "z"))
    if not path.is_file():
        raise InputNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if motion_format != "auto" and suffix not in FORMATS[motion_format].suffixes:  # type: ignore[index]
        raise DataFormatError(f"{path}: format {motion_format} reads {'/'.join(FORMATS[motion_format].suffixes)} files, "  # type: ignore[index]
                              f"not {suffix or 'files without a suffix'}")
    content = _load(path)
    return (motion_format if motion_format != "auto" else _detect(path, content)), content  # type: ignore[return-value]


def _read(path: Path, fmt: MotionFormat, content: Any, fps: float | None, up_axis: str | None,
          skeleton: RestSkeleton | None) -> MotionFile:
    from macedance.schema.joints import Joints3D
    from macedance.schema.npz import load_generated

    if fmt == "macedance":
        g = load_generated(path)
        if isinstance(g, Joints3D):
            return MotionFile(path, fmt, g.fps, g.up_axis, joints=g.positions)
        return MotionFile(path, fmt, g.fps, g.up_axis, motion=g)
    if fmt == "joints":
        return _joints(path, content, fps, up_axis)
    if fmt == "bailando":
        if not isinstance(content, dict) or "pred_position" not in content:
            raise DataFormatError(f"{path}: expected Bailando's np.save'd {{'pred_position': (T, 72)}}")
        return MotionFile(path, fmt, fps or lay.AISTPP_FPS, up_axis or "y", joints=plain_joints(path, {"pred_position": content["pred_position"]}))
    if fmt == "smplx":
        rate = _stored_fps(path, content) or fps
        if rate is None:
            raise ValidationError("fps", "a frame rate for SMPL-X .npz files that store none (mocap_frame_rate, fps)", "none",
                                  source=path)
        up = up_axis or ("z" if "poses" in content else "y")  # AMASS is z-up; SMPL-X's own frame is y-up
        m = lay.smplx_npz_motion(content, source=path, fps=rate, up_axis=up)
    else:
        spec = FORMATS[fmt]
        rate, up = fps or spec.fps, up_axis or spec.up_axis
        assert rate is not None and up is not None
        m = _read_native(fmt, path, content, rate, up, skeleton)
    m = m.replace(meta={**m.meta, "source_format": fmt, "source_file": path.name})
    return MotionFile(path, fmt, m.fps, m.up_axis, motion=m)


def _read_native(fmt: MotionFormat, path: Path, content: Any, fps: float, up_axis: str, skeleton: RestSkeleton | None) -> Motion:
    if fmt == "edge":
        return lay.edge_motion(content, source=path, skeleton=skeleton, fps=fps, up_axis=up_axis)
    if fmt == "finedance":
        return lay.finedance_motion(content, source=path, fps=fps, up_axis=up_axis)
    if fmt == "finedance-pkl":
        return lay.finedance_pkl_motion(content, source=path, fps=fps, up_axis=up_axis)
    if fmt == "aistpp":
        return lay.aistpp_motion(content, source=path, fps=fps, up_axis=up_axis)
    return lay.fact_motion(content, source=path, fps=fps, up_axis=up_axis)


def read_motion(path: str | Path, *, motion_format: str = "auto", fps: float | None = None, up_axis: str | None = None) -> Motion:
    """:func:`read_motion_file` for callers that need rotations: plain joint arrays are refused."""
    path = Path(path)
    fmt, content = _open(path, motion_format, up_axis)
    if fmt in ("joints", "bailando"):
        raise DataFormatError(f"{path}: holds joint positions only; a motion with rotations is needed here (accepted: "
                              f"{', '.join(f for f in MOTION_FORMATS if f not in ('joints', 'bailando'))})")
    f = _read(path, fmt, content, fps, up_axis, None)
    if f.motion is None:
        raise DataFormatError(f"{path}: a macedance joints3d file (joint positions only); a motion with rotations is needed here")
    return f.motion


# ----- output folders ----------------------------------------------------------------------------------------------
def find_clip_file(folder: str | Path, clip_id: str) -> Path:
    """The output file of clip ``clip_id`` in ``folder``: ``<clip_id>.npz|.pkl|.npy|.csv|.pkl.npy`` (Bailando), else EDGE's long-mode
    name ``<label>_<clip_id>.pkl`` (``test_<song>.pkl`` from EDGE's ``test.py``; the label has no underscore).

    Raises:
        InputNotFoundError: no such file.
        MaceDanceError: several files match (the message names them).
    """
    folder = Path(folder)
    found = [folder / f"{clip_id}{s}" for s in (*MOTION_FILE_SUFFIXES, ".pkl.npy") if (folder / f"{clip_id}{s}").is_file()]
    if not found:
        tail = f"_{clip_id}.pkl"
        found = sorted(p for p in folder.iterdir() if p.name.endswith(tail) and p.is_file()
                       and len(p.name) > len(tail) and "_" not in p.name[: -len(tail)])
    if len(found) > 1:
        raise MaceDanceError(f"{folder}: several outputs for clip {clip_id} ({', '.join(p.name for p in found)}); keep one")
    if not found:
        raise InputNotFoundError(f"{folder / clip_id}: no output for clip {clip_id} (looked for {clip_id}"
                                 f"{'|'.join((*MOTION_FILE_SUFFIXES, '.pkl.npy'))} and EDGE's <label>_{clip_id}.pkl)")
    return found[0]
