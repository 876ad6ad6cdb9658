"""``manifest.parquet``: one row per candidate (source video or motion, shot or clip), kept or rejected.

Columns (None where a stage did not run): ``candidate_id``, ``video_id``, ``source_video`` (path
relative to RAW_DIR, or to the motion folder), ``source_sha256``, ``genre``, ``status`` (``kept``/``rejected``), ``stage``
(``ingest``, ``music``, ``shots``, ``static``, ``people``, ``person``, ``fit``, ``physics``, ``dedupe`` or ``kept``),
``code`` (a short rejection code: ``unreadable``, ``zero-length``, ``no-video-stream``,
``unsupported``, ``undecodable``, ``too-short``, ``no-audio``, ``short-shot``, ``static``,
``multi-person``, ``no-person``, ``no-beats``, ``fit-error``, ``implausible``, ``no-music``, ``duplicate``; ``kept`` for
kept clips), ``reason``
(the full message with its numbers), ``shot``, ``start_frame``/``end_frame`` (source frames, end exclusive),
``start_s``/``end_s``/``duration_s``, ``src_fps``, ``width``, ``height``, ``moving`` (fraction of
changed pixels per frame), ``multi_person_frac``, ``missing_frac``, ``n_beats``, ``tempo`` (BPM),
``reproj_px``, ``reproj_rel``, ``landmark_mm``, the physical-plausibility diagnostics of the fitted
motion (``phys_skate_ms``, ``phys_float_cm``, ``phys_penetration_cm``, ``phys_contact_frac``,
``phys_root_jitter_mm``, ``phys_depth_drift_ms``, ``phys_floor_tilt_deg``: see
:class:`macedance.motion.plausibility.Diagnostics`), ``split``, and for kept clips the relative paths
``motion_path``, ``keypoints_path``, ``music_path``, ``audio_path``, ``reference_path``,
``video_path``, ``preview_path``; the source's provenance from ``data build --sources`` (on every row of the source,
null without one: :mod:`~macedance.datasets.curation.provenance`): ``source_url``, ``creator``, ``licence``,
``consent``; near-duplicates across sources (:mod:`~macedance.datasets.curation.dedupe`): ``dup_group`` (the id of
the group's first clip, on every clip of a group of duplicates; null for a clip without one) and ``dup_of`` (on a
duplicate: the kept clip it duplicates; with ``--dedupe drop`` the duplicate is a rejected row, stage ``dedupe``, code
``duplicate``). ``data render`` leaves the video-only columns (``moving``, ``multi_person_frac``, ``missing_frac``, fit
errors, ``preview_path``, provenance, duplicates) null. The columns and their types are the fields of
:class:`~macedance.datasets.curation.outcome.ManifestRow`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from macedance.datasets.curation.outcome import ManifestRow, manifest_schema
from macedance.fileio import atomic_write


def write_manifest(path: str | Path, rows: list[ManifestRow]) -> Path:
    """Write the rows as Parquet with the :class:`ManifestRow` schema (None → null), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in manifest_schema()])
    table = pa.Table.from_pylist([r.to_dict() for r in rows], schema=schema)
    with atomic_write(path) as f:
        pq.write_table(table, f)
    return Path(path)


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The manifest's rows as dicts."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
