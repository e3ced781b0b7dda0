"""What simulated devices say about themselves: IDs, channels, the catalog tree of a lower platform, DeviceInfo
and recordings, each a pure function of the configuration and the device's serial (nothing cached per device,
so 100,000 devices cost nothing until they are queried).

IDs (shared/GB28181.md section 1): ``prefix`` (division + industry) + type + network digit + serial.

- device ``i``: type 132 (IPC), 118 (NVR) or 200 (platform), serial ``s = first_serial + i``;
- its channel ``j``: type 131, serial ``(s - 1) * channels + j + 1``: unique across devices and runs with
  disjoint serials, and the owner of a channel ID is found by arithmetic;
- a platform's business group: type 215, serial ``s``; its virtual organisations: type 216, serial
  ``(s - 1) * VIRTUAL_ORGS + k + 1``; its regions: the city and county codes of the prefix.

Names, addresses and coordinates come from the sample inventory's generators (:mod:`xueliang.sim.inventory`):
Lu'an roads and places, points inside the county of the prefix, every character in GB 2312.

A lower platform's channels are the exception: a real one reads its catalog from its database and answers at
once, so the channel items of a run of platforms (up to :data:`PLATFORM_CACHE_ITEMS` of them) are generated once,
when the content is built, and kept. Generating them per query cost 36 µs an item, and the catalog was built
twice per synchronisation (DeviceInfo counts the channels): 15 of the 17 s a 200,000-channel platform took to
send its first fragment (``bench/bench_catalog_sync.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass

from xueliang.domain import divisions
from xueliang.domain.archive import DIRECTION
from xueliang.protocol.manscdp import CatalogItem, RecordItem, RecordType
from xueliang.sim.config import DeviceKind, SimConfig
from xueliang.sim.inventory import MANUFACTURERS, PLACES, ROADS, _point_inside

__all__ = ["CHANNEL_TYPE", "PLATFORM_CACHE_ITEMS", "VIRTUAL_ORGS", "Channel", "Content", "DeviceFacts"]

CHANNEL_TYPE = "131"
BUSINESS_GROUP_TYPE = "215"
VIRTUAL_ORG_TYPE = "216"
VIRTUAL_ORGS = ("治安防控", "交通路口", "校园周边", "重点单位")
BUSINESS_GROUP_NAME = "雪亮工程"
# manufacturer -> (IPC firmware, NVR model, NVR firmware); IPC models come from the inventory's MANUFACTURERS
_FIRMWARE: dict[str, tuple[str, str, str]] = {
    "海康威视": ("V5.7.3 build 220112", "DS-7932N-R4", "V4.62.210 build 230418"),
    "大华": ("V2.820.0000000.25.R", "DHI-NVR5864-EI", "V4.001.0000000.1"),
    "宇视": ("IPC_G6103-B5001P12D2103", "NVR308-32E-B", "B3210.22.10.230911"),
    "华为": ("SDC 10.0.0 SPC300", "IVS1800-C08", "V100R019C60SPC100"),
}
PLATFORM_MODEL, PLATFORM_FIRMWARE = "xueliang-sim LP", "1.0"
RECORD_SECONDS = 3600  # one file per hour
RECORD_BYTES_PER_SECOND = 4_000_000 // 8  # 4 Mbit/s
PLATFORM_CACHE_ITEMS = 250_000  # channel items of platforms kept in memory (about 1 KiB each); beyond, generated


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What DeviceInfo answers."""

    name: str
    manufacturer: str
    model: str
    firmware: str
    channels: int


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a channel ID belongs: device index and channel number."""

    device_index: int
    number: int


class Content:
    """IDs and content of every device of a :class:`SimConfig`."""

    __slots__ = (
        "_area",
        "_county",
        "_county_name",
        "_items",
        "_serial_base",
        "config",
        "kind",
        "network",
        "prefix",
    )

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.kind = config.device_kind
        self.prefix = config.prefix
        self.network = config.network_digit
        county = config.prefix[:6]
        known = divisions.get(county)
        self._county = county if known is not None else None
        self._county_name = known.name if known is not None else ""
        self._area = divisions.full_name(county) if known is not None else ""
        self._serial_base = config.first_serial
        self._items: list[list[CatalogItem]] = []  # a platform's channel items by device index, then number
        if self.kind is DeviceKind.PLATFORM and config.count * config.channels <= PLATFORM_CACHE_ITEMS:
            channels = range(config.channels)
            self._items = [[self._channel_item(index, number) for number in channels] for index in range(config.count)]

    # ------------------------------------------------------------------------------------------------ IDs

    def serial(self, index: int) -> int:
        return self._serial_base + index

    def device_id(self, index: int) -> str:
        return f"{self.prefix}{self.kind.type_code}{self.network}{self._serial_base + index:06d}"

    def device_index(self, device_id: str) -> int | None:
        """The index of a device of this run, or None."""
        if len(device_id) != 20 or not device_id.startswith(self.prefix) or not device_id[14:].isdigit():
            return None
        if device_id[10:13] != self.kind.type_code or device_id[13] != self.network:
            return None
        index = int(device_id[14:]) - self._serial_base
        return index if 0 <= index < self.config.count else None

    def channel_id(self, index: int, number: int) -> str:
        serial = (self._serial_base + index - 1) * self.config.channels + number + 1
        return f"{self.prefix}{CHANNEL_TYPE}{self.network}{serial:06d}"

    def channel_ids(self, index: int) -> list[str]:
        return [self.channel_id(index, number) for number in range(self.config.channels)]

    def channel_of(self, channel_id: str) -> Channel | None:
        """The device and number of a generated channel ID, or None."""
        if len(channel_id) != 20 or not channel_id.startswith(self.prefix) or not channel_id[14:].isdigit():
            return None
        if channel_id[10:13] != CHANNEL_TYPE or channel_id[13] != self.network:
            return None
        serial = int(channel_id[14:]) - 1
        index, number = divmod(serial, self.config.channels)
        index -= self._serial_base - 1
        return Channel(index, number) if 0 <= index < self.config.count else None

    def business_group_id(self, index: int) -> str:
        return f"{self.prefix}{BUSINESS_GROUP_TYPE}{self.network}{self._serial_base + index:06d}"

    def virtual_org_id(self, index: int, number: int) -> str:
        serial = (self._serial_base + index - 1) * len(VIRTUAL_ORGS) + number + 1
        return f"{self.prefix}{VIRTUAL_ORG_TYPE}{self.network}{serial:06d}"

    # ------------------------------------------------------------------------------------------- content

    def manufacturer(self, index: int) -> tuple[str, str]:
        """(manufacturer, IPC model) of a device and its channels."""
        return MANUFACTURERS[self.serial(index) % len(MANUFACTURERS)]

    def facts(self, index: int) -> DeviceFacts:
        maker, ipc_model = self.manufacturer(index)
        ipc_firmware, nvr_model, nvr_firmware = _FIRMWARE.get(maker, ("1.0", "NVR", "1.0"))
        serial = self.serial(index)
        if self.kind is DeviceKind.IPC:
            return DeviceFacts(f"{self._county_name}网络摄像机{serial:06d}", maker, ipc_model, ipc_firmware, 1)
        if self.kind is DeviceKind.NVR:
            name = f"{self._county_name}网络硬盘录像机{serial:06d}"
            return DeviceFacts(name, maker, nvr_model, nvr_firmware, self.config.channels)
        name = f"{self._county_name}视频监控平台{serial:06d}"
        return DeviceFacts(name, "雪亮", PLATFORM_MODEL, PLATFORM_FIRMWARE, self.config.channels)

    def channel_item(self, index: int, number: int, *, status: str = "ON") -> CatalogItem:
        """Channel ``number`` of device ``index`` as its catalog lists it: a name and an address on a Lu'an
        road, a point inside the county, CivilCode, manufacturer and model, the parent in the tree."""
        if self._items:
            item = self._items[index][number]
            return item if status == item.status else dataclasses.replace(item, status=status)
        return self._channel_item(index, number, status=status)

    def _channel_item(self, index: int, number: int, *, status: str = "ON") -> CatalogItem:
        channel_id = self.channel_id(index, number)
        rng = random.Random(self.config.seed * 1_000_003 + int(channel_id[14:]))
        road, cross = rng.sample(ROADS, 2)
        place = f"{road}与{cross}路口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        direction = DIRECTION.entries[rng.randrange(len(DIRECTION.entries))]
        lon = lat = None
        if self._county is not None and divisions.bbox(self._county) is not None:
            lon, lat = _point_inside(rng, self._county)
        maker, model = self.manufacturer(index)
        parent = self.device_id(index)
        group = None
        if self.kind is DeviceKind.PLATFORM:
            parent = self.virtual_org_id(index, number % len(VIRTUAL_ORGS))
            group = self.business_group_id(index)
        return CatalogItem(
            device_id=channel_id,
            name=f"{self._county_name}{place}{direction.zh}",
            manufacturer=maker,
            model=model,
            owner="Owner",
            civil_code=self._county or self.prefix[:6],
            address=f"{self._area}{place}",
            parental=0,
            parent_id=parent,
            safety_way=0,
            register_way=1,
            secrecy=0,
            status=status,
            longitude=lon,
            latitude=lat,
            business_group_id=group,
            ptz_type=rng.choice(("1", "3")),  # dome or fixed bullet
        )

    def tree_items(self, index: int) -> list[CatalogItem]:
        """What a lower platform lists before its cameras: itself, its regions, its business group and virtual
        organisations (shared/GB28181.md section 4), each with ParentID so the tree can be rebuilt."""
        if self.kind is not DeviceKind.PLATFORM:
            return []
        platform_id = self.device_id(index)
        facts = self.facts(index)
        county = self._county or self.prefix[:6]
        city = county[:4]
        city_division = divisions.get(city + "00")
        group = self.business_group_id(index)
        items = [
            CatalogItem(
                device_id=platform_id,
                name=facts.name,
                manufacturer=facts.manufacturer,
                model=facts.model,
                owner="Owner",
                civil_code=county,
                address=self._area,
                parental=1,
                register_way=1,
                secrecy=0,
                status="ON",
            ),
            CatalogItem(device_id=city, name=city_division.name if city_division else city),
            CatalogItem(device_id=county, name=self._county_name or county, parent_id=city),
            CatalogItem(device_id=group, name=BUSINESS_GROUP_NAME, parent_id=platform_id),
        ]
        for number, name in enumerate(VIRTUAL_ORGS):
            items.append(
                CatalogItem(
                    device_id=self.virtual_org_id(index, number),
                    name=name,
                    parent_id=group,
                    business_group_id=group,
                )
            )
        return items

    def records(
        self, channel_id: str, name: str | None, start: dt.datetime, end: dt.datetime, *, limit: int
    ) -> list[RecordItem]:
        """Synthetic recordings of a channel between ``start`` and ``end``: one file per clock hour, clipped
        to the window, at most ``limit``."""
        items: list[RecordItem] = []
        if end <= start:
            return items
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end and len(items) < limit:
            begin, finish = max(hour, start), min(hour + dt.timedelta(seconds=RECORD_SECONDS), end)
            seconds = int((finish - begin).total_seconds())
            if seconds > 0:
                items.append(
                    RecordItem(
                        device_id=channel_id,
                        name=name,
                        file_path=f"/record/{channel_id}/{begin:%Y%m%d}/{begin:%H%M%S}.mp4",
                        address=self._area or None,
                        start_time=begin,
                        end_time=finish,
                        secrecy=0,
                        type=RecordType.TIME,
                        file_size=seconds * RECORD_BYTES_PER_SECOND,
                    )
                )
            hour += dt.timedelta(seconds=RECORD_SECONDS)
        return items
