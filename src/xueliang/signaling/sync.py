"""Catalog synchronisation: after a device registers (and when an operator asks), fetch its DeviceInfo and
its catalog, merge the catalog into the archive, and subscribe to its catalog changes.

Registrations enqueue; a fixed number of workers drain the queue, starting at most ``rate`` syncs per second.
So a whole city re-registering after a restart costs a steady trickle of catalog queries, not a storm. An
operator's request (:meth:`CatalogSync.run`) skips the queue.

The result of a sync is never silently partial: :class:`SyncResult` says ``complete``, ``partial`` (fragments
stopped coming; what came is merged, nothing is marked gone) or ``failed`` (the device did not answer).

A large catalog is handed to the sink in parts of :data:`CATALOG_PART_ITEMS` items while its fragments still
arrive (when the sink takes parts: :class:`~xueliang.signaling.service.PartedCatalogSink`), so merging it
overlaps the transfer; the last part carries the outcome. A lower platform's 200,000 channels arrive in some
ten seconds and take longer than that to merge (``bench/bench_catalog_sync.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xueliang.protocol.manscdp import CatalogItem
from xueliang.signaling.commands import DeviceUnavailableError
from xueliang.store.models import utcnow

if TYPE_CHECKING:
    from xueliang.signaling.service import CatalogIntake, SignalingService

log = logging.getLogger(__name__)

CATALOG_PART_ITEMS = 20_000  # a catalog's items handed to the sink in parts of this many while it arrives


@dataclass(frozen=True, slots=True)
class SyncResult:
    device_id: str
    status: str  # complete | partial | failed
    expected: int | None  # SumNum the device announced
    received: int
    fragments: int
    duplicates: int
    notes: tuple[str, ...]
    merged: object | None  # what the catalog service reports (created, bound, collisions, ...)
    error: str | None = None


@dataclass(slots=True)
class _Handed:
    """The parts of one catalog handed to the sink so far."""

    intake: CatalogIntake
    count: int = 0  # items handed over

    def add(self, items: list[CatalogItem]) -> None:
        self.count += len(items)
        self.intake.add(items)


class CatalogSync:
    """The throttled queue of catalog synchronisations."""

    def __init__(self, service: SignalingService, *, concurrency: int, rate: float) -> None:
        self.service = service
        self.concurrency = concurrency
        self.interval = 1.0 / rate
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._next_start = 0.0
        self.results: dict[str, SyncResult] = {}  # the last result per device (for the API and tests)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(self.concurrency)]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []

    def enqueue(self, device_id: str) -> None:
        if device_id not in self.queued:
            self.queued.add(device_id)
            self.queue.put_nowait(device_id)

    async def _throttle(self) -> None:
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)

    async def _work(self) -> None:
        while True:
            device_id = await self.queue.get()
            self.queued.discard(device_id)
            await self._throttle()
            try:
                await self.run(device_id)
            except asyncio.CancelledError:
                raise
            except DeviceUnavailableError as exc:
                log.info("catalog sync of %s skipped: %s", device_id, exc.reason)
            except Exception:
                log.exception("catalog sync of %s failed", device_id)

    async def run(self, device_id: str) -> SyncResult:
        """Synchronise one device now."""
        service = self.service
        store = service.store
        session = service.session(device_id)
        metrics = service.metrics
        try:
            info = await service.device_info(device_id)
        except DeviceUnavailableError as exc:
            metrics["device_info_failed"] += 1
            log.info("DeviceInfo from %s: %s", device_id, exc.reason)
        else:
            await asyncio.to_thread(store.save_device_info, device_id, info, charset=session.charset.label)
        intake = service.catalog_intake(device_id)
        handed = _Handed(intake) if intake is not None else None
        take = handed.add if handed is not None else None
        assembly = await service.commands.catalog(session, take, part_items=CATALOG_PART_ITEMS)
        notes = tuple(f"{note.code}: {note.detail}" for note in assembly.notes)
        if assembly.fragments == 0:
            metrics["catalog_no_response"] += 1
            await asyncio.to_thread(store.mark_catalog, device_id, "timeout", 0, None, utcnow())
            result = SyncResult(device_id, "failed", None, 0, 0, 0, notes, None, "no answer to the catalog query")
            self.results[device_id] = result
            return result
        status = "complete" if assembly.complete else "partial"
        metrics[f"catalog_{status}"] += 1
        if handed is None:
            merged = await service.sink.merge(device_id, list(assembly.items), assembly.complete)
        else:  # the items after those handed over in parts
            merged = await handed.intake.finish(list(assembly.items[handed.count :]), assembly.complete)
        if not assembly.complete:  # the merge knows what came; what was announced is ours to record
            await asyncio.to_thread(
                store.mark_catalog, device_id, "partial", assembly.received, assembly.expected, utcnow()
            )
        result = SyncResult(
            device_id,
            status,
            assembly.expected,
            assembly.received,
            assembly.fragments,
            assembly.duplicates,
            notes,
            merged,
        )
        self.results[device_id] = result
        if session.subscription is None:
            await service.subscriptions.subscribe(session)
        return result
