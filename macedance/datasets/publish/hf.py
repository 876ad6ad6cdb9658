"""The Hugging Face ``datasets`` export: a ``DatasetDict`` (one split per ``train``/``val``/``test``) saved with
``save_to_disk``, read back by ``datasets.load_from_disk``.

Typed features, one row per clip: the clip's scalar record (``id``, ``split``, ``genre``, ``source_video``,
``start``, ``end``, ``provenance`` and every scalar manifest column), the motion (``motion_poses``
``Array3D((None, 24, 3))``, ``motion_trans`` ``Array2D((None, 3))``, …), the 2D keypoints
(``Array3D((None, K, 3))``), the music features (``Array2D((None, D))``), beats and tempo, all in the
dtypes of the dataset's ``.npz`` files; and the media as ``Audio``/``Video``/``Image`` features holding the
files' bytes and names (``decode=False``: nothing is decoded on load, so no codec package is needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance.datasets.curation.outcome import manifest_schema
from macedance.datasets.publish.source import PATH_COLUMNS
from macedance.errors import DataFormatError

HF_MARKER = "dataset_dict.json"
_SCALAR = {"string": "string", "int64": "int64", "float64": "float64"}
_CLIP_COLUMNS = {"id": "string", "split": "string", "genre": "string", "source_video": "string", "start": "float64", "end": "float64",
                 "provenance": "string"}
# array keys of source.clip_arrays → (rank, the fixed trailing shape's source)
_ARRAYS = {"motion_poses": 3, "motion_trans": 2, "keypoints": 3, "music_features": 2}
_LISTS = {"motion_betas": "float64", "music_beats": "float64", "music_beat_frames": "int64"}
_META = {"motion_fps": "float64", "motion_up_axis": "string", "keypoints_skeleton": "string", "keypoints_fps": "float64",
         "keypoints_width": "int64", "keypoints_height": "int64", "music_tempo": "float64", "music_fps": "float64"}
MEDIA_FEATURES = {"audio": "Audio", "video": "Video", "reference": "Image", "preview": "Video"}


def scalar_columns() -> dict[str, str]:
    """Name → ``datasets`` value type of every scalar column (clip fields, then the manifest's)."""
    cols = dict(_CLIP_COLUMNS)
    for name, kind in manifest_schema():
        if name not in PATH_COLUMNS and name != "candidate_id" and name not in cols:
            cols[name] = _SCALAR[kind]
    return cols


def _features(samples: list[dict[str, Any]], *, storage: bool) -> Any:
    """The ``datasets.Features`` of these samples: array shapes and dtypes from the first clip that has each array
    (every clip must agree). ``storage``: media as plain ``{bytes, path}`` structs (what the rows are written as,
    since ``datasets`` wants a codec package to *encode* audio), else the typed media features."""
    import datasets as hf

    feats: dict[str, Any] = {k: hf.Value(v) for k, v in scalar_columns().items()}
    for key, rank in _ARRAYS.items():
        first = next((s[key] for s in samples if s.get(key) is not None), None)
        if first is None:
            continue
        for s in samples:
            a = s.get(key)
            if a is not None and (a.shape[1:] != first.shape[1:] or a.dtype != first.dtype):
                raise DataFormatError(f"clip {s['id']}: {key} is {a.dtype} {a.shape}; the export's first clip has "
                                      f"{first.dtype} (T, {', '.join(map(str, first.shape[1:]))}); one dataset has one layout")
        array = hf.Array3D if rank == 3 else hf.Array2D
        feats[key] = array(shape=(None, *first.shape[1:]), dtype=str(first.dtype))
    feats.update({k: hf.List(hf.Value(v)) for k, v in _LISTS.items()})
    feats.update({k: hf.Value(v) for k, v in _META.items()})
    media = {"bytes": hf.Value("binary"), "path": hf.Value("string")}
    for name, kind in MEDIA_FEATURES.items():
        feats[name] = media if storage else getattr(hf, kind)(decode=False)
    return hf.Features(feats)


def write_hf(out: Path, splits: dict[str, Iterable[dict[str, Any]]], *, max_shard_size: str = "500MB") -> list[Path]:
    """Save ``splits`` (split name → samples: records with arrays and ``{name: {bytes, path}}`` media, as
    :func:`macedance.datasets.publish.export.samples` yields them) as a ``DatasetDict`` under ``out``; the files written.

    Every split is held in memory while it is written (Arrow buffers); exports larger than memory go through
    ``--format webdataset``, which streams.
    """
    import datasets as hf

    hf.disable_progress_bars()
    parts = {}
    for split, rows in splits.items():
        rows = list(rows)
        if not rows:
            continue
        columns = _features(rows, storage=True)
        table = {k: [_value(r.get(k)) for r in rows] for k in columns}
        parts[split] = hf.Dataset.from_dict(table, features=columns).cast(_features(rows, storage=False))
    if not parts:
        raise DataFormatError(f"{out}: nothing to export (no clip passed the filters)")
    hf.DatasetDict(parts).save_to_disk(str(out), max_shard_size=max_shard_size)
    return sorted(p for p in out.rglob("*") if p.is_file())


def _value(v: Any) -> Any:
    return v.tolist() if isinstance(v, np.ndarray) and v.ndim == 1 else v


def read_hf(path: Path) -> Iterator[dict[str, Any]]:
    """The samples of an export made by :func:`write_hf`, split by split (``train``, ``val``, ``test``), arrays as numpy
    in their stored dtypes (``with_format("numpy")`` would give float64 arrays as float32)."""
    import datasets as hf

    dd = hf.load_from_disk(str(path))
    for split in ("train", "val", "test"):
        if split not in dd:
            continue
        feats = dd[split].features
        dtypes = {k: f.dtype for k, f in feats.items() if isinstance(f, (hf.Array2D, hf.Array3D))}
        dtypes.update({k: f.feature.dtype for k, f in feats.items() if isinstance(f, hf.List) and isinstance(f.feature, hf.Value)})
        for row in dd[split]:
            yield {k: (np.asarray(v, dtype=dtypes[k]) if k in dtypes and v is not None else v) for k, v in row.items()}
