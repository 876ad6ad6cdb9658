"""Helpers of the fault-injection suite (test_faults.py): run the CLI in a child process with a fault (a SIGKILL at
an injected point, a file-size limit, a read-only or size-limited folder), and check a folder: every file under its
final name is whole, and no temporary or lock file is left."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")
LAUNCH = Path(__file__).with_name("fault_inject.py")
KILLED = -signal.SIGKILL


def run_cli(args: Sequence[str], *, cwd: Path, cache: Path, fault: str | None = None, root: Path | None = None, log: Path | None = None,
            fsize: int | None = None, prefix: Sequence[str] = (), timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``macedance ARGS`` in a child process (one BLAS/OpenMP thread, the cache ``cache``) with the fault ``fault``
    (fault_inject.py) counted under ``root``, a file-size limit of ``fsize`` bytes, or under the command ``prefix``."""
    env = {**os.environ, "MACEDANCE_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MACEDANCE_FAULT": fault or "count:0", "COLUMNS": "200"}
    for name, value in (("MACEDANCE_FAULT_ROOT", root), ("MACEDANCE_FAULT_LOG", log)):
        env.pop(name, None)
        if value is not None:
            env[name] = str(value)

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([*prefix, sys.executable, str(LAUNCH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit if fsize is not None else None)


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes, unfinished exports and lock files under ``folder``."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if (p.name.startswith(".") and p.name.endswith(".tmp")) or p.name.endswith(".partial") or p.name == ".macedance.lock")


def final_files(folder: Path) -> list[Path]:
    """The files under their final names (not temporary files, not the lock file)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))
                  and p.name != ".macedance.lock")


def check_whole(folder: Path) -> int:
    """Read every file under its final name in ``folder`` with the reader of its format; an assertion names a file
    that is cut short or corrupt. Returns how many files were read."""
    for p in final_files(folder):
        suffix = p.suffix.lower()
        try:
            if suffix == ".json":
                json.loads(p.read_text(encoding="utf-8"))
            elif suffix == ".jsonl":
                text = p.read_text(encoding="utf-8")
                assert not text or text.endswith("\n"), "last line cut short"
                for line in text.splitlines():
                    json.loads(line)
            elif suffix == ".npz":
                with np.load(p, allow_pickle=False) as z:
                    for k in z.files:
                        z[k]
            elif suffix == ".parquet":
                import pyarrow.parquet as pq

                pq.read_table(p)
            elif suffix in (".mp4", ".mov"):
                import av

                with av.open(str(p)) as c:
                    n = sum(1 for _ in c.decode(video=0))
                assert n > 0, "no frame"
            elif suffix == ".wav":
                import soundfile as sf

                assert len(sf.read(p)[0]) > 0, "no sample"
            elif suffix in (".png", ".jpg"):
                from PIL import Image

                with Image.open(p) as im:
                    im.load()
            elif suffix == ".pt":  # a torch zip (some hold pickled classes: check every member's CRC, unpickle nothing)
                import zipfile

                with zipfile.ZipFile(p) as z:
                    assert z.testzip() is None, "a member fails its CRC"
            elif suffix == ".csv":
                rows = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"))))
                assert rows and all(len(r) == len(rows[0]) for r in rows), "a row cut short"
            elif suffix in (".txt", ".md", ".html"):
                p.read_text(encoding="utf-8")
        except Exception as exc:
            raise AssertionError(f"{p}: not whole after the fault: {type(exc).__name__}: {exc}") from None
    return len(final_files(folder))


def counted_writes(log: Path) -> list[str]:
    """The paths written (in order) by a ``count`` run."""
    return log.read_text().splitlines() if log.is_file() else []


def kill_points(n: int, *, few: bool = False) -> list[str]:
    """Faults spread over a run of ``n`` counted writes: mid-write at the first, before a rename a third in, after
    a rename half-way, mid-write two thirds in, and after the last rename but one (the end of the run); ``few``:
    the first, the middle and the end (a job whose every run takes seconds)."""
    if few:
        return ["during:1", f"before:{max(1, n // 2)}", f"after:{max(1, n - 1)}"]
    return ["during:1", f"before:{max(1, n // 3)}", f"after:{max(1, n // 2)}", f"during:{max(1, 2 * n // 3)}", f"after:{max(1, n - 1)}"]


def each(cases: Sequence[T], run: Callable[[int, T], None]) -> None:
    """``run(i, case)`` for every case, two at a time on a machine with two cores or more (every case runs in its own
    folder and child processes of one thread; the shared stage cache is only read, or written atomically with the same
    bytes); the first failure is raised."""
    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        for f in [pool.submit(run, i, c) for i, c in enumerate(cases)]:
            f.result()


def userns_available() -> bool:
    """Whether ``unshare --user --map-root-user --mount`` works here (a private mount namespace for a size-limited
    tmpfs or a read-only bind mount, without privileges)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
