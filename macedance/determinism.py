"""Outputs that must not depend on the number of threads.

OpenBLAS (numpy's and scipy's BLAS) splits a matrix product differently with a different number of
threads, which changes float32 results in the last bit: librosa's mel spectrogram (music features
written into a dataset and cached by content hash) differed between 1 and 2 threads.
:func:`single_threaded_blas` runs a block with one BLAS thread.

OpenBLAS keeps one process-wide thread count, and threadpoolctl lets only one Python thread at a time
change it (a call from any other thread silently does nothing; that made the limit a no-op in a
build's music thread once the main thread had used it). So the blocks are serialised by a lock, each
takes control for itself and gives it back. BLAS calls of other threads that overlap a block run with
one thread too, so their last bits depend on timing: nothing a dataset build stores is computed that way
(the fit runs in torch, whose BLAS the limit does not touch; the other stages use no BLAS products), and
code that stores BLAS results from concurrent threads must take this block as well.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_lock = threading.RLock()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, every BLAS library loaded before it (OpenBLAS, MKL, BLIS) runs one thread.

    Blocks of different threads run one after the other; a nested block in the same thread is free.
    """
    import scipy.linalg  # noqa: F401 - loads scipy's own OpenBLAS, so that the limit covers it
    from threadpoolctl import OpenBLASController, threadpool_limits

    with _lock:
        OpenBLASController.clear_controlling_thread(force=True)  # this thread takes control (see above)
        with threadpool_limits(limits=1, user_api="blas"):
            yield
