"""Resume state of an output folder (``OUT/.build``): the parameters of the run (``params.json``) and one
JSON file per finished source (``videos/<sha256 of its relative path>.json``, its :class:`SourceOutcome`),
written atomically after all the source's clip files."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from macedance.datasets.curation.kind import DatasetKind
from macedance.datasets.curation.outcome import SourceOutcome
from macedance.errors import ValidationError
from macedance.fileio import write_json

log = logging.getLogger(__name__)

Source = tuple[Path, str, Any]  # (path, path relative to the input folder, extra: the genre of the first sub-folder)


def state_path(out: Path, rel: str) -> Path:
    """The state file of the source at ``rel``."""
    return out / ".build" / "videos" / (hashlib.sha256(rel.encode()).hexdigest()[:24] + ".json")


def check_state(out: Path, params: Any, *, resume: bool, overwrite: bool, kind: DatasetKind) -> None:
    """Resume rules of an output folder: ``overwrite`` deletes ``kind.dirs`` and ``kind.files``; an
    existing run is refused unless ``resume``, and resumed only with the same ``params.hash``; then the
    parameters are recorded in ``.build/params.json``. Called under the folder's lock (:mod:`macedance.folder_lock`)."""
    state = out / ".build" / "params.json"
    if overwrite:
        for d in kind.dirs:
            shutil.rmtree(out / d, ignore_errors=True)
        for f in kind.files:
            (out / f).unlink(missing_ok=True)
    elif state.is_file():
        if not resume:
            raise ValidationError(f"{out}", "an empty or new output folder", "an existing build (finish it with `resume`, start again with `overwrite`)")
        old = json.loads(state.read_text())
        if old.get("hash") != params.hash:
            changed = sorted(k for k, v in params.to_dict().items() if old.get("params", {}).get(k) != v)
            raise ValidationError(f"{out}", "the options of the build being resumed", f"different options {changed} (use them again, or `overwrite`)")
    write_json(state, {"hash": params.hash, "build_version": kind.version, "params": params.to_dict()})


def pending_sources(out: Path, sources: list[Source]) -> tuple[dict[str, SourceOutcome], list[Source]]:
    """The finished sources' recorded outcomes (by relative path) and the sources still to process."""
    done: dict[str, SourceOutcome] = {}
    todo = []
    for path, rel, extra in sources:
        st = state_path(out, rel)
        if st.is_file():
            try:
                done[rel] = SourceOutcome.from_dict(json.loads(st.read_text()))
                continue
            except (OSError, ValueError, TypeError, KeyError):
                log.warning("%s: unreadable resume state; processing %s again", st, rel)
        todo.append((path, rel, extra))
    return done, todo


def record_finished(out: Path, rel: str, outcome: SourceOutcome) -> None:
    """Mark a source finished (its state file, written atomically after all its clip files)."""
    write_json(state_path(out, rel), outcome.to_dict())
