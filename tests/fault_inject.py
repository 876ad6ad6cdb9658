"""Run the ``macedance`` command line with one injected fault (the kill-anywhere harness of test_faults.py).

    MACEDANCE_FAULT=MODE:N [MACEDANCE_FAULT_ROOT=DIR] [MACEDANCE_FAULT_LOG=FILE] python fault_inject.py ARGS...

Every file macedance writes goes through :func:`macedance.fileio.atomic_write` (a temporary file renamed over the
final name). Counting those writes under ``DIR`` (all writes without it), the process ``SIGKILL``s itself at the N-th:

- ``during``: after half the bytes of its first ``write`` call reached the temporary file (a kill mid-write);
- ``before``: once all its bytes are written, before the rename (a complete temporary file, never renamed);
- ``after``: right after the rename (the file is in place, nothing after it happened);
- ``count`` (N ignored): no fault; with ``MACEDANCE_FAULT_LOG`` every counted write's path is appended there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _HalfWrite:
    """A file whose first ``write`` stores half its bytes, then kills the process."""

    def __init__(self, f: IO[Any]):
        self._f = f

    def write(self, data: Any) -> int:
        n = len(data)
        self._f.write(data[: max(1, n // 2)])
        self._f.flush()
        _kill()
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._f)


def install(spec: str, root: str | None, log: str | None) -> None:
    import macedance.fileio as fio

    mode, _, n_text = spec.partition(":")
    if mode not in ("during", "before", "after", "count"):
        raise SystemExit(f"MACEDANCE_FAULT: unknown mode {mode!r}")
    n = int(n_text or 0)
    original = fio.atomic_write
    top = Path(root).resolve() if root else None
    seen = [0]

    @contextlib.contextmanager
    def atomic_write(path: str | Path, mode_: str = "wb") -> Iterator[IO[Any]]:
        counted = top is None or Path(os.path.abspath(path)).is_relative_to(top)
        k = 0
        if counted:
            seen[0] += 1
            k = seen[0]
            if log:
                with open(log, "a") as f:
                    f.write(f"{path}\n")
        with original(path, mode_) as f:
            if k == n and mode == "during":
                yield _HalfWrite(f)
                _kill()  # a writer that wrote nothing
            yield f
            if k == n and mode == "before":
                f.flush()
                _kill()
        if k == n and mode == "after":
            _kill()

    fio.atomic_write = atomic_write
    for module in list(sys.modules.values()):  # modules imported already (``from macedance.fileio import atomic_write``)
        if getattr(module, "atomic_write", None) is original:
            module.atomic_write = atomic_write


if __name__ == "__main__":
    install(os.environ.get("MACEDANCE_FAULT", "count:0"), os.environ.get("MACEDANCE_FAULT_ROOT"), os.environ.get("MACEDANCE_FAULT_LOG"))
    from macedance.cli import main

    sys.argv = ["macedance", *sys.argv[1:]]
    main()
