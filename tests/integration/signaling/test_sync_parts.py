"""A catalog handed to the sink in parts while its fragments still arrive: a simulated NVR over TCP against the
real service, the parts merged (``CatalogParts``, jobs inline) into the test database on SQLite and PostgreSQL.
Every item reaches the sink once, the parts before the last fragment, the last one with the outcome. A sink
without ``open_catalog`` still gets the catalog whole. And the assembler's ``claim`` that feeds the parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from xueliang.catalog.device_catalog_parts import CatalogParts
from xueliang.jobs import InlineJobRunner
from xueliang.protocol.manscdp import CatalogAssembler, CatalogItem, CatalogResponse
from xueliang.signaling import sync
from xueliang.signaling.service import PartedCatalogSink, SignalingService
from xueliang.sim.config import SimConfig, Transport
from xueliang.sim.devices import DeviceSimulator
from xueliang.store.devices import DeviceStore

from .conftest import PASSWORD, PLATFORM_ID, ThreadSink

pytestmark = pytest.mark.anyio

CHANNELS = 45
PER_MESSAGE = 4
PART = 10


class RecordingIntake:
    """``CatalogParts`` on the test database, noting each hand-off and whether the answer was still arriving."""

    def __init__(self, inner: CatalogParts, service: SignalingService) -> None:
        self.inner = inner
        self.service = service
        self.parts: list[list[CatalogItem]] = []
        self.arriving: list[bool] = []
        self.last: tuple[list[CatalogItem], bool] | None = None

    def add(self, items: list[CatalogItem]) -> None:
        self.parts.append(items)
        self.arriving.append(len(self.service.commands.catalogs) > 0)  # an answer in progress
        self.inner.add(items)

    async def finish(self, items: list[CatalogItem], complete: bool) -> object:
        self.last = (items, complete)
        return await self.inner.finish(items, complete)


class PartsSink(ThreadSink):
    def __init__(self, store: DeviceStore, database_url: str) -> None:
        super().__init__(store)
        self.database_url = database_url
        self.intakes: list[RecordingIntake] = []
        self.service: SignalingService | None = None

    def open_catalog(self, device_id: str) -> RecordingIntake:
        assert self.service is not None
        parts = CatalogParts(InlineJobRunner(), self.database_url, device_id)
        self.intakes.append(RecordingIntake(parts, self.service))
        return self.intakes[-1]


@pytest.fixture
async def nvr(start_service: Callable[..., Any]) -> AsyncIterator[tuple[SignalingService, str, DeviceSimulator]]:
    service = await start_service(sync_on_register=False)
    host, port = service.address
    config = SimConfig(
        server_host=host,
        server_port=port,
        server_id=PLATFORM_ID,
        password=PASSWORD,
        count=1,
        channels=CHANNELS,
        transport=Transport.TCP,
        tcp_catalog_items=PER_MESSAGE,
    )
    simulator = DeviceSimulator(config)
    await simulator.start()
    try:
        await simulator.wait_registered(timeout=15)
        yield service, next(iter(simulator.devices)), simulator
    finally:
        await simulator.stop()


async def test_a_catalog_goes_to_the_sink_in_parts_while_it_arrives(
    nvr: tuple[SignalingService, str, DeviceSimulator],
    engine: Engine,
    device_store: DeviceStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, device_id, simulator = nvr
    monkeypatch.setattr(sync, "CATALOG_PART_ITEMS", PART)
    sink = PartsSink(device_store, engine.url.render_as_string(hide_password=False))
    sink.service = service
    service.sink = sink
    assert isinstance(service.sink, PartedCatalogSink)

    result = await service.catalog_sync(device_id)

    assert result.status == "complete" and result.received == CHANNELS
    (intake,) = sink.intakes
    assert len(intake.parts) >= 3 and all(intake.arriving)  # handed over before the last fragment
    assert all(len(part) >= PART for part in intake.parts)
    assert intake.last is not None and intake.last[1] is True
    handed = [item.device_id for part in [*intake.parts, intake.last[0]] for item in part]
    sent = [item.device_id for item in simulator.devices[device_id].catalog_items()]
    assert handed == sent  # every item once, in order
    assert sink.merged == []  # never merged whole
    detail = device_store.get_device(device_id)
    assert detail is not None
    assert detail.device.catalog_status == "complete" and detail.device.catalog_received == CHANNELS
    cameras = [c for c in detail.channels if c.kind == "camera"]
    assert len(cameras) == CHANNELS and all(c.camera_id == c.channel_id for c in cameras)


async def test_a_sink_without_parts_gets_the_catalog_whole(
    nvr: tuple[SignalingService, str, DeviceSimulator], device_store: DeviceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, device_id, _ = nvr
    monkeypatch.setattr(sync, "CATALOG_PART_ITEMS", PART)
    assert not isinstance(service.sink, PartedCatalogSink)
    result = await service.catalog_sync(device_id)
    assert result.status == "complete"
    sink = service.sink
    assert isinstance(sink, ThreadSink) and len(sink.merged) == 1
    detail = device_store.get_device(device_id)
    assert detail is not None and detail.device.catalog_status == "complete"


# --- the assembler's claim (sans-IO) --------------------------------------------------------------------------
def _fragment(sn: int, ids: list[str], sum_num: int = 7) -> CatalogResponse:
    return CatalogResponse(sn, "34150200001180000001", sum_num, tuple(CatalogItem(device_id=i) for i in ids))


def test_claim_hands_over_new_items_once_there_are_enough() -> None:
    assembler = CatalogAssembler(timeout=30)
    device = "34150200001180000001"
    assert assembler.claim(device, 1, 1) == []  # nothing in progress
    assert assembler.feed(_fragment(1, ["a", "b"]), 0.0) is None
    assert assembler.claim(device, 1, 3) == []  # two new: not enough
    assert assembler.feed(_fragment(1, ["b", "c"]), 0.0) is None  # b again: a duplicate, not claimed twice
    assert [i.device_id for i in assembler.claim(device, 1, 3)] == ["a", "b", "c"]
    assert assembler.claim(device, 1, 1) == []
    assert assembler.feed(_fragment(1, ["d", "e"]), 0.0) is None
    assert [i.device_id for i in assembler.claim(device, 1, 1)] == ["d", "e"]
    done = assembler.feed(_fragment(1, ["f", "g"]), 0.0)
    assert done is not None and done.complete and done.duplicates == 1
    assert [i.device_id for i in done.items] == ["a", "b", "c", "d", "e", "f", "g"]  # all, in arrival order
    assert assembler.claim(device, 1, 1) == []  # finished: nothing more to claim
