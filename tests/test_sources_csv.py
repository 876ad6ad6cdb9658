"""``data build --sources``: reading and checking the provenance CSV (macedance.datasets.curation.provenance), and the
card's section on sources and licences."""

from __future__ import annotations

from pathlib import Path

import pytest

from macedance.datasets.curation.provenance import SOURCE_COLUMNS, SourceTable, card_section, read_sources_csv
from macedance.errors import DataFormatError, InputNotFoundError, ValidationError

RELS = ["jazz/a.mp4", "jazz/c.mp4", "popping/c.mp4", "reupload/b.mp4", "top.mp4"]


def _csv(tmp_path: Path, text: str | bytes, name: str = "sources.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_columns_aliases_paths_and_bare_names(tmp_path: Path) -> None:
    """Header names in any case, ``license`` for ``licence``, extra and missing columns, a BOM, blank lines, paths with
    ``./`` or backslashes and unique bare names."""
    p = _csv(tmp_path, "\ufeffVIDEO,License,Notes,URL,creator\r\n"
                       "./jazz/a.mp4,CC-BY-4.0,ours,https://example.org/a,Ann\r\n"
                       "\r\n"
                       "b.mp4,,,,\r\n"
                       "popping\\c.mp4,CC0-1.0,,http://x.org/c?id=3,\r\n")
    table = read_sources_csv(p, RELS)
    assert table.path == str(p) and len(table.sha256 or "") == 64
    assert table.of("jazz/a.mp4") == {"source_url": "https://example.org/a", "creator": "Ann", "licence": "CC-BY-4.0", "consent": None}
    assert table.of("reupload/b.mp4") == dict.fromkeys(SOURCE_COLUMNS)  # a row of empty cells: all null
    assert table.of("popping/c.mp4")["licence"] == "CC0-1.0"
    assert table.of("top.mp4") == dict.fromkeys(SOURCE_COLUMNS)  # no row: null
    assert set(table.sources) == {"jazz/a.mp4", "reupload/b.mp4", "popping/c.mp4"}
    assert SourceTable().of("x") == dict.fromkeys(SOURCE_COLUMNS)


@pytest.mark.parametrize(("text", "match"), [
    ("video,licence\njazz/a.mp4,MIT\nnope.mp4,MIT\n", r"sources.csv: line 3, column video: expected a file of the raw folder.*found 'nope.mp4', which is not a file"),
    ("video,licence\njazz/a.mp4,MIT\na.mp4,CC0\n", r"line 3, column video: expected one row per video, found 'jazz/a.mp4' again \(first on line 2\)"),
    ("video,licence\nc.mp4,MIT\n", r"line 2, column video: .*'c.mp4', the name of 2 files \(jazz/c.mp4, popping/c.mp4\): give the path"),
    ("video,url\ntop.mp4,www.example.org/v\n", r"line 2, column url: expected an absolute URL such as https://…, found 'www.example.org/v'"),
    ("file,licence\ntop.mp4,MIT\n", r"header \(line 1\): expected a 'video' column .*found the columns 'file', 'licence'"),
    ("video,licence,License\ntop.mp4,MIT,MIT\n", r"header \(line 1\): expected each column once .*'licence' 2 times"),
    ("video,licence\ntop.mp4,MIT,extra\n", r"line 2: expected at most 2 cells \(the header's\), found 3"),
    ("video,licence\n,MIT\n", r"line 2, column video: expected a video file, found an empty cell"),
    ("\n\n", r"header: expected a header row with a 'video' column.*found an empty file"),
])
def test_bad_csv_names_the_file_line_and_column(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        read_sources_csv(_csv(tmp_path, text), RELS)


def test_unreadable_csv(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="missing.csv: sources CSV not found"):
        read_sources_csv(tmp_path / "missing.csv", RELS)
    with pytest.raises(InputNotFoundError, match="cannot be read"):
        read_sources_csv(tmp_path, RELS)  # a folder
    with pytest.raises(DataFormatError, match="not UTF-8 text"):
        read_sources_csv(_csv(tmp_path, b"video,licence\ntop.mp4,\xe9t\xe9\n"), RELS)
    with pytest.raises(DataFormatError, match=r"line 2: not valid CSV"):
        read_sources_csv(_csv(tmp_path, 'video,licence\n"top.mp4"x,MIT\n'), RELS)  # a quote in the middle of a cell


def test_card_section_counts_licences_and_lists_clips_without_one(tmp_path: Path) -> None:
    table = read_sources_csv(_csv(tmp_path, "video,licence\njazz/a.mp4,CC-BY-4.0\ntop.mp4,CC-BY-4.0\n"), RELS)
    clips = [{"id": f"a_c{k}", "source_video": "jazz/a.mp4", "start": 0.0, "end": 2.0} for k in range(2)]
    clips += [{"id": "t_c0", "source_video": "top.mp4", "start": 0.0, "end": 3.0},
              {"id": "b_c1", "source_video": "reupload/b.mp4", "start": 0.0, "end": 2.5},
              {"id": "b_c0", "source_video": "reupload/b.mp4", "start": 0.0, "end": 2.5}]
    text = "\n".join(card_section(table, clips))
    assert "## Sources and licences" in text and f"sha256 `{table.sha256}`" in text
    assert "| CC-BY-4.0 | 2 | 3 | 0.002 h (7.0 s) |" in text and "| none | 1 | 2 | 0.001 h (5.0 s) |" in text
    assert "(2 clips of 1 source videos)" in text and "- `reupload/b.mp4`: `b_c1`, `b_c0`" in text
    text = "\n".join(card_section(SourceTable(), clips[:2]))
    assert "No sources CSV was given" in text and "- `jazz/a.mp4`: `a_c0`, `a_c1`" in text
