"""Two halves of a large catalog merge's planning at once: one in this process, one in a forked child.

Why: planning a 200,000-item catalog (JSON, digest, the validator and the camera row of each item) is about
two thirds of the merge, all of it Python under one GIL, while the platform's own process sits idle waiting for
the merge (``bench/bench_catalog_sync.py``). A forked child inherits the items and what was read for them
without pickling; only its half of the plan comes back (about 0.3 s per 50,000 items each way, against 3 s
of planning them).

Forking is only safe in a process with one thread (a lock another thread holds would stay held in the child),
so :func:`can_fork` says no elsewhere and the caller plans everything itself; so it does when the child fails.
The child never touches the database: it leaves with ``os._exit`` (multiprocessing's own exit), so inherited
connections are neither closed nor told goodbye.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import TypeVar

__all__ = ["can_fork", "in_two_processes"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def can_fork() -> bool:
    """A fork is possible and worth it: POSIX fork, more than one CPU, and this process has one thread."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
    )


def _child(writer: Connection, work: Callable[[Sequence[T]], R], chunk: Sequence[T]) -> None:
    try:
        result: object = work(chunk)
    except BaseException as exc:  # reported to the parent, which plans the chunk itself
        result = _Failed(f"{type(exc).__name__}: {exc}")
    writer.send(result)
    writer.close()


class _Failed:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def in_two_processes(work: Callable[[Sequence[T]], R], first: Sequence[T], second: Sequence[T]) -> tuple[R, R]:
    """``(work(first), work(second))``, ``first`` done in a forked child while this process does ``second``.
    Falls back to doing ``first`` here when the child cannot start, fails or dies."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(writer, work, first), name="catalog-plan", daemon=True)
    try:
        child.start()
    except (OSError, AssertionError) as exc:  # out of processes, or a daemonic parent
        log.warning("catalog planning in one process: %s", exc)
        reader.close()
        writer.close()
        return work(first), work(second)
    writer.close()
    theirs: object = _Failed("not received")
    try:
        ours = work(second)
        try:
            theirs = reader.recv()
        except (EOFError, OSError) as exc:
            theirs = _Failed(f"child gone: {exc!r}")
    finally:
        if isinstance(theirs, _Failed):  # this side failed, or the child did: never wait on a blocked send
            child.kill()
        reader.close()
        child.join()
    if isinstance(theirs, _Failed):
        log.warning("catalog planning child failed (%s): planning its half here", theirs.reason)
        return work(first), ours
    return theirs, ours  # type: ignore[return-value]  # what work returned, through the pipe
