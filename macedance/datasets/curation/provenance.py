"""Where each source video comes from and under which terms: ``data build --sources sources.csv``.

The CSV has one row per source video and a header; column names are matched case-insensitively, ``license`` is
accepted for ``licence``, other columns are ignored, and every column but ``video`` may be missing:

* ``video`` — the file as the builder sees it: its path relative to the raw-video folder (the manifest's
  ``source_video``), or its bare file name when exactly one file of the folder has it;
* ``url`` — where it was obtained (an absolute URL, ``https://…``);
* ``creator`` — who made it; ``licence`` — its licence (an SPDX id such as ``CC-BY-4.0``, or any text);
* ``consent`` — a free-text note (the dancer's consent, a permission e-mail, …).

Empty cells are null. Every row must name a file of the folder, once. The values go into every manifest row of the
source (``source_url``, ``creator``, ``licence``, ``consent``) and the ``provenance`` of its clips in
``clips.jsonl``; sources without a row (or builds without the CSV) have them null. They are applied when the
dataset is finalised, not stored in the resume state: a resumed build with an edited CSV takes the new values
without processing any video again.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from macedance.errors import DataFormatError, InputNotFoundError, ValidationError

SOURCE_COLUMNS = ("source_url", "creator", "licence", "consent")  # the manifest columns and provenance keys
_HEADER = {"video": "video", "url": "source_url", "creator": "creator", "licence": "licence", "license": "licence", "consent": "consent"}


@dataclass(frozen=True)
class SourceTable:
    """The sources CSV as read: its path and sha256 (None without one) and the values of each source (by path
    relative to the raw folder; every key of :data:`SOURCE_COLUMNS`, None for an empty cell)."""

    path: str | None = None
    sha256: str | None = None
    sources: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def of(self, rel: str) -> dict[str, str | None]:
        """The provenance columns of the source at ``rel`` (all None when it has no row)."""
        return self.sources.get(rel) or dict.fromkeys(SOURCE_COLUMNS)


def _resolve(value: str, rels: list[str], by_name: dict[str, list[str]]) -> tuple[str | None, str]:
    """The source a ``video`` cell names and, when none, why."""
    text = value.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if text in rels:
        return text, ""
    named = by_name.get(text, [])
    if len(named) == 1 and "/" not in text:
        return named[0], ""
    if len(named) > 1:
        return None, f"{value!r}, the name of {len(named)} files ({', '.join(named[:4])}{', …' if len(named) > 4 else ''}): give the path"
    return None, f"{value!r}, which is not a file of the raw folder"


def read_sources_csv(path: str | Path, rels: list[str]) -> SourceTable:
    """Read and check the sources CSV against the files of the raw folder (``rels``: paths relative to it).

    Raises:
        InputNotFoundError: no such file.
        DataFormatError: not UTF-8 text, or not CSV.
        ValidationError: naming the file, line and column: no ``video`` column, a column given twice, a row with more
            cells than the header, an empty ``video``, a video that is not in the folder (or a name shared by several
            files), a second row for one video, a ``url`` that is not an absolute URL.
    """
    import hashlib

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: sources CSV not found") from None
    except OSError as exc:
        raise InputNotFoundError(f"{path}: sources CSV cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: the sources CSV is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise ValidationError("header", "a header row with a 'video' column (and url, creator, licence, consent)", "an empty file", source=path)
        names = [h.strip().lower() for h in header]
        cols = [_HEADER.get(n) for n in names]
        twice = [c for c, k in Counter(c for c in cols if c).items() if k > 1]
        if twice:
            raise ValidationError(f"header (line {reader.line_num})", "each column once (licence and license are one column)",
                                  f"{twice[0]!r} {Counter(cols)[twice[0]]} times", source=path)
        if "video" not in cols:
            raise ValidationError(f"header (line {reader.line_num})", "a 'video' column (and url, creator, licence, consent)",
                                  f"the columns {', '.join(repr(h) for h in header)}", source=path)
        by_name: dict[str, list[str]] = {}
        for rel in rels:
            by_name.setdefault(PurePosixPath(rel).name, []).append(rel)
        out: dict[str, dict[str, str | None]] = {}
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) > len(header):
                raise ValidationError(f"line {line}", f"at most {len(header)} cells (the header's)", f"{len(row)}", source=path)
            cells = {c: (row[k].strip() if k < len(row) else "") for k, c in enumerate(cols) if c}
            if not cells["video"]:
                raise ValidationError(f"line {line}, column video", "a video file", "an empty cell", source=path)
            rel, why = _resolve(cells["video"], rels, by_name)
            if rel is None:
                raise ValidationError(f"line {line}, column video", "a file of the raw folder: its path relative to it (as the manifest's "
                                      "source_video) or a file name found once", why, source=path)
            if rel in first_line:
                raise ValidationError(f"line {line}, column video", "one row per video", f"{rel!r} again (first on line {first_line[rel]})",
                                      source=path)
            url = cells.get("source_url") or ""
            if url and not (urlparse(url).scheme and urlparse(url).netloc):
                raise ValidationError(f"line {line}, column url", "an absolute URL such as https://…", repr(url), source=path)
            first_line[rel] = line
            out[rel] = {c: (cells.get(c) or None) for c in SOURCE_COLUMNS}
    except csv.Error as exc:
        raise DataFormatError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    return SourceTable(str(path), hashlib.sha256(data).hexdigest(), out)


def card_section(table: SourceTable, clips: list[dict[str, Any]]) -> list[str]:
    """The card's "Sources and licences" lines: kept clips per licence, and the clips whose source has none."""
    from macedance.datasets.curation.card import hours

    lic: dict[str | None, list[dict[str, Any]]] = {}
    for c in clips:
        lic.setdefault(table.of(c["source_video"])["licence"], []).append(c)
    if table.path is None:
        head = "No sources CSV was given (`macedance data build --sources`): no source video has a recorded licence."
    else:
        head = (f"From `{Path(table.path).name}` (sha256 `{table.sha256}`), {len(table.sources)} source video(s) described. Every "
                "manifest row has its source's `source_url`, `creator`, `licence` and `consent`; every clip of `clips.jsonl` too, in "
                "its `provenance`.")
    lines = ["", "## Sources and licences", "", head, "", "| licence | source videos | clips | duration |", "|---|---|---|---|"]
    for name in sorted(lic, key=lambda k: (k is None, k or "")):
        cs = lic[name]
        lines.append(f"| {(name or 'none').replace('|', '/')} | {len({c['source_video'] for c in cs})} | {len(cs)} | "
                     f"{hours(sum(c['end'] - c['start'] for c in cs))} |")
    if not clips:
        lines.append("| – | 0 | 0 | |")
    missing = lic.get(None, [])
    if missing:
        by_source: dict[str, list[str]] = {}
        for c in missing:
            by_source.setdefault(c["source_video"], []).append(c["id"])
        lines += ["", f"Clips whose source has no licence ({len(missing)} clips of {len(by_source)} source videos):", ""]
        lines += [f"- `{src}`: " + ", ".join(f"`{cid}`" for cid in ids) for src, ids in sorted(by_source.items())]
    else:
        lines += ["", "Every clip's source has a licence."]
    return lines
