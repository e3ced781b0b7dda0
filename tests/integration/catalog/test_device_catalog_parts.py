"""A catalog merged in parts while it arrives (``CatalogParts``) stores the same rows as the catalog merged
whole; the device shows ``partial`` until the last part commits; only a complete last part marks channels gone;
the same item in two parts is one channel; a part that fails leaves the catalog partial."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

from xueliang.app import Platform
from xueliang.catalog.device_catalog import CatalogPart, MergeSummary, merge_catalog
from xueliang.catalog.device_catalog_parts import CatalogParts
from xueliang.jobs import InlineJobRunner
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.devices import DeviceStore

from .test_device_catalog import NVR, OTHER_NVR, T0, camera_item
from .test_device_catalog_parallel import catalog, stored

pytestmark = pytest.mark.anyio
T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def status(platform: Platform, device_id: str = NVR) -> tuple[str, int, int | None]:
    detail = DeviceStore(platform.sessions, platform.catalog.cipher()).get_device(device_id)
    assert detail is not None
    device = detail.device
    return device.catalog_status, device.catalog_received, device.channel_count


def parts_of(items: Sequence[CatalogItem], size: int) -> list[list[CatalogItem]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


async def merge_in_parts(
    platform: Platform, device_id: str, items: Sequence[CatalogItem], *, size: int, complete: bool
) -> MergeSummary:
    """All but the last ``size`` items in parts of ``size``, then the last part with the outcome."""
    intake = CatalogParts(InlineJobRunner(), platform.database_url, device_id)
    *parts, last = parts_of(items, size)
    for part in parts:
        intake.add(part)
    return await intake.finish(last, complete)


async def test_a_catalog_merged_in_parts_stores_the_rows_of_one_merged_whole(platform: Platform) -> None:
    whole = merge_catalog(platform.sessions, OTHER_NVR, catalog(100), complete=True, at=T0)
    summary = await merge_in_parts(platform, NVR, catalog(1), size=4, complete=True)
    assert stored(platform, NVR) == stored(platform, OTHER_NVR)
    assert summary == whole  # the parts' summaries add up to the whole's
    assert status(platform) == ("complete", 15, 12)


async def test_the_device_is_partial_until_the_last_part_commits(platform: Platform) -> None:
    items = catalog(1)
    intake = CatalogParts(InlineJobRunner(), platform.database_url, NVR)
    intake.add(items[:5])
    assert status(platform) == ("partial", 5, 3)  # committed, and said to be partial
    intake.add(items[5:10])
    assert status(platform) == ("partial", 10, 8)
    summary = await intake.finish(items[10:], True)
    assert status(platform) == ("complete", 15, 12)
    assert (summary.received, summary.created, summary.gone) == (15, 12, 0)


async def test_a_complete_resync_in_parts_marks_gone_what_no_part_listed(platform: Platform) -> None:
    await merge_in_parts(platform, NVR, catalog(1), size=4, complete=True)
    dropped = {"34150200001320000002", "34150200001320000009"}
    again = [item for item in catalog(1) if item.device_id not in dropped]
    summary = await merge_in_parts(platform, NVR, again, size=4, complete=True)
    assert (summary.gone, summary.unchanged, summary.created) == (2, 13, 0)
    gone = {row[0] for row in _channel_flags(platform) if row[1]}
    assert gone == dropped
    assert status(platform) == ("complete", 13, 10)


async def test_a_partial_catalog_in_parts_marks_nothing_gone(platform: Platform) -> None:
    await merge_in_parts(platform, NVR, catalog(1), size=4, complete=True)
    summary = await merge_in_parts(platform, NVR, catalog(1)[:9], size=4, complete=False)
    assert (summary.gone, summary.unchanged) == (0, 9)
    assert not any(gone for _, gone in _channel_flags(platform))
    assert status(platform) == ("partial", 9, 12)


async def test_the_same_item_in_two_parts_is_one_channel_with_the_later_values(platform: Platform) -> None:
    first = camera_item(1)
    later = dataclasses.replace(first, status="OFF", name="后来的名称")
    intake = CatalogParts(InlineJobRunner(), platform.database_url, NVR)
    intake.add([first, camera_item(2)])
    intake.add([later, camera_item(3)])
    summary = await intake.finish([camera_item(4)], True)
    assert (summary.created, summary.updated) == (4, 1)
    channels = {c.channel_id: c for c in _channels(platform)}
    assert len(channels) == 4
    assert (channels[first.device_id].name, channels[first.device_id].online) == ("后来的名称", False)
    assert status(platform)[0] == "complete"


class FailingRunner(InlineJobRunner):
    """Runs jobs inline; the ``fail_at``-th fails."""

    def __init__(self, fail_at: int) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        self.calls += 1
        if self.calls == self.fail_at:
            future: Future[T] = Future()
            future.set_exception(RuntimeError("worker died"))
            return future
        return super().submit(fn, *args)


async def test_a_failed_part_fails_the_catalog_and_leaves_it_partial(platform: Platform) -> None:
    await merge_in_parts(platform, NVR, catalog(1), size=4, complete=True)
    runner = FailingRunner(fail_at=2)
    intake = CatalogParts(runner, platform.database_url, NVR)
    items = catalog(1)[:8]  # complete, it would mark 7 channels gone
    intake.add(items[:3])
    intake.add(items[3:6])
    with pytest.raises(RuntimeError, match="worker died"):
        await intake.finish(items[6:], True)
    assert runner.calls == 2  # the last part was never merged
    assert not any(gone for _, gone in _channel_flags(platform))
    assert status(platform)[:2] == ("partial", 3)


async def test_a_catalog_without_parts_is_merged_whole(platform: Platform) -> None:
    intake = CatalogParts(InlineJobRunner(), platform.database_url, NVR)
    summary = await intake.finish(catalog(1), True)
    assert (summary.received, summary.created) == (15, 12)
    assert status(platform) == ("complete", 15, 12)


def test_only_the_last_part_completes_a_catalog() -> None:
    from xueliang.catalog.device_catalog_merge import Merge

    with pytest.raises(ValueError, match="last part"):
        Merge(NVR, [], complete=True, at=T0, part=CatalogPart(3))


def _channels(platform: Platform) -> list[Any]:
    detail = DeviceStore(platform.sessions, platform.catalog.cipher()).get_device(NVR)
    assert detail is not None
    return list(detail.channels)


def _channel_flags(platform: Platform) -> list[tuple[str, bool]]:
    return [(c.channel_id, bool(c.gone)) for c in _channels(platform)]
