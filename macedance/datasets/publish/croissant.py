"""The machine-readable record of an export: Croissant 1.0 JSON-LD (MLCommons), written and validated with
``mlcroissant``.

The record lists every exported file with its sha256 (the Arrow files or the tar shards, ``clips.parquet``,
the card) and describes one record set, ``clips``: one record per clip with its id, split, genre, licence,
duration and every scalar manifest column, read from ``clips.parquet``. ``mlcroissant`` validates the
JSON-LD and reads the records back before the export is called done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from macedance.errors import DataFormatError
from macedance.fileio import atomic_write, sha256_file

log = logging.getLogger(__name__)
CROISSANT = "croissant.json"
CLIPS_TABLE = "clips.parquet"
# Arrow types of clips.parquet → Croissant data types
_TYPES = {"string": "TEXT", "large_string": "TEXT", "double": "FLOAT64", "float": "FLOAT32", "int64": "INT64", "int32": "INT32",
          "bool": "BOOL"}
# encoding formats of the files an export lists, by suffix
_FORMATS = {".parquet": "application/x-parquet", ".arrow": "application/vnd.apache.arrow.stream", ".tar": "application/x-tar",
            ".md": "text/markdown", ".json": "application/json"}


def write_croissant(out: Path, *, name: str, description: str, licences: list[str], files: list[Path], version: str,
                    published: dt.date, url: str | None = None) -> Path:
    """Write ``out/croissant.json`` describing ``files`` (paths under ``out``) and the ``clips`` record set of
    ``out/clips.parquet``; validate it with ``mlcroissant`` and read its records back.

    Raises:
        DataFormatError: ``mlcroissant`` reports an error or the records do not read back (its report).
    """
    import mlcroissant as mlc
    import pyarrow.parquet as pq

    dist: list[Any] = []
    for f in files:
        rel = f.relative_to(out).as_posix()
        dist.append(mlc.FileObject(id=rel, name=rel, content_url=rel, encoding_formats=[_FORMATS.get(f.suffix, "application/octet-stream")],
                                   sha256=sha256_file(f), content_size=f"{f.stat().st_size} B"))
    schema = pq.read_schema(out / CLIPS_TABLE)
    fields = [mlc.Field(id=f"clips/{col.name}", name=col.name, data_types=[getattr(mlc.DataType, _TYPES.get(str(col.type), "TEXT"))],
                        source=mlc.Source(file_object=CLIPS_TABLE, extract=mlc.Extract(column=col.name)))
              for col in schema]
    meta = mlc.Metadata(name=name, description=description, url=url, version=version, license=licences or ["unknown"],
                        cite_as=f"{name} (macedance dataset export {version})",
                        date_published=dt.datetime(published.year, published.month, published.day),
                        distribution=dist, record_sets=[mlc.RecordSet(id="clips", name="clips", key="clips/id", fields=fields)])
    with atomic_write(out / CROISSANT, "w") as f:
        json.dump(meta.to_json(), f, indent=2, default=str)
    validate_croissant(out / CROISSANT)
    return out / CROISSANT


def validate_croissant(path: Path) -> int:
    """Validate a Croissant file with ``mlcroissant``; the number of ``clips`` records it reads.

    Raises:
        DataFormatError: errors in the record (``mlcroissant``'s report) or records that cannot be read.
    """
    import mlcroissant as mlc

    try:
        with warnings.catch_warnings():  # rdflib's and pandas' deprecation notes inside mlcroissant
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            ds = mlc.Dataset(jsonld=path)
            errors = ds.metadata.issues.errors
            if errors:
                raise DataFormatError(f"{path}: invalid Croissant record: {'; '.join(sorted(errors))}")
            return sum(1 for _ in ds.records("clips"))
    except (mlc.ValidationError, mlc.GenerationError) as exc:
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise DataFormatError(f"{path}: invalid Croissant record: {exc}{cause}") from None
