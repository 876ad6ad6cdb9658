"""Group result records into leaderboard tables (pure functions of the records).

Records of different task versions or metric presets are never mixed in one table (each group gets
its own table); a missing or undefined score stays missing — never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from macedance.benchmark.records import load_record
from macedance.errors import MaceDanceError
from macedance.metrics.spec import METRICS, known_metric, metric_spec


@dataclass
class Board:
    """One table: a task at one version and one preset; rows are methods."""

    task: str
    version: int
    preset: str
    preset_hash: str
    main_score: str
    metrics: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"method", "version", "scores", "source", ...}
    # the ground truth's own values (``<metric>_gt`` scores, or a score's ``details.gt_value``): an unranked reference
    # row, as the papers' tables have; None when no record has them or records disagree (see ``reference_note``)
    reference: dict[str, Any] | None = None
    reference_note: str = ""

    @property
    def title(self) -> str:
        return f"{self.task} v{self.version} ({self.preset} {self.preset_hash[:8]})"

    def sorted_rows(self) -> list[dict[str, Any]]:
        better = metric_spec(self.main_score).higher_is_better if known_metric(self.main_score) else False

        def key(r: dict[str, Any]) -> tuple[int, float]:
            v = r["scores"].get(self.main_score, {}).get("value")
            if v is None:
                return (1, 0.0)
            return (0, -v if better else v)

        return sorted(self.rows, key=key)


def load_records(paths: list[Path]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Records from files and folders (``*.json``, recursive); invalid files are reported, not used."""
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.json")) if p.is_dir() else [p]
    records, bad = [], []
    for f in files:
        try:
            r = load_record(f)
            r["_source"] = str(f)
            records.append(r)
        except MaceDanceError as exc:
            bad.append((str(f), str(exc)))
    return records, bad


GROUND_TRUTH = "ground truth"


def method_card(record: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to know about a row's method, from its record: description, paper, licences, parameter
    count, weights (file → sha256), whether it starts from the ground truth (``motion-seed``), and the run's time per
    clip on its hardware (generation and scoring together)."""
    m, prov = record.get("method") or {}, record.get("provenance") or {}
    clips = (record.get("dataset") or {}).get("clips")
    seconds = prov.get("wall_seconds")
    card = {k: m[k] for k in ("description", "paper", "licence") if m.get(k)}
    if isinstance((m.get("config") or {}).get("parameters"), int):
        card["parameters"] = m["config"]["parameters"]
    if m.get("weights"):
        card["weights"] = dict(m["weights"])
    if "motion-seed" in (m.get("capabilities") or ()):  # starts from the ground truth (Bailando's codes, FACT's 2 s)
        card["seeded"] = "seeded with each clip's ground-truth motion, as its official evaluation"
    if isinstance(seconds, (int, float)) and isinstance(clips, int) and clips > 0:
        card["seconds_per_clip"] = round(float(seconds) / clips, 3)
        card["hardware"] = str(prov.get("hardware", ""))
    return card


def _samples(record: dict[str, Any]) -> list[dict[str, str]]:
    """The record's sample videos that exist ({"clip", "path"}): ``.mp4`` files inside the record's folder (a record's
    ``samples`` paths are relative to it; a path leading out of it is ignored)."""
    source = record.get("_source")
    if not source or not isinstance(record.get("samples"), list):
        return []
    root, out = Path(source).parent.resolve(), []
    for s in record["samples"]:
        if isinstance(s, dict) and isinstance(s.get("file"), str) and isinstance(s.get("clip"), str):
            path = (root / s["file"]).resolve()
            if path.is_relative_to(root) and path.is_file() and path.suffix.lower() == ".mp4":
                out.append({"clip": s["clip"], "path": str(path)})
    return out


def _ground_truth(record: dict[str, Any]) -> dict[str, float]:
    """The ground truth's values a record carries: its ``ground_truth_scores`` (``bench run``), ``<metric>_gt``
    scores (``eval motion``) and ``details.gt_value`` of a score (video metrics)."""
    out: dict[str, float] = {m: float(s["value"]) for m, s in (record.get("ground_truth_scores") or {}).items()
                             if known_metric(m) and isinstance(s, dict) and s.get("value") is not None}
    for k, s in record["scores"].items():
        if k.endswith("_gt") and known_metric(k.removesuffix("_gt")) and (s or {}).get("value") is not None:
            out[k.removesuffix("_gt")] = float(s["value"])
        elif not k.endswith("_gt") and isinstance((s or {}).get("details"), dict) and s["details"].get("gt_value") is not None:
            out[k] = float(s["details"]["gt_value"])
    return out


def _reference(board: Board, values: list[dict[str, float]]) -> None:
    """Set the board's reference row when its records agree on the ground truth's values (1e-9 relative: the same
    test set scored by the same preset gives the same numbers)."""
    values = [v for v in values if v]
    if not values:
        return
    merged: dict[str, float] = {}
    for v in values:
        for m, x in v.items():
            if m in merged and not math.isclose(merged[m], x, rel_tol=1e-9, abs_tol=1e-12):
                board.reference_note = (f"no ground-truth row: records disagree on the ground truth's {m} "
                                        f"({merged[m]:.6g} vs {x:.6g}; different test sets?)")
                return
            merged[m] = x
    board.reference = {"method": GROUND_TRUTH, "scores": {m: {"value": x} for m, x in merged.items()}}


def build_boards(records: list[dict[str, Any]], merge_presets: bool = False) -> list[Board]:
    """One board per (task, task version, preset hash) — or per (task, version) with ``merge_presets``. The ground
    truth's values (``ground_truth_scores``, ``<metric>_gt``) become an unranked reference row, not columns."""
    truths: dict[tuple[str, ...], list[dict[str, float]]] = {}
    boards: dict[tuple[str, ...], Board] = {}
    for r in records:
        t = r["task"]
        key = (t["name"], str(t["version"])) + (() if merge_presets else (t["preset_hash"],))
        board = boards.get(key)
        if board is None:
            board = boards[key] = Board(t["name"], t["version"], t["preset"], t["preset_hash"], t["main_score"], [])
        truths.setdefault(key, []).append(_ground_truth(r))
        for m in r["scores"]:
            if m not in board.metrics and not (m.endswith("_gt") and known_metric(m.removesuffix("_gt"))):
                board.metrics.append(m)
        row = {"method": r["method"]["name"], "version": r["method"].get("version", ""), "scores": r["scores"],
               "source": r.get("_source", ""), "created": r.get("provenance", {}).get("created", ""), "card": method_card(r)}
        samples = _samples(r)
        if samples:
            row["samples"] = samples
        note = (r["method"].get("config") or {}).get("note")
        if note:  # e.g. which weights a released method's row used
            row["note"] = str(note)
        board.rows.append(row)
    order = list(METRICS)
    for key, b in boards.items():
        b.metrics.sort(key=lambda m: order.index(m) if m in order else len(order))
        _reference(b, truths[key])
    return sorted(boards.values(), key=lambda b: (b.task, b.version, b.preset))


def fmt_value(v: float | None, digits: int = 4) -> str:
    """``digits`` significant digits; — for missing."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.{max(digits - 2, 1)}e}"
