"""A content-addressed on-disk cache (results keyed by input hash + preset hash + code version).

Location: ``$MACEDANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/macedance``, else ``~/.cache/macedance``.
Entries are ``.npz`` files written atomically and read with ``allow_pickle=False``; a corrupt entry
is treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from macedance.fileio import atomic_write

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """The cache folder (not created)."""
    env = os.environ.get("MACEDANCE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "macedance"


def cache_key(*parts: str) -> str:
    """sha256 over the parts (joined unambiguously)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class NpzCache:
    """Arrays by key under ``cache_root()/namespace``."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.dir = (root or cache_root()) / namespace

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            log.warning("cache entry %s is unreadable; recomputing", path)
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Write the entry; then delete the temporary files of this key that a killed process left (a process
        writing the same key now writes the same bytes: at worst it logs that its copy was not stored)."""
        path = self._path(key)
        try:
            with atomic_write(path) as f:
                np.savez(f, **arrays)
        except OSError as exc:  # a read-only or full cache never breaks the computation
            log.warning("cannot write cache entry %s: %s", path, exc)
            return
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
