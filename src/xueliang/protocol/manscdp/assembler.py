"""Putting fragmented answers back together: Catalog and RecordInfo responses per (device, SN). Sans-IO.

The caller feeds each fragment with its clock (``feed(fragment, now)``); a fragment that completes an answer
returns the :class:`Assembly`. Answers that stop short are handed back by ``expire(now)`` once no fragment has
come for ``timeout`` seconds, as ``partial`` with the counts: a catalog is never silently partial. What real
devices do wrong is absorbed and noted on the result:

- the same item twice (within or across fragments): counted in ``duplicates``, the first kept;
- ``DeviceList Num=`` disagreeing with the items of a fragment: note ``num_mismatch``;
- ``SumNum`` changing between fragments: note ``sum_num_changed``, the largest wins;
- more distinct items than ``SumNum``: complete at ``SumNum``, note ``more_than_sum_num`` (later fragments for a
  completed answer are swallowed for ``timeout`` seconds and counted in ``late_fragments``);
- ``SumNum`` missing: the fragment is taken as the whole answer, note ``sum_num_missing``;
- ``SumNum`` 0: complete at once with no items;
- an answer beyond ``max_items`` distinct items: the rest are dropped, note ``item_limit``.

``expect(device_id, sn, now)`` registers a query before any answer, so a device that never answers is reported
(``partial`` with ``expected`` None and note ``no_response``).

``claim(device_id, sn, minimum)`` hands over the items received since the last claim while the answer is still
arriving, so a caller can start on a 200,000-item catalog before its last fragment (the finished
:class:`Assembly` still holds every item, in arrival order: the unclaimed ones are those after the claimed).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from xueliang.protocol.manscdp.catalog_item import CatalogItem
from xueliang.protocol.manscdp.record import RecordItem

__all__ = [
    "Assembly",
    "AssemblyNote",
    "AssemblyStatus",
    "CatalogAssembler",
    "Fragment",
    "FragmentAssembler",
    "RecordAssembler",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ITEMS = 1_000_000


class Fragment(Protocol[T_co]):
    """What the assembler needs of a response fragment (CatalogResponse, CatalogNotify, RecordInfoResponse)."""

    @property
    def device_id(self) -> str: ...
    @property
    def sn(self) -> int: ...
    @property
    def sum_num(self) -> int | None: ...
    @property
    def items(self) -> Sequence[T_co]: ...
    @property
    def num(self) -> int | None: ...


class AssemblyStatus(enum.StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class AssemblyNote:
    code: str  # num_mismatch, sum_num_changed, more_than_sum_num, sum_num_missing, item_limit, no_response
    detail: str


@dataclass(frozen=True, slots=True)
class Assembly(Generic[T]):
    """A finished (complete or expired) answer."""

    device_id: str
    sn: int
    status: AssemblyStatus
    expected: int | None  # SumNum (the largest seen); None when no fragment came
    items: tuple[T, ...]
    fragments: int
    duplicates: int
    notes: tuple[AssemblyNote, ...] = ()

    @property
    def received(self) -> int:
        return len(self.items)

    @property
    def missing(self) -> int:
        return max((self.expected or 0) - len(self.items), 0)

    @property
    def complete(self) -> bool:
        return self.status is AssemblyStatus.COMPLETE

    def has_note(self, code: str) -> bool:
        return any(note.code == code for note in self.notes)


class _Pending(Generic[T]):
    __slots__ = ("claimed", "deadline", "duplicates", "expected", "fragments", "items", "keys", "notes")

    def __init__(self, deadline: float) -> None:
        self.keys: set[Hashable] = set()
        self.items: list[T] = []  # distinct items in arrival order
        self.claimed = 0  # items[:claimed] were handed over by claim()
        self.expected: int | None = None
        self.fragments = 0
        self.duplicates = 0
        self.notes: list[AssemblyNote] = []
        self.deadline = deadline

    def note(self, code: str, detail: str) -> None:
        if not any(n.code == code for n in self.notes):
            self.notes.append(AssemblyNote(code, detail))


class FragmentAssembler(Generic[T]):
    """Assembles fragments per (device, SN). ``key`` says when two items are the same one."""

    def __init__(
        self,
        key: Callable[[T], Hashable],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self._key = key
        self._timeout = timeout
        self._max_items = max_items
        self._pending: dict[tuple[str, int], _Pending[T]] = {}
        self._done: dict[tuple[str, int], float] = {}  # completed answers -> until when late fragments are swallowed
        self.late_fragments = 0

    def __len__(self) -> int:
        """Answers in progress."""
        return len(self._pending)

    def expect(self, device_id: str, sn: int, now: float) -> None:
        """Register a query sent now, so silence is reported by :meth:`expire`."""
        self._pending.setdefault((device_id, sn), _Pending(now + self._timeout))

    def feed(self, fragment: Fragment[T], now: float) -> Assembly[T] | None:
        """Add a fragment; the finished :class:`Assembly` when this one completes the answer, else None."""
        ident = (fragment.device_id, fragment.sn)
        if ident in self._done:
            self.late_fragments += 1
            return None
        pending = self._pending.get(ident)
        if pending is None:
            pending = self._pending[ident] = _Pending(now)
        pending.deadline = now + self._timeout
        pending.fragments += 1
        self._count(pending, fragment)
        if pending.expected is None:
            pending.note("sum_num_missing", "fragment without SumNum taken as the whole answer")
            return self._finish(ident, AssemblyStatus.COMPLETE, now)
        if len(pending.items) >= pending.expected:
            if len(pending.items) > pending.expected:
                pending.note("more_than_sum_num", f"{len(pending.items)} items for SumNum {pending.expected}")
            return self._finish(ident, AssemblyStatus.COMPLETE, now)
        return None

    def claim(self, device_id: str, sn: int, minimum: int = 1) -> list[T]:
        """The items of an answer in progress received since the last claim, when there are at least
        ``minimum`` of them; else none (nor when the answer is not in progress)."""
        pending = self._pending.get((device_id, sn))
        if pending is None or len(pending.items) - pending.claimed < max(minimum, 1):
            return []
        fresh = pending.items[pending.claimed :]
        pending.claimed = len(pending.items)
        return fresh

    def expire(self, now: float) -> list[Assembly[T]]:
        """Answers with no fragment for ``timeout`` seconds, as ``partial``; forgets old completed answers."""
        self._done = {ident: until for ident, until in self._done.items() if until > now}
        stale = [ident for ident, pending in self._pending.items() if pending.deadline <= now]
        return [self._finish(ident, AssemblyStatus.PARTIAL, now) for ident in stale]

    def _count(self, pending: _Pending[T], fragment: Fragment[T]) -> None:
        sum_num = fragment.sum_num
        if sum_num is not None:
            if pending.expected is not None and sum_num != pending.expected:
                pending.note("sum_num_changed", f"SumNum {pending.expected} then {sum_num}")
            pending.expected = sum_num if pending.expected is None else max(pending.expected, sum_num)
        items = fragment.items
        if fragment.num is not None and fragment.num != len(items):
            pending.note("num_mismatch", f"fragment {pending.fragments}: Num={fragment.num} with {len(items)} items")
        keys, kept = pending.keys, pending.items
        for item in items:
            key = self._key(item)
            if key in keys:
                pending.duplicates += 1
            elif len(kept) >= self._max_items:
                pending.note("item_limit", f"items beyond {self._max_items} dropped")
            else:
                keys.add(key)
                kept.append(item)

    def _finish(self, ident: tuple[str, int], status: AssemblyStatus, now: float) -> Assembly[T]:
        pending = self._pending.pop(ident)
        if pending.fragments == 0:
            pending.note("no_response", "no fragment arrived")
        if status is AssemblyStatus.COMPLETE:
            self._done[ident] = now + self._timeout
        return Assembly(
            ident[0],
            ident[1],
            status,
            pending.expected,
            tuple(pending.items),
            pending.fragments,
            pending.duplicates,
            tuple(pending.notes),
        )


def _catalog_key(item: CatalogItem) -> Hashable:
    return item.device_id


def _record_key(item: RecordItem) -> Hashable:
    return item.key


class CatalogAssembler(FragmentAssembler[CatalogItem]):
    """Catalog responses (and NOTIFYs) per (device, SN); items are the same when their DeviceIDs are."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        super().__init__(_catalog_key, timeout=timeout, max_items=max_items)


class RecordAssembler(FragmentAssembler[RecordItem]):
    """RecordInfo responses per (device, SN); items are the same recording by channel, path and times."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        super().__init__(_record_key, timeout=timeout, max_items=max_items)
