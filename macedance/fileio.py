"""Atomic writes and content hashes: the one place every writer in macedance goes through."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A crash or exception leaves ``path`` untouched (the old version or nothing) and no temp file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temps(folder: str | Path) -> int:
    """Delete the temporary files that :func:`atomic_write` left in ``folder`` (recursively) when its
    process was killed mid-write; returns how many. Call only when no writer is active there."""
    n = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        if tmp.is_file():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                n += 1
    return n


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any, *, strict: bool = False) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically. ``strict`` (result records): NaN and ±Infinity, which are
    not JSON, raise ``ValueError`` naming the file instead of being written (nothing is written then)."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=not strict)
    except ValueError as exc:
        raise ValueError(f"{path}: not written: NaN or Infinity in a strict JSON record ({exc})") from None
    with atomic_write(path, "w") as f:
        f.write(text + "\n")
    return Path(path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed; remembered in this process for the same file, size and
    modification time (an evaluation keys every metric of a video by its hash: read it once)."""
    st = os.stat(path)
    return _sha256_of(os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino, chunk)


@functools.lru_cache(maxsize=65536)
def _sha256_of(path: str, size: int, mtime_ns: int, inode: int, chunk: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
