"""Versioned benchmark result records: schema, migration of older records, validation.

Schema 2 (current), one JSON object per (task, method) run::

    {"schema_version": 2, "kind": "macedance-result",
     "task": {"name", "version", "hash", "preset", "preset_hash", "main_score", "split"[, "kind", "metrics"]},
     "method": {"name", "version", "description", "paper", "licence", "capabilities", "weights", "config"},
     "scores": {metric: {"value": float|null, "ci95": [lo, hi]|null, "n": int, "undefined_reason": str|null}},
     "dataset": {"path", "manifest_sha256", "clips", "skipped"[, "extra_outputs"]},
     ["evaluation": {"policy", "fps", "canvas", "encoding", "warnings"}]  (video tasks)
     "provenance": {"macedance_version", "git_commit", "created", "wall_seconds", "seeds", "hardware", "python",
                    "numpy", "torch", "bootstrap"}}

Schema 1 is the record written by ``macedance eval motion --json`` (``kind: motion-evaluation``);
:func:`migrate` upgrades it (the method is then ``"unknown"``). Records are plain JSON: nothing in
a submission is executed or unpickled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from macedance.errors import DataFormatError, ValidationError
from macedance.limits import MAX_RECORD_BYTES, load_json
from macedance.metrics.score import Score
from macedance.metrics.spec import known_metric, metric_spec

SCHEMA_VERSION = 2
#: Keys of a score in a record, in order.
RECORD_KEYS = ("value", "ci95", "n", "undefined_reason")


def record_score(score: Mapping[str, Any], ci95: list[float] | None = None) -> dict[str, Any]:
    """A score of an evaluation result (:meth:`~macedance.metrics.score.Score.to_dict`) as a record holds it,
    with its bootstrap 95 % interval ``ci95`` (low, high) or ``None``."""
    s = Score.from_dict(score)
    s.ci95 = None if ci95 is None else (ci95[0], ci95[1])
    return s.to_dict(RECORD_KEYS)


def migrate(record: dict[str, Any]) -> dict[str, Any]:
    """Upgrade any known older record to the current schema (pure function)."""
    version = record.get("schema_version")
    if version == SCHEMA_VERSION and record.get("kind") == "macedance-result":
        return record
    if version == 1 and record.get("kind") == "motion-evaluation":
        try:
            return _migrate_v1(record)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:  # a field of the wrong type
            raise DataFormatError(f"not a valid schema-1 record ({type(exc).__name__}: {str(exc)[:120]})") from None
    raise DataFormatError(f"unknown result record (schema_version {version!r}, kind {record.get('kind')!r})")


def _migrate_v1(record: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 record (``eval motion --json``) as schema 2 (its fields may have any type: callers catch)."""
    preset = record.get("preset", {})
    scores = {k: record_score(v) for k, v in record.get("scores", {}).items() if not k.endswith("_gt")}
    inputs = record.get("inputs", {})
    return {
        "schema_version": SCHEMA_VERSION, "kind": "macedance-result", "migrated_from": 1,
        "task": {"name": f"custom:{preset.get('name', 'unknown')}", "version": 0, "hash": "", "split": "",
                 "preset": preset.get("name", "unknown"), "preset_hash": preset.get("hash", ""),
                 "main_score": "fid_k"},
        "method": {"name": "unknown", "version": "", "description": f"eval motion on {inputs.get('pred', '?')}",
                   "paper": "", "licence": "", "capabilities": ["music2motion"], "weights": {}, "config": {}},
        "scores": scores,
        "dataset": {"path": inputs.get("gt", ""), "manifest_sha256": "", "clips": inputs.get("evaluated", {}).get("gt", 0)},
        "provenance": {"macedance_version": record.get("macedance_version", ""), "git_commit": "",
                       "created": record.get("created", ""), "wall_seconds": record.get("seconds", 0.0),
                       "seeds": [], "hardware": record.get("environment", {}).get("platform", ""),
                       "python": record.get("environment", {}).get("python", ""),
                       "numpy": record.get("environment", {}).get("numpy", ""), "torch": "", "bootstrap": 0},
    }


def load_record(path: str | Path) -> dict[str, Any]:
    """Read, migrate and validate one record (JSON only). The file is read strictly
    (:func:`macedance.limits.load_json`): a regular file of at most ``MAX_RECORD_BYTES``, UTF-8, nested at most
    ``MAX_JSON_DEPTH`` levels, no duplicate keys, no NaN/Infinity, no number that overflows 64 bits."""
    path = Path(path)
    raw = load_json(path, what="result record", max_bytes=MAX_RECORD_BYTES)
    if not isinstance(raw, dict):
        raise DataFormatError(f"{path}: a result record is a JSON object, found {type(raw).__name__}")
    try:
        record = migrate(raw)
        validate(record)
    except ValidationError as exc:
        raise exc.with_source(path) from None
    except DataFormatError as exc:
        raise DataFormatError(f"{path}: {exc}") from None
    return record


