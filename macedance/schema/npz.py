"""The on-disk format of motions and keypoints: ``.npz`` with a ``schema_version`` key.

Layout (all plain numeric or unicode arrays; read with ``allow_pickle=False``):

* motion: ``schema_version`` (int), ``kind`` = "motion", ``poses`` (T,24,3) float64 axis-angle,
  ``trans`` (T,3) float64 metres, ``fps`` float, ``up_axis`` "y"|"z", optional ``betas`` (B,),
  ``meta_json`` (a JSON object of strings).
* joints3d: ``schema_version``, ``kind`` = "joints3d", ``positions`` (T,J,3) float64 metres, ``fps``, ``up_axis``,
  ``meta_json`` (a motion given as joint positions only, e.g. Bailando's output).
* keypoints2d: ``schema_version``, ``kind`` = "keypoints2d", ``data`` (T,K,3), ``skeleton``,
  ``image_size`` (2,) int (width, height), ``fps``, ``meta_json``.

A file with a newer ``schema_version`` than this package knows is refused with a clear error. The readers also take
the file's bytes (a member of an exported WebDataset shard) with ``name`` for their messages.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError, InputNotFoundError, SchemaVersionError, ValidationError
from macedance.fileio import atomic_write
from macedance.limits import check_array_file, loads_json
from macedance.schema.joints import Joints3D
from macedance.schema.keypoints import Keypoints2D
from macedance.schema.motion import Motion

SCHEMA_VERSION = 1


def write_npz(path: str | Path, kind: str, arrays: dict[str, Any], *, meta: dict[str, str]) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        raise ValidationError("output path", "a file name ending in .npz", str(path))
    payload = {"schema_version": np.int64(SCHEMA_VERSION), "kind": np.str_(kind), **arrays,
               "meta_json": np.str_(json.dumps(meta, sort_keys=True))}
    with atomic_write(path) as f:
        np.savez(f, **payload)
    return path


def _source(path: str | Path | bytes, name: str | None) -> Path:
    """The path that messages name: ``path``, or ``name`` (else ``<bytes>``) for bytes."""
    return Path(name or "<bytes>") if isinstance(path, bytes) else Path(path)


def read_npz(path: str | Path | bytes, kind: str, *, name: str | None = None, kind_only: bool = False) -> dict[str, np.ndarray]:
    """All arrays of a macedance ``.npz`` of the given kind (a file, or its bytes named ``name``), checked for
    version and kind (``kind_only``: just ``schema_version`` and ``kind``, whatever the kind)."""
    where = _source(path, name)
    if not isinstance(path, bytes) and not where.is_file():
        raise InputNotFoundError(f"{where}: file not found")
    path = where if not isinstance(path, bytes) else path
    check_array_file(path, str(where))  # sizes, zip bombs, forged .npy shapes: refused before numpy allocates
    try:
        with np.load(io.BytesIO(path) if isinstance(path, bytes) else path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files if not kind_only or k in ("schema_version", "kind")}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataFormatError(f"{where}: not a readable .npz file ({exc})") from None
    except ValueError as exc:  # object arrays need pickle: refused
        raise DataFormatError(f"{where}: contains pickled objects, which are never loaded ({exc})") from None
    if "schema_version" not in data:
        raise DataFormatError(f"{where}: not a macedance file (no 'schema_version' key; keys: {sorted(data)})")
    version = int(data["schema_version"])
    if version > SCHEMA_VERSION or version < 1:
        raise SchemaVersionError(
            f"{where}: schema_version {version} is not supported by this macedance (knows 1..{SCHEMA_VERSION}); "
            "upgrade macedance"
        )
    found = str(data.get("kind", ""))
    if found != kind and not kind_only:
        raise DataFormatError(f"{where}: expected a {kind} file, found kind {found!r}")
    return data


def _meta(path: Path, data: dict[str, np.ndarray]) -> dict[str, str]:
    meta = loads_json(str(data.get("meta_json", "{}")).encode(), f"{path}: meta_json")  # strict, bounded nesting
    if not isinstance(meta, dict):
        raise DataFormatError(f"{path}: meta_json must be a JSON object")
    return meta


def _need(path: Path, data: dict[str, np.ndarray], *keys: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise DataFormatError(f"{path}: missing field(s) {missing}")


def save_motion(motion: Motion, path: str | Path) -> Path:
    arrays: dict[str, Any] = {"poses": motion.poses, "trans": motion.trans, "fps": np.float64(motion.fps),
                              "up_axis": np.str_(motion.up_axis)}
    if motion.betas is not None:
        arrays["betas"] = motion.betas
    return write_npz(path, "motion", arrays, meta=motion.meta)


def load_motion(path: str | Path | bytes, *, name: str | None = None) -> Motion:
    data = read_npz(path, "motion", name=name)
    path = _source(path, name)
    _need(path, data, "poses", "trans", "fps", "up_axis")
    try:
        return Motion(data["poses"], data["trans"], float(data["fps"]), str(data["up_axis"]),
                      data.get("betas"), _meta(path, data))
    except ValidationError as exc:
        raise exc.with_source(path) from None


def save_joints(joints: Joints3D, path: str | Path) -> Path:
    arrays = {"positions": joints.positions, "fps": np.float64(joints.fps), "up_axis": np.str_(joints.up_axis)}
    return write_npz(path, "joints3d", arrays, meta=joints.meta)


def load_joints(path: str | Path | bytes, *, name: str | None = None) -> Joints3D:
    data = read_npz(path, "joints3d", name=name)
    path = _source(path, name)
    _need(path, data, "positions", "fps", "up_axis")
    try:
        return Joints3D(data["positions"], float(data["fps"]), str(data["up_axis"]), _meta(path, data))
    except ValidationError as exc:
        raise exc.with_source(path) from None


def npz_kind(path: str | Path) -> str:
    """The ``kind`` of a macedance ``.npz`` (``motion``, ``joints3d``, ``keypoints2d``…), read without its arrays."""
    return str(read_npz(path, "", name=None, kind_only=True)["kind"])


def load_generated(path: str | Path) -> Motion | Joints3D:
    """A generated motion file: a :class:`Motion` or, for methods that output joint positions, :class:`Joints3D`."""
    return load_joints(path) if npz_kind(path) == "joints3d" else load_motion(path)


def save_keypoints(kp: Keypoints2D, path: str | Path) -> Path:
    arrays = {"data": kp.data, "skeleton": np.str_(kp.skeleton), "image_size": np.asarray(kp.image_size, np.int64),
              "fps": np.float64(kp.fps)}
    return write_npz(path, "keypoints2d", arrays, meta=kp.meta)


def load_keypoints(path: str | Path | bytes, *, name: str | None = None) -> Keypoints2D:
    data = read_npz(path, "keypoints2d", name=name)
    path = _source(path, name)
    _need(path, data, "data", "skeleton", "image_size", "fps")
    try:
        size = tuple(int(v) for v in np.asarray(data["image_size"]).reshape(-1))
        return Keypoints2D(data["data"], str(data["skeleton"]), size, float(data["fps"]), _meta(path, data))  # type: ignore[arg-type]
    except ValidationError as exc:
        raise exc.with_source(path) from None
