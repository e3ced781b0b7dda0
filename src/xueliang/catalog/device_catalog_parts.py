"""A device's catalog merged in parts while its fragments still arrive, in the job worker process.

Why: a lower platform's 200,000-item catalog takes seconds to arrive and far longer to merge; merged only after
its last fragment, the two add up (``bench/bench_catalog_sync.py``). Handed over in parts of some 20,000 items
as they are assembled, most of the merge is done by the time the last fragment arrives.

:class:`CatalogParts` takes the parts (:meth:`~CatalogParts.add`: packed and submitted to the job runner at
once, never waited on) and the last items with the catalog's outcome (:meth:`~CatalogParts.finish`: waits for
every part, then merges the last one, which records the outcome and, for a complete catalog, marks gone the
channels no part listed). A catalog that never needed a part is merged whole, exactly as
:func:`~xueliang.catalog.device_catalog.merge_packed_job` merges any catalog.

Transactions: each part commits on its own (:class:`~xueliang.catalog.device_catalog_merge.CatalogPart`).
A crash midway (the worker, the platform, the database) leaves the parts merged so far committed, the device's
``catalog_status`` ``partial`` with ``catalog_received`` the items committed, and nothing marked gone: what a
partial catalog leaves. The next sync merges the whole catalog again; items already stored are skipped by
their digest. A part that fails fails the catalog: the last part is not merged, so the device stays
``partial``.

The same item twice: the assembler keeps the first (parts are disjoint); were it in two parts, the later part
reads the channel the earlier one committed and updates it like any re-sync. Parts may run at once in several
workers: disjoint parts write disjoint rows (one device's writes wait on its row lock on PostgreSQL, SQLite has
one writer), and a part that lost a race for the same row is planned again (:func:`~.device_catalog_merge.run`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

from xueliang.catalog.device_catalog import merge_packed_job
from xueliang.catalog.device_catalog_items import pack_items
from xueliang.catalog.device_catalog_merge import CatalogPart, MergeSummary
from xueliang.jobs import JobRunner
from xueliang.protocol.manscdp import CatalogItem

__all__ = ["CatalogParts"]


class CatalogParts:
    """One catalog of ``device_id`` on its way to the worker process (see the module docstring)."""

    def __init__(self, jobs: JobRunner, database_url: str, device_id: str) -> None:
        self.jobs = jobs
        self.database_url = database_url
        self.device_id = device_id
        self.received = 0  # items handed over so far
        self.listed: list[str] = []  # their channel IDs: what a complete catalog keeps
        self._parts: list[Future[MergeSummary]] = []

    def add(self, items: Sequence[CatalogItem]) -> None:
        """Some items of the catalog, merged and committed in the background. Never raises: a part that
        cannot be submitted fails :meth:`finish`."""
        if not items:
            return
        self.received += len(items)
        self.listed.extend(item.device_id for item in items)
        part = CatalogPart(self.received)
        try:
            future = self.jobs.submit(
                merge_packed_job, self.database_url, self.device_id, pack_items(items), False, part
            )
        except Exception as exc:  # the runner is shut down or broken
            future = Future()
            future.set_exception(exc)
        self._parts.append(future)

    async def finish(self, items: Sequence[CatalogItem], complete: bool) -> MergeSummary:
        """The catalog's last items and its outcome; returns the summary of every part. Raises the first
        error of a part (after all of them ended) without merging the last."""
        packed = pack_items(items)
        if not self._parts:  # it came whole
            whole = self.jobs.submit(merge_packed_job, self.database_url, self.device_id, packed, complete)
            return await asyncio.wrap_future(whole)
        done = await asyncio.gather(*map(asyncio.wrap_future, self._parts), return_exceptions=True)
        self._parts = []
        merged: list[MergeSummary] = []
        for result in done:
            if isinstance(result, BaseException):
                raise result
            merged.append(result)
        self.received += len(items)
        self.listed.extend(item.device_id for item in items)
        created = sum(part.created for part in merged)
        last = CatalogPart(self.received, last=True, listed=self.listed if complete else (), created=created)
        final = self.jobs.submit(merge_packed_job, self.database_url, self.device_id, packed, complete, last)
        summary = await asyncio.wrap_future(final)
        for result in merged:
            summary += result
        return summary
