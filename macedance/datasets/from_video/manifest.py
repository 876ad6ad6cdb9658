"""``manifest.parquet``: one row per candidate (source video, shot or clip), kept or rejected.

Columns (None where a stage did not run): ``candidate_id``, ``video_id``, ``source_video`` (path
relative to RAW_DIR), ``source_sha256``, ``genre``, ``status`` (``kept``/``rejected``), ``stage``
(``ingest``, ``music``, ``shots``, ``static``, ``people``, ``person``, ``fit`` or ``kept``),
``code`` (a short rejection code: ``unreadable``, ``zero-length``, ``no-video-stream``,
``unsupported``, ``undecodable``, ``too-short``, ``no-audio``, ``short-shot``, ``static``,
``multi-person``, ``no-person``, ``no-beats``, ``fit-error``; ``kept`` for kept clips), ``reason``
(the full message with its numbers), ``shot``, ``start_frame``/``end_frame`` (source frames, end exclusive),
``start_s``/``end_s``/``duration_s``, ``src_fps``, ``width``, ``height``, ``moving`` (fraction of
changed pixels per frame), ``multi_person_frac``, ``missing_frac``, ``n_beats``, ``tempo`` (BPM),
``reproj_px``, ``reproj_rel``, ``landmark_mm``, ``split``, and for kept clips the relative paths
``motion_path``, ``keypoints_path``, ``music_path``, ``audio_path``, ``reference_path``,
``video_path``, ``preview_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macedance.fileio import atomic_write

_SCHEMA = (
    ("candidate_id", "string"), ("video_id", "string"), ("source_video", "string"), ("source_sha256", "string"),
    ("genre", "string"), ("status", "string"), ("stage", "string"), ("code", "string"), ("reason", "string"), ("shot", "int64"),
    ("start_frame", "int64"), ("end_frame", "int64"), ("start_s", "float64"), ("end_s", "float64"), ("duration_s", "float64"),
    ("src_fps", "float64"), ("width", "int64"), ("height", "int64"), ("moving", "float64"), ("multi_person_frac", "float64"),
    ("missing_frac", "float64"), ("n_beats", "int64"), ("tempo", "float64"), ("reproj_px", "float64"), ("reproj_rel", "float64"),
    ("landmark_mm", "float64"), ("split", "string"), ("motion_path", "string"), ("keypoints_path", "string"),
    ("music_path", "string"), ("audio_path", "string"), ("reference_path", "string"), ("video_path", "string"),
    ("preview_path", "string"),
)
COLUMNS = tuple(name for name, _ in _SCHEMA)


def write_manifest(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write the rows (missing keys → null) as Parquet with a fixed schema, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _SCHEMA])
    table = pa.Table.from_pylist([{k: r.get(k) for k in COLUMNS} for r in rows], schema=schema)
    with atomic_write(path) as f:
        pq.write_table(table, f)
    return Path(path)


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The manifest's rows as dicts."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