def _need(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ValidationError(f"{where}.{key}", "present", "missing")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool) and kind in (int, float, (int, float)):
        raise ValidationError(f"{where}.{key}", getattr(kind, "__name__", str(kind)), f"{type(v).__name__} {v!r}"[:80])
    return v


def _optional(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``d[key]`` when present and not null, checked to be a ``kind`` (the leaderboard reads these fields)."""
    return _need(d, key, kind, where) if d.get(key) is not None else None


def _check_score(where: str, metric: str, s: Any) -> None:
    if not isinstance(s, dict) or "value" not in s:
        raise ValidationError(where, "an object with 'value'", repr(s)[:80])
    for key, kind in (("n", int), ("undefined_reason", str), ("details", dict)):
        _optional(s, key, kind, where)
    gt = (s.get("details") or {}).get("gt_value")
    if gt is not None and (isinstance(gt, bool) or not isinstance(gt, (int, float)) or not math.isfinite(gt)):
        raise ValidationError(f"{where}.details.gt_value", "a finite number or null", repr(gt)[:80])
    v = s["value"]
    if v is None:
        if not s.get("undefined_reason"):
            raise ValidationError(where, "a number, or null with an undefined_reason", "null without a reason")
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValidationError(where, "a finite number", repr(v)[:80])
    lo, hi = metric_spec(metric).bounds if known_metric(metric) else (-1e-3, math.inf)  # other metrics: ≥ 0 (round-off)
    if not lo <= v <= hi:
        raise ValidationError(where, f"a value in [{lo}, {hi}]", repr(v))
    ci = s.get("ci95")
    if ci is not None:
        if (not isinstance(ci, list) or len(ci) != 2 or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                                                 and math.isfinite(c) for c in ci) or not ci[0] <= ci[1]):
            raise ValidationError(f"{where}.ci95", "[low, high] finite numbers with low ≤ high", repr(ci)[:80])


def validate(record: dict[str, Any], check_task: bool = True) -> None:
    """Schema, value ranges, NaN/Inf, confidence intervals, the types of the optional fields the leaderboard reads,
    and task/preset compatibility.

    A record of the current task version must use the task's preset (same hash); older versions are
    accepted (they are shown in their own table); newer versions are refused.
    """
    _need(record, "schema_version", int, "record")
    task = _need(record, "task", dict, "record")
    for key, kind in (("name", str), ("version", int), ("preset", str), ("preset_hash", str), ("main_score", str)):
        _need(task, key, kind, "task")
    method = _need(record, "method", dict, "record")
    _need(method, "name", str, "method")
    for key, kind in (("version", str), ("description", str), ("paper", str), ("licence", str), ("config", dict),
                      ("weights", dict)):
        _optional(method, key, kind, "method")
    if any(not isinstance(v, str) for v in (method.get("weights") or {}).values()):
        raise ValidationError("method.weights", "file → sha256 strings", repr(method["weights"])[:80])
    for key, kind in (("provenance", dict), ("dataset", dict), ("ground_truth_scores", dict), ("samples", list)):
        _optional(record, key, kind, "record")
    for key, kind in (("created", str), ("hardware", str), ("wall_seconds", (int, float))):
        _optional(record.get("provenance") or {}, key, kind, "provenance")
    _optional(record.get("dataset") or {}, "clips", int, "dataset")
    scores = _need(record, "scores", dict, "record")
    if not scores:
        raise ValidationError("scores", "at least one metric", "none")
    for metric, s in scores.items():
        _check_score(f"scores.{metric}", metric, s)
    for metric, s in (record.get("ground_truth_scores") or {}).items():
        _check_score(f"ground_truth_scores.{metric}", metric, s)
    if check_task and record.get("kind") == "macedance-result" and not task["name"].startswith("custom:"):
        from macedance.benchmark.tasks import TASKS

        known = TASKS.get(task["name"])
        if known is None:
            raise ValidationError("task.name", "a known task (" + ", ".join(TASKS) + ")", repr(task["name"]))
        if task["version"] > known.version:
            raise ValidationError("task.version", f"at most {known.version} (upgrade macedance to read newer tasks)",
                                  str(task["version"]))
        if task["version"] < known.version:
            return  # an older version of the task: shown in its own table, its preset cannot be checked here
        if task["preset"] != known.preset or task["preset_hash"] != known.preset_hash:
            raise ValidationError("task.preset", f"{known.preset} with hash {known.preset_hash}",
                                  f"{task['preset']} with hash {task['preset_hash']}")
        extra = sorted(set(scores) - set(known.scores))
        if extra:
            raise ValidationError("scores", f"only the task's scores {list(known.scores)}", f"also {extra}")
