"""Generated content: IDs derived from serials (unique channels across devices and runs), names in GB 2312,
points inside the county, the configuration's checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from xueliang.domain import divisions
from xueliang.domain.ids import GbId
from xueliang.sim.catalog_gen import Content
from xueliang.sim.config import DeviceKind, SimConfig

Config = Callable[..., SimConfig]


def test_ids_follow_the_layout(config: Config) -> None:
    content = Content(config(count=3, channels=4, first_serial=7))
    assert content.kind is DeviceKind.NVR
    assert content.device_id(0) == "34150200001180000007"
    assert content.channel_id(0, 0) == "34150200001310000025"  # (7 - 1) * 4 + 1
    assert content.device_index("34150200001180000009") == 2
    assert content.device_index("34150200001180000010") is None  # beyond the run
    assert content.device_index("34150200001320000007") is None  # another type
    found = content.channel_of(content.channel_id(2, 3))
    assert found is not None and (found.device_index, found.number) == (2, 3)
    assert content.channel_of("34150200001310000024") is None  # before the run
    for index in range(3):
        GbId.parse(content.device_id(index))


def test_channel_ids_unique_across_devices_and_runs(config: Config) -> None:
    first = Content(config(count=50, channels=8))
    second = Content(config(count=50, channels=8, first_serial=51))
    ids = [c.channel_id(i, j) for c in (first, second) for i in range(50) for j in range(8)]
    assert len(set(ids)) == len(ids) == 800
    ipc = Content(config(count=5))
    assert ipc.kind is DeviceKind.IPC and ipc.device_id(0)[10:13] == "132"
    assert ipc.channel_id(0, 0)[14:] == ipc.device_id(0)[14:]  # an IPC's channel shares its serial


def test_names_survive_gb2312_and_points_lie_in_the_county(config: Config) -> None:
    content = Content(config(count=40, channels=5))
    for index in range(40):
        for number in range(5):
            item = content.channel_item(index, number)
            assert item.name and item.address
            (item.name + item.address + (item.manufacturer or "")).encode("gb2312")  # strict
            assert item.longitude is not None and item.latitude is not None
            assert divisions.contains("341502", item.longitude, item.latitude)
            assert item.civil_code == "341502" and item.status == "ON"
    facts = content.facts(0)
    (facts.name + facts.manufacturer).encode("gb2312")
    assert content.channel_item(3, 2) == content.channel_item(3, 2)  # deterministic


def test_another_county_prefix(config: Config) -> None:
    content = Content(config(prefix="3415240000"))
    item = content.channel_item(0, 0)
    assert item.civil_code == "341524" and item.name and item.name.startswith("金寨县")
    assert item.longitude is not None and item.latitude is not None
    assert divisions.contains("341524", item.longitude, item.latitude)


def test_records_are_hourly_and_clipped(config: Config) -> None:
    content = Content(config())
    start, end = dt.datetime(2024, 5, 1, 22, 15), dt.datetime(2024, 5, 2, 1, 0)
    items = content.records("34150200001310000001", "x", start, end, limit=100)
    assert [(i.start_time, i.end_time) for i in items] == [
        (start, dt.datetime(2024, 5, 1, 23)),
        (dt.datetime(2024, 5, 1, 23), dt.datetime(2024, 5, 2, 0)),
        (dt.datetime(2024, 5, 2, 0), end),
    ]
    assert items[0].file_path == "/record/34150200001310000001/20240501/221500.mp4"
    assert len(content.records("c", None, start, start + dt.timedelta(days=30), limit=10)) == 10
    assert content.records("c", None, end, start, limit=10) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"server_id": "123"}, "server ID"),
        ({"prefix": "34150"}, "prefix"),
        ({"count": 0}, "at least 1"),
        ({"first_serial": 999_999, "count": 2}, "6 digits"),
        ({"count": 200_000, "channels": 8}, "channel serials"),
        ({"sockets": 0}, "sockets"),
    ],
)
def test_config_refuses_what_cannot_work(config: Config, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**changes)


def test_config_reads_enum_values(config: Config) -> None:
    chosen = config(transport="tcp", edition="2022", charset="utf-8", kind="platform")
    assert chosen.reliable and chosen.edition.value == "2022" and chosen.charset.value == "utf-8"
    assert chosen.device_kind is DeviceKind.PLATFORM and chosen.sip_domain == "3415000000"
