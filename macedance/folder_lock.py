"""One writer per output folder: the long jobs (``data build``, ``data render``, ``train motion``, ``bench run``) hold
an exclusive lock on ``FOLDER/.macedance.lock`` while they write there, so a second job into the same folder is
refused with a message naming the first (its process id, host, command and start time). ``data export``, which
assembles its folder beside the target and renames it into place, holds ``PARENT/.OUT.macedance.lock``
(:func:`target_lock`).

The lock is an ``flock`` on the open file, which the kernel drops when its process ends however it ends (a crash,
``SIGKILL``, a power cut of a network client): a crashed run never leaves the folder stuck. The file itself only
describes the holder; it is deleted when the holder finishes. On a filesystem without ``flock`` (some network mounts)
the job runs unlocked, with a warning.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from macedance.errors import MaceDanceError
from macedance.fileio import OutputWriteError, remove_stale_temps

log = logging.getLogger(__name__)

LOCK_NAME = ".macedance.lock"
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


class FolderInUseError(MaceDanceError):
    """Another process holds the output folder's lock."""


def _describe(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        started = f", started {info['started']}" if info.get("started") else ""
        return f"process {info['pid']} on {info['host']} (`{info['command']}`{started})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not described itself yet)"


@contextlib.contextmanager
def _flock(path: Path, *, name: Path, command: str | None) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on the lock file ``path`` for the body (the refusal names ``name``); the file
    describes the holder and is deleted on release. Yields ``path``."""
    import fcntl

    command = command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:  # a read-only folder: the job's first write fails here
            raise OutputWriteError(path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUseError(f"{name}: in use by {_describe(path)}; wait for it to finish or stop it "
                                   f"(a crashed run does not hold the folder)") from None
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                os.close(fd)
                raise
            log.warning("%s: the filesystem does not support locks; make sure no other job writes into this folder", name)
            break
        # the holder before us may have deleted the file between our open and our lock: lock the file at the path
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):  # gone, or a folder made read-only meanwhile: never hide the job's own error
            os.unlink(path)  # while still locked: a waiter that opened the old file sees it gone and retries
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, command: str | None = None) -> Iterator[Path]:
    """Hold ``folder``'s lock (the folder is created; the temporary files a killed run left in it are deleted) for the
    body; raises :class:`FolderInUseError` naming the holder when another process has it. ``command`` (default: this
    process's command line) is what the refusal shows. Yields the lock file's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _flock(folder / LOCK_NAME, name=folder, command=command) as path:
        if stale := remove_stale_temps(folder):  # no writer is active here now: a killed run's temporary files go
            log.info("%s: removed %d temporary files of a killed run", folder, stale)
        yield path


@contextlib.contextmanager
def target_lock(target: str | Path, *, command: str | None = None) -> Iterator[Path]:
    """Hold the lock of ``target``, a folder a job assembles beside it and renames into place (``data export`` writes
    ``OUT.partial`` and renames it to ``OUT``): the lock file is ``PARENT/.OUT.macedance.lock``, outside both, so it
    outlives the rename. Refusal and release as :func:`folder_lock`; nothing in the parent folder is cleaned."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _flock(target.parent / f".{target.name}{LOCK_NAME}", name=target, command=command) as path:
        yield path
