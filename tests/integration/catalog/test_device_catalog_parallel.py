"""A large catalog planned half in a forked child (what the worker-process entry points ask for) is stored
exactly as when it is planned in one process: the same rows, cameras bound in order, the same findings, the
same unchanged items skipped on the next catalog. The threshold is lowered so a dozen items take that path."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from xueliang.app import Platform
from xueliang.catalog import device_catalog_merge
from xueliang.catalog.device_catalog import merge_catalog, merge_packed_job, pack_items
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.models import Camera, Device, DeviceChannel

from .test_device_catalog import NVR, OTHER_NVR, T0, T1, camera_item

GARBLED = "金安区东门路口东".encode().decode("gbk", errors="replace")


def catalog(first_serial: int) -> list[CatalogItem]:
    return [
        CatalogItem(device_id="341502", name="金安区"),
        CatalogItem(device_id="34150200002150000001", name="雪亮工程", parent_id=NVR),
        *(camera_item(first_serial + n) for n in range(10)),
        camera_item(first_serial + 10, name=GARBLED, status="OFF"),
        camera_item(first_serial + 11, longitude=120.0, latitude=40.0),  # outside the county: flagged
        CatalogItem(device_id=f"341502000013299{first_serial:04d}", name="坏编码"),  # 19 digits: flagged, unbound
    ]


def stored(platform: Platform, device_id: str) -> list[tuple[Any, ...]]:
    """The device's channels in insertion order, the channel ID's serial replaced by its position."""
    with platform.sessions() as session:
        rows = session.execute(
            select(DeviceChannel, Camera.platform_id)
            .join(Device, Device.id == DeviceChannel.device_pk)
            .outerjoin(Camera, Camera.id == DeviceChannel.camera_id)
            .where(Device.device_id == device_id)
            .order_by(DeviceChannel.id)
        ).all()
    out = []
    for channel, platform_id in rows:
        out.append(
            (
                channel.kind,
                channel.name == GARBLED,
                channel.online,
                platform_id == channel.channel_id,  # bound to the camera with its own ID
                platform_id is None,
                sorted(f["rule"] for f in channel.findings),
            )
        )
    return out


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every two-process planning, as (items in the child, items here)."""
    calls: list[tuple[int, int]] = []
    real = device_catalog_merge.in_two_processes

    def counted(work: Any, first: Sequence[Any], second: Sequence[Any]) -> Any:
        calls.append((len(first), len(second)))
        return real(work, first, second)

    monkeypatch.setattr(device_catalog_merge, "PARALLEL_PLAN_ITEMS", 4)
    monkeypatch.setattr(device_catalog_merge, "can_fork", lambda: True)  # pytest may hold a thread or two
    monkeypatch.setattr(device_catalog_merge, "in_two_processes", counted)
    return calls


def test_planned_in_two_processes_the_catalog_is_stored_as_in_one(
    platform: Platform, forked: list[tuple[int, int]]
) -> None:
    one = merge_catalog(platform.sessions, OTHER_NVR, catalog(100), complete=True, at=T0)
    assert forked == []
    two = merge_catalog(platform.sessions, NVR, catalog(1), complete=True, at=T0, parallel=True)
    assert forked == [(7, 8)]
    assert one == two
    assert (two.received, two.cameras, two.created, two.tree_nodes, two.unchanged) == (15, 12, 12, 2, 0)
    assert stored(platform, NVR) == stored(platform, OTHER_NVR)
    assert stored(platform, NVR)[2][3]  # the first camera bound to its own archive camera

    first = "34150200001320000001"
    again = [dataclasses.replace(i, status="OFF") if i.device_id == first else i for i in catalog(1)]
    summary = merge_catalog(platform.sessions, NVR, again, complete=True, at=T1, parallel=True)
    assert forked[-1] == (7, 8)
    assert (summary.unchanged, summary.updated, summary.created) == (14, 1, 0)


def test_the_packed_worker_entry_point_merges_in_two_processes(
    platform: Platform, forked: list[tuple[int, int]]
) -> None:
    summary = merge_packed_job(platform.database_url, NVR, pack_items(catalog(1)), True)
    assert forked == [(7, 8)]
    assert (summary.received, summary.created, summary.tree_nodes) == (15, 12, 2)
    assert len(stored(platform, NVR)) == 15
