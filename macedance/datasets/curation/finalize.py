"""The end of a run: the manifest, ``clips.jsonl``, the splits and the card, from every finished source's
outcome (those of this run and those resumed), in the order of the sources."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from macedance.datasets.curation.card import write_card
from macedance.datasets.curation.dedupe import Duplicates, find_duplicates, mark_duplicates, source_rank
from macedance.datasets.curation.dedupe import card_section as dedupe_card
from macedance.datasets.curation.kind import DatasetKind
from macedance.datasets.curation.manifest import write_manifest
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.datasets.curation.provenance import SourceTable
from macedance.datasets.curation.provenance import card_section as provenance_card
from macedance.datasets.curation.runner import BuildReport
from macedance.datasets.curation.splits import assign_splits
from macedance.datasets.curation.state import Source
from macedance.fileio import atomic_write, remove_stale_temps
from macedance.schema import Clip

log = logging.getLogger(__name__)

# every field of a Clip record, in its order (the audio, reference and video paths are None for outcomes resumed from
# state files written before the record had them; Clip.file then finds them by the layout)
CLIP_KEYS = tuple(f.name for f in dataclasses.fields(Clip))


def finalize(out: Path, name: str, *, sources: list[Source], done: dict[str, SourceOutcome], params: Any, report: BuildReport,
             command: str | None, kind: DatasetKind, fixed_splits: dict[str, str] | None = None, source_table: SourceTable | None = None,
             dedupe: str | None = None) -> None:
    """Write the manifest, ``clips.jsonl``, the splits and the card titled ``name``; fill ``report``'s counts.

    ``fixed_splits`` (source sha256 → split) replaces the assignment seeded by ``params.seed`` and
    ``params.split_fractions`` (``data render`` keeps the official splits of imported datasets). ``source_table``
    (``data build --sources``; an empty table without one) gives every row and clip of a source its provenance
    columns, and the card its licences. ``dedupe`` (``drop`` or ``keep``; None: no de-duplication) finds the
    near-duplicate clips across sources (:mod:`~macedance.datasets.curation.dedupe`): sources linked by duplicates
    share a split, and ``drop`` rejects the duplicates — their files move to ``.build/duplicates`` (whence a later run
    that keeps them takes them back).
    """
    stale = sum(remove_stale_temps(out / d) for d in kind.dirs if (out / d).is_dir())
    if stale:
        log.info("removed %d temporary files left by killed workers", stale)
    outcomes = [done[rel] for _, rel, _ in sources if rel in done]
    kept_shas = [o.sha256 for o in outcomes if o.clips]
    dups = Duplicates()
    if dedupe is not None:
        with_prints = [o for o in outcomes if o.fingerprints]
        dups = find_duplicates([o.fingerprints for o in with_prints], [o.sha256 for o in with_prints],
                               [source_rank(o.fingerprints, o.video_id) for o in with_prints])
    split_of = fixed_splits if fixed_splits is not None else assign_splits(kept_shas, params.seed, params.split_fractions,
                                                                            groups=dups.source_groups)
    rows, clips = [], []
    for o in outcomes:
        info = source_table.of(o.source) if source_table is not None else {}
        for r in o.rows:
            rows.append(dataclasses.replace(r, split=split_of.get(o.sha256) if r.kept else None, **info))
        for c in o.clips:
            clips.append({**c, "split": split_of[o.sha256], **({"provenance": {**(c.get("provenance") or {}), **info}} if info else {})})
    rows, clips, dropped = mark_duplicates(rows, clips, dups, drop=dedupe == "drop")
    _set_aside(out, keep=[f for r in rows if r.kept for f in r.files()], drop=dropped)
    write_manifest(out / "manifest.parquet", rows)
    with atomic_write(out / "clips.jsonl", "w") as f:
        for c in clips:
            f.write(json.dumps({k: c.get(k) for k in CLIP_KEYS}) + "\n")
    for split in ("train", "val", "test"):
        with atomic_write(out / "splits" / f"{split}.txt", "w") as f:
            f.write("".join(c["id"] + "\n" for c in clips if c["split"] == split))
    report.candidates = len(rows)
    report.clips = len(clips)
    report.hours = sum(c["end"] - c["start"] for c in clips) / 3600.0
    report.rejected = dict(Counter(r.code for r in rows if not r.kept))
    report.splits = dict(Counter(c["split"] for c in clips))
    report.duplicates = len(dups.of)
    sections = [*(provenance_card(source_table, clips) if source_table is not None else []),
                *(dedupe_card(dups, rows, drop=dedupe == "drop") if dedupe is not None else [])]
    write_card(out / "README.md", rows, clips, params=params, command=command or " ".join(sys.argv), name=name, kind=kind, sections=sections)


DUPLICATES = ".build/duplicates"  # where the files of dropped duplicates wait, relative to the dataset folder


def _set_aside(out: Path, *, keep: list[str], drop: list[str]) -> None:
    """Move the files of dropped duplicates (relative paths) to :data:`DUPLICATES`, and back the files of kept clips
    that an earlier run had set aside (a changed folder or ``--dedupe keep``); stale copies of kept files go."""
    aside = out / DUPLICATES
    for rel in keep:
        parked = aside / rel
        if parked.is_file():
            if (out / rel).is_file():
                parked.unlink()
            else:
                parked.replace(out / rel)
    for rel in drop:
        if (out / rel).is_file():
            (aside / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).replace(aside / rel)
    if aside.is_dir():
        for d in sorted((p for p in aside.rglob("*") if p.is_dir()), reverse=True) + [aside]:
            if not any(d.iterdir()):
                d.rmdir()
