"""Ray glue, in one place: join or start a cluster, run module-level functions as Ray tasks with
resource requests and retries, and hand back results as they finish.

Ray is an optional extra (``pip install 'macedance[ray]'``). Tasks run on whichever node Ray picks,
so every path a task reads or writes (raw videos, dataset and result folders, the macedance cache)
must be on a filesystem that all nodes share; a task that cannot see its input says so.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from macedance.errors import MaceDanceError, MissingDependencyError, ValidationError

log = logging.getLogger(__name__)

RAY_INSTALL = "pip install 'macedance[ray]'"
EXECUTORS = ("local", "ray")


def check_executor(executor: str) -> None:
    """A one-line error unless ``executor`` is one of :data:`EXECUTORS`."""
    if executor not in EXECUTORS:
        raise ValidationError("executor", " or ".join(EXECUTORS), repr(executor))


def require_ray() -> ModuleType:
    """The ``ray`` module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(f"`executor=ray` needs Ray: {RAY_INSTALL}") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Use the Ray session already initialised in this process, else join the cluster at ``address``
    (``auto``: the cluster this node belongs to; ``ray://host:10001``: Ray Client), else start a local
    one with ``num_cpus`` CPUs (default: all). A session started here is shut down on exit."""
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        try:
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=num_cpus, **kw)
        except ConnectionError as exc:
            raise MaceDanceError(f"`address={address}`: cannot join a Ray cluster there ({exc})") from None
        started = True
        log.info("Ray session: %s", ray.cluster_resources())
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def cluster_cpus(ray: ModuleType) -> int:
    """CPUs of the cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class _Counter:
    """A Ray actor summing the progress counts that tasks report."""

    def __init__(self) -> None:
        self.n = 0

    def add(self, n: int) -> None:
        self.n += n

    def take(self) -> int:
        n, self.n = self.n, 0
        return n


class CounterHandle:
    """What a task gets to report progress: ``put(n)`` sends ``n`` to the driver's counter without
    waiting (a task blocked in ``ray.get`` would lend its CPUs to another task and oversubscribe them)."""

    def __init__(self, actor: Any):
        self.actor = actor

    def put(self, n: int) -> None:
        self.actor.add.remote(n)


def progress_counter(ray: ModuleType) -> tuple[CounterHandle, Callable[[], int]]:
    """A counter for progress reports from tasks: the handle to pass to them, and ``take()`` for the
    driver (the count reported since the last call)."""
    actor = ray.remote(num_cpus=0)(_Counter).remote()
    return CounterHandle(actor), lambda: int(ray.get(actor.take.remote()))


def run_tasks(
    ray: ModuleType,
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    on_result: Callable[[int, Any], None],
    *,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_retries: int = 3,
    poll: Callable[[], None] | None = None,
    interval: float = 0.25,
) -> None:
    """Run ``fn(*job)`` for every job as a Ray task and call ``on_result(index, value)`` as each task
    finishes (in completion order), ``poll()`` between waits.

    A task whose worker process or node dies is retried up to ``max_retries`` times by Ray; an
    exception raised by ``fn`` itself is not retried and propagates (as its own class, so a
    :class:`MaceDanceError` stays one). ``fn`` must be importable (module level)."""
    remote = ray.remote(fn).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries, retry_exceptions=False)
    index = {remote.remote(*job): i for i, job in enumerate(jobs)}
    pending = list(index)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=interval)
            if poll:
                poll()
            for ref in ready:
                try:
                    value = ray.get(ref)
                except ray.exceptions.WorkerCrashedError as exc:
                    raise MaceDanceError(f"a Ray worker died {max_retries + 1} times running job {index[ref]}: {exc}") from None
                on_result(index[ref], value)
    finally:
        for ref in pending:  # interrupted (error or Ctrl-C): stop what is still queued
            ray.cancel(ref, force=True)
