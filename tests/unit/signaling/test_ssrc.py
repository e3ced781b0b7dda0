"""The central SSRC allocator: the checklist's digits, uniqueness, the hold before reuse, exhaustion."""

from __future__ import annotations

import pytest

from xueliang.protocol.sdp import format_ssrc
from xueliang.signaling.ssrc import UNIQUE_VALUES, SessionKind, SsrcAllocator, SsrcExhaustedError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_digits_follow_the_rule() -> None:
    allocator = SsrcAllocator("3415000000", clock=Clock())
    live = format_ssrc(allocator.allocate(SessionKind.LIVE))
    history = format_ssrc(allocator.allocate(SessionKind.HISTORY))
    assert live == "0" + "50000" + "0000"  # '0' live, digits 4-8 of 3415000000, unique 0000
    assert history == "1" + "50000" + "0000"
    assert format_ssrc(allocator.allocate()) == "0500000001"


def test_a_twenty_digit_id_works_too() -> None:
    allocator = SsrcAllocator("34020000002000000001", clock=Clock())
    assert format_ssrc(allocator.allocate()).startswith("020000")


def test_values_are_unique_while_in_use() -> None:
    allocator = SsrcAllocator("3415000000", clock=Clock())
    values = {allocator.allocate() for _ in range(500)}
    assert len(values) == 500 and allocator.in_use() == 500


def test_freed_value_is_held_back_then_reusable() -> None:
    clock = Clock()
    allocator = SsrcAllocator("3415000000", hold=60.0, clock=clock)
    values = [allocator.allocate() for _ in range(UNIQUE_VALUES)]
    allocator.release(values[5])
    allocator.release(values[5])  # idempotent
    with pytest.raises(SsrcExhaustedError):
        allocator.allocate()  # the only free value is still held
    assert allocator.held() == 1
    clock.now += 59.0
    with pytest.raises(SsrcExhaustedError):
        allocator.allocate()
    clock.now += 1.0
    assert allocator.allocate() == values[5]
    assert allocator.held() == 0


def test_reuse_is_late_even_without_pressure() -> None:
    clock = Clock()
    allocator = SsrcAllocator("3415000000", hold=0.0, clock=clock)
    first = allocator.allocate()
    allocator.release(first)
    # the cursor moves on: a freed value comes back only after the whole space went round
    assert allocator.allocate() != first


def test_kinds_are_separate_spaces() -> None:
    allocator = SsrcAllocator("3415000000", clock=Clock())
    for _ in range(UNIQUE_VALUES):
        allocator.allocate(SessionKind.LIVE)
    with pytest.raises(SsrcExhaustedError, match="live"):
        allocator.allocate(SessionKind.LIVE)
    assert allocator.allocate(SessionKind.HISTORY) == 1_500_000_000


def test_bad_domain() -> None:
    with pytest.raises(ValueError, match="8 digits"):
        SsrcAllocator("34x")
