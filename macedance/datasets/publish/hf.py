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

import uuid
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
# the array keys of source.clip_arrays
_ARRAYS = {"motion_poses": 3, "motion_trans": 2, "keypoints": 3, "music_features": 2}  # key → rank
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


Layout = dict[str, tuple[tuple[int, ...], str]]  # array key → (trailing shape, dtype name)


def array_layout(samples: Iterable[dict[str, Any]]) -> Layout:
    """The trailing shape and dtype of each array key, from the first sample that has it (:data:`_ARRAYS`)."""
    layout: Layout = {}
    for s in samples:
        for key in _ARRAYS:
            if key not in layout and s.get(key) is not None:
                layout[key] = (tuple(s[key].shape[1:]), str(s[key].dtype))
    return layout


def _check_layout(sample: dict[str, Any], layout: Layout) -> None:
    for key, (tail, dtype) in layout.items():
        a = sample.get(key)
        if a is not None and (tuple(a.shape[1:]) != tail or str(a.dtype) != dtype):
            raise DataFormatError(f"clip {sample['id']}: {key} is {a.dtype} {a.shape}; the dataset's other clips have {dtype} "
                                  f"(T, {', '.join(map(str, tail))}); one export has one layout")


def _features(layout: Layout, *, storage: bool) -> Any:
    """The ``datasets.Features`` of an export with this array layout. ``storage``: media as plain ``{bytes, path}``
    structs (what the rows are written as, since ``datasets`` wants a codec package to *encode* audio), else the
    typed media features."""
    import datasets as hf

    feats: dict[str, Any] = {k: hf.Value(v) for k, v in scalar_columns().items()}
    for key, (tail, dtype) in layout.items():
        feats[key] = (hf.Array3D if _ARRAYS[key] == 3 else hf.Array2D)(shape=(None, *tail), dtype=dtype)
    feats.update({k: hf.List(hf.Value(v)) for k, v in _LISTS.items()})
    feats.update({k: hf.Value(v) for k, v in _META.items()})
    media = {"bytes": hf.Value("binary"), "path": hf.Value("string")}
    for name, kind in MEDIA_FEATURES.items():
        feats[name] = media if storage else getattr(hf, kind)(decode=False)
    return hf.Features(feats)


def write_hf(out: Path, splits: dict[str, Iterable[dict[str, Any]]], *, layout: Layout, work: Path,
             max_shard_size: str = "500MB") -> list[Path]:
    """Save ``splits`` (split name → samples: records with arrays and ``{name: {bytes, path}}`` media, as
    :func:`macedance.datasets.publish.export.samples` yields them; arrays in ``layout``) as a ``DatasetDict`` under
    ``out``; the files written.

    Streams: ``datasets`` writes each split's samples to Arrow files in ``work`` as they come (memory stays
    bounded), casts the media columns to their typed features and saves the result under ``out``.

    Raises:
        DataFormatError: a sample whose arrays do not match ``layout`` (names the clip).
    """
    import datasets as hf

    hf.disable_progress_bars()
    storage = _features(layout, storage=True)

    def rows(samples: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for s in samples:
            _check_layout(s, layout)
            yield {k: _value(s.get(k)) for k in storage}

    parts = {}
    for split, samples in splits.items():
        ds = hf.Dataset.from_generator(rows, features=storage, gen_kwargs={"samples": samples}, cache_dir=str(work / "hf-cache"),
                                       fingerprint=f"macedance-export-{split}-{uuid.uuid4().hex}")  # a generator is not hashable
        parts[split] = ds.cast(_features(layout, storage=False))
    if not parts:
        raise DataFormatError(f"{out}: nothing to export (no clip passed the filters)")
    hf.DatasetDict(parts).save_to_disk(str(out), max_shard_size=max_shard_size)
    return [out / HF_MARKER, *sorted(p for split in parts for p in (out / split).iterdir() if p.is_file())]


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
