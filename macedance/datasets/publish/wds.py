"""The WebDataset export: size-bounded tar shards per split (``train-000000.tar`` …), one sample per clip.

A sample's files (WebDataset groups them by the key before the first dot): ``<key>.json`` (the clip's scalar
record, with its real ``id``), ``<key>.motion.npz``, ``<key>.keypoints.npz``, ``<key>.music.npz`` (the dataset's
own files, byte for byte: ``macedance.schema.load_motion`` and friends read them), ``<key>.wav``, ``<key>.mp4``,
``<key>.jpg`` (the reference frame) and ``<key>.preview.mp4``, each when the clip has it. The key is the clip id
with dots replaced by ``_`` (a dot would end WebDataset's key); ``shards.json`` lists every shard with its
split, sample count and sha256. Tar members carry mtime 0, so the same dataset gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from macedance.errors import DataFormatError
from macedance.fileio import sha256_file, write_json
from macedance.schema import SPLITS

SHARDS = "shards.json"
ARRAY_MEMBERS = {"motion": "motion.npz", "keypoints": "keypoints.npz", "music": "music.npz"}
MEDIA_MEMBERS = {"audio": "wav", "video": "mp4", "reference": "jpg", "preview": "preview.mp4"}


def sample_key(clip_id: str, taken: set[str]) -> str:
    """A WebDataset key for ``clip_id``, unique among ``taken`` (which it joins)."""
    key = base = clip_id.replace(".", "_")
    n = 1
    while key in taken:
        key, n = f"{base}~{n}", n + 1
    taken.add(key)
    return key


def write_shards(out: Path, splits: dict[str, Iterable[dict[str, Any]]], *, shard_bytes: int) -> list[Path]:
    """Write each split's samples (records with ``files``: member name → bytes) as shards of at most
    ``shard_bytes`` (a sample larger than that gets a shard of its own); the shard paths."""
    import webdataset as wds

    taken: set[str] = set()
    for split, rows in splits.items():
        writer = None
        try:
            for row in rows:
                if writer is None:
                    writer = wds.ShardWriter(str(out / f"{split}-%06d.tar"), maxsize=shard_bytes, verbose=0, encoder=False, mtime=0.0)
                files = row.pop("files")
                sample = {"__key__": sample_key(row["id"], taken), "json": json.dumps(row, sort_keys=True, default=_plain).encode()}
                writer.write({**sample, **files})
        finally:
            if writer is not None:
                writer.close()
    shards = sorted(out.glob("*-[0-9][0-9][0-9][0-9][0-9][0-9].tar"))
    listing = []
    for p in shards:
        listing.append({"file": p.name, "split": p.name.rsplit("-", 1)[0], "samples": _count(p), "sha256": sha256_file(p)})
    if not shards:
        raise DataFormatError(f"{out}: nothing to export (no clip passed the filters)")
    write_json(out / SHARDS, {"format": "webdataset", "shards": listing})
    return shards


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON: {type(v).__name__}")


def _count(shard: Path) -> int:
    import tarfile

    with tarfile.open(shard) as tar:
        return sum(1 for m in tar.getmembers() if m.name.endswith(".json"))


def read_shards(path: Path) -> Iterator[dict[str, Any]]:
    """The samples of an export made by :func:`write_shards`, streamed with ``webdataset``, split by split (``train``,
    ``val``, ``test``) in shard order: the record with the arrays of :func:`macedance.datasets.publish.source.clip_arrays` and the media bytes."""
    import webdataset as wds

    from macedance.datasets.publish.source import file_arrays

    listing = json.loads((path / SHARDS).read_text())["shards"]
    order = {s: i for i, s in enumerate(SPLITS)}
    urls = [str(path / s["file"]) for s in sorted(listing, key=lambda s: (order.get(s["split"], len(order)), s["file"]))]
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        rec = json.loads(sample["json"])
        for name, member in ARRAY_MEMBERS.items():
            if member in sample:
                rec.update(file_arrays(name, sample[member], name=f"{sample['__url__']}:{sample['__key__']}.{member}"))
        for name, member in MEDIA_MEMBERS.items():
            rec[name] = {"bytes": sample[member], "path": f"{rec['id']}.{member}"} if member in sample else None
        yield rec
