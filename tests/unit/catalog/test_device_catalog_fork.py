"""Half of a large merge's planning in a forked child: the child's result comes back through a pipe, and a
child that fails (or a process with threads, where forking is unsafe) leaves the work to this process."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import pytest

from xueliang.catalog.device_catalog_fork import can_fork, in_two_processes

pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="POSIX")


def where_and_sum(chunk: Sequence[int]) -> tuple[int, int]:
    return os.getpid(), sum(chunk)


def test_the_first_half_is_done_in_a_child_and_comes_back() -> None:
    (child_pid, first), (own_pid, second) = in_two_processes(where_and_sum, list(range(1000)), [5, 6])
    assert (first, second) == (sum(range(1000)), 11)
    assert own_pid == os.getpid() and child_pid != os.getpid()


def test_a_large_result_is_not_stuck_in_the_pipe() -> None:
    def rows(chunk: Sequence[int]) -> list[dict[str, object]]:
        return [{"id": n, "text": "金安区" * 50} for n in chunk]

    first, second = in_two_processes(rows, range(20_000), range(3))
    assert len(first) == 20_000 and first[-1]["id"] == 19_999 and len(second) == 3


def test_a_failing_child_leaves_its_half_to_this_process() -> None:
    parent = os.getpid()

    def only_here(chunk: Sequence[int]) -> tuple[int, int]:
        if os.getpid() != parent:
            raise RuntimeError("the child cannot")
        return where_and_sum(chunk)

    (pid_first, first), (pid_second, second) = in_two_processes(only_here, [1, 2], [3])
    assert (first, second) == (3, 3) and pid_first == pid_second == parent


def test_a_child_that_dies_leaves_its_half_to_this_process() -> None:
    parent = os.getpid()

    def dies_in_child(chunk: Sequence[int]) -> int:
        if os.getpid() != parent:
            os._exit(3)
        return sum(chunk)

    assert in_two_processes(dies_in_child, [1, 2], [3]) == (3, 3)


def test_an_error_here_does_not_wait_for_the_child() -> None:
    parent = os.getpid()

    def fails_here(chunk: Sequence[int]) -> list[int]:
        if os.getpid() == parent:
            raise ValueError("this side failed")
        return list(range(500_000))  # more than a pipe buffer: the child would block on its send

    with pytest.raises(ValueError, match="this side failed"):
        in_two_processes(fails_here, [1], [2])


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        thread.join()
