"""One small interface for CPU-heavy work (imports, governance reports, exports), so it never runs on the event
loop that answers requests (and later SIP keepalives).

:class:`ProcessJobRunner` is the default: a local process pool (``forkserver`` start method: workers are forked
from a clean server process, never from the threaded API process). A function submitted must be importable at
module level and take picklable arguments; a worker opens its own database engine from the URL it is given.
Celery workers can sit behind the same :class:`JobRunner` interface in a scale-out deployment.
:class:`InlineJobRunner` runs the function at once in the caller (the CLI, tests of the function itself).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class JobRunner(Protocol):
    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` somewhere else; the future completes with its result or its exception."""
        ...

    def shutdown(self) -> None:
        """Stop the workers (a later submit starts them again)."""
        ...


def default_workers() -> int:
    """One worker per spare CPU, at most four; at least one."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class ProcessJobRunner:
    """A lazily started local process pool."""

    def __init__(self, max_workers: int | None = None, *, preload: Sequence[str] = ()) -> None:
        self.max_workers = max_workers or default_workers()
        self.preload = list(preload)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                if self.preload:
                    context.set_forkserver_preload(self.preload)
                self._executor = ProcessPoolExecutor(self.max_workers, mp_context=context)
            return self._executor.submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class InlineJobRunner:
    """Runs each job at once in the calling thread."""

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the future, as a pool would
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        return None
