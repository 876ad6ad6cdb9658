"""A clean terminal: native libraries' log lines filtered out of the process's standard error.

MediaPipe, LiteRT (TensorFlow Lite) and absl write their log lines straight to file descriptor 2 from
C++ (``W0000 00:00:… inference_feedback_manager.cc:114] …``, ``INFO: Created TensorFlow Lite XNNPACK
delegate for CPU.``, ``WARNING: All log messages before absl::InitializeLog() …``); no environment
variable of the versions we pin turns them off (``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL`` were
tried). :func:`filter_native_logs` points descriptor 2 at a pipe and forwards every line that is not
such a log line to the real standard error; Python's own ``sys.stderr`` (progress bars, logging,
tracebacks) writes to the real standard error directly. Spawned worker processes inherit descriptor
2, so their native lines are filtered too. Nothing else is dropped: a line is removed only when it
matches :data:`NATIVE_LOG_LINE`, and :func:`set_passthrough` (``--verbose``) forwards everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

#: A line written by native logging: glog/absl (``W0000 00:00:1796543308.882783    2998 file.cc:114] …``)
#: and TensorFlow Lite's minimal logger (``INFO: Created TensorFlow Lite …``, ``INFO: Initialized …``),
#: plus absl's one-time notice about messages before ``InitializeLog``.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} [\d:.]+\s+\d+\s+[\w.\-/]+:\d+\]"
    rb"|INFO: (?:Created|Initialized|Replacing) TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)

_state: dict[str, bool] = {"passthrough": False}


def set_passthrough(on: bool = True) -> None:
    """Forward every line, native log lines included (``--verbose``)."""
    _state["passthrough"] = on


def _pump(read_fd: int, write_fd: int) -> None:
    """Copy lines from ``read_fd`` to ``write_fd``, leaving out native log lines, until end of file."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        out = b"".join(line + b"\n" for line in lines if _state["passthrough"] or not NATIVE_LOG_LINE.match(line))
        if out:
            with contextlib.suppress(OSError):
                os.write(write_fd, out)
    if pending and (_state["passthrough"] or not NATIVE_LOG_LINE.match(pending)):
        with contextlib.suppress(OSError):
            os.write(write_fd, pending)


@contextlib.contextmanager
def filter_native_logs() -> Iterator[None]:
    """Within the block, native log lines written to descriptor 2 are dropped (see the module docstring)."""
    try:
        os.fstat(2)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        yield  # no usable descriptor 2 (a detached process): nothing to filter
        return
    real = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    old_stderr = sys.stderr
    sys.stderr = open(os.dup(real), "w", buffering=1, encoding=getattr(old_stderr, "encoding", None) or "utf-8",
                      errors="backslashreplace")
    pump = threading.Thread(target=_pump, args=(read_fd, real), name="native-log-filter", daemon=True)
    pump.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(real, 2)  # closes this process's pipe end; children that still hold it keep it open
        with contextlib.suppress(Exception):
            sys.stderr.close()
        sys.stderr = old_stderr
        pump.join(timeout=2.0)
        if not pump.is_alive():
            os.close(read_fd)
        os.close(real)
