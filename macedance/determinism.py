"""Outputs that must not depend on the number of threads.

OpenBLAS (numpy's and scipy's BLAS) splits a matrix product differently with a different number of
threads, which changes float32 results in the last bit: librosa's mel spectrogram and CQT (music
features written into a dataset and cached by content hash) differed between 1 and 2 threads.
:func:`single_threaded_blas` runs a block with one BLAS thread. It is re-entrant and safe to use from
several threads at once: the first block to enter lowers the limit, the last one to leave restores it.
The limit is per process: numpy/scipy BLAS calls of other threads that overlap the block run with one
thread too, so their last bits depend on timing. Nothing a dataset build stores is computed that way
(the fit runs in torch, whose BLAS the limit does not touch; the other stages use no BLAS products), so
the built files stay byte-identical; code that stores BLAS results from concurrent threads must take
this block as well.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {"depth": 0, "limiter": None}


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, BLAS (OpenBLAS, MKL, BLIS) runs one thread in this process."""
    with _lock:
        if _state["depth"] == 0:
            from threadpoolctl import threadpool_limits  # finds the BLAS libraries loaded by now (numpy's, scipy's)

            _state["limiter"] = threadpool_limits(limits=1, user_api="blas")
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None
