"""Atomic writes and content hashes: the one place every writer in macedance goes through.

A write that fails (a full disk, a file-size limit, a read-only folder) raises :class:`OutputWriteError`, an
``OSError`` naming the final path; the file keeps its previous version and no temporary file is left. It is not a
:class:`~macedance.errors.MaceDanceError`, so the batch jobs, which record a bad input file as a rejection and go on,
stop at it instead: the next file would fail the same way.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class OutputWriteError(OSError):
    """Writing an output file failed (no space, a file-size limit, a read-only folder); says which file, why, and
    that its previous version is unchanged."""

    def __init__(self, path: str | Path, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = Path(path)

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a worker process, re-raised in the driver
        return (_rebuild_write_error, (str(self.path), self.errno, self.strerror))

    def __str__(self) -> str:
        why = self.strerror + (": the process's file-size limit, ulimit -f" if self.errno == errno.EFBIG else "")
        return f"{self.path}: cannot write ({why}); its previous version, if any, is unchanged"


def _rebuild_write_error(path: str, code: int, strerror: str) -> OutputWriteError:
    return OutputWriteError(path, OSError(code, strerror))


def _write_error(path: Path, exc: OSError) -> OutputWriteError:
    return exc if isinstance(exc, OutputWriteError) else OutputWriteError(path, exc)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A crash or exception leaves ``path`` untouched (the old version or nothing) and no temp file; a failed
    write raises :class:`OutputWriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and _is_write_failure(exc):
            raise _write_error(path, exc) from exc
        raise


def _is_write_failure(exc: OSError) -> bool:
    """An error of the output's filesystem (not, say, a missing input file read inside the ``with`` body)."""
    return isinstance(exc, OutputWriteError) or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` (one text line, newline added) to a log file with one ``write``: a killed process leaves
    the line whole or absent; a failed write (no space) is undone and raises :class:`OutputWriteError`."""
    path = Path(path)
    data = (line.rstrip("\n") + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        size = os.fstat(fd).st_size
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # no half line
            raise _write_error(path, exc) from exc
    finally:
        os.close(fd)


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
