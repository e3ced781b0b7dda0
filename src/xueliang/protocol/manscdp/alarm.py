"""Alarm (Notify): a device's alarm -> 200 OK -> our Response (``CommandResponse.answer(alarm)``).

Priority 1-4 (一级 to 四级警情), method 1-7 (phone, device, SMS, GPS, video, device fault, other), the time,
the type (``Info/AlarmType``, with ``Info/AlarmTypeParam/EventType`` for video alarms), a description and
coordinates. Values outside those ranges are kept as received (an alarm is never dropped for a bad number): check
``priority_valid``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.values import Writer, read_datetime, read_float, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = ["AlarmMethod", "AlarmNotify", "AlarmPriority"]


class AlarmPriority(enum.IntEnum):
    FIRST = 1
    SECOND = 2
    THIRD = 3
    FOURTH = 4


class AlarmMethod(enum.IntEnum):
    PHONE = 1
    DEVICE = 2
    SMS = 3
    GPS = 4
    VIDEO = 5
    DEVICE_FAULT = 6
    OTHER = 7


_KEYS = frozenset(
    {
        "cmdtype",
        "sn",
        "deviceid",
        "alarmpriority",
        "alarmmethod",
        "alarmtime",
        "alarmdescription",
        "longitude",
        "latitude",
        "info",
    }
)


@dataclass(frozen=True, slots=True)
class AlarmNotify(WireMessage):
    KIND = Kind.NOTIFY
    CMD_TYPE = "Alarm"

    sn: int
    device_id: str
    priority: int | None = None
    method: int | None = None
    time: dt.datetime | None = None
    description: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    alarm_type: str | None = None
    event_type: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @property
    def priority_valid(self) -> bool:
        return self.priority is not None and 1 <= self.priority <= 4

    @property
    def method_valid(self) -> bool:
        return self.method is not None and 1 <= self.method <= 7

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> AlarmNotify:
        head = header_of(root, header)
        info = root.child("Info")
        alarm_type = event_type = None
        extra = root.others(_KEYS)
        if info is not None:
            alarm_type = info.text("AlarmType") or None
            param = info.child("AlarmTypeParam")
            event_type = (param.text("EventType") or None) if param is not None else None
            extra.update(info.others(frozenset({"alarmtype", "alarmtypeparam"}), "Info/"))
        return cls(
            head.sn,
            head.device_id,
            read_int(root.text("AlarmPriority")),
            read_int(root.text("AlarmMethod")),
            read_datetime(root.text("AlarmTime")),
            root.text("AlarmDescription") or None,
            read_float(root.text("Longitude")),
            read_float(root.text("Latitude")),
            alarm_type,
            event_type,
            extra,
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("AlarmPriority", self.priority)
        writer.field("AlarmMethod", self.method)
        writer.field("AlarmTime", self.time)
        writer.field("AlarmDescription", self.description)
        writer.field("Longitude", self.longitude)
        writer.field("Latitude", self.latitude)
        outer = {k: v for k, v in self.extra.items() if not k.startswith("Info/")}
        inner = {k[5:]: v for k, v in self.extra.items() if k.startswith("Info/")}
        if self.alarm_type or self.event_type or inner:
            writer.open("Info")
            writer.field("AlarmType", self.alarm_type)
            if self.event_type:
                writer.open("AlarmTypeParam")
                writer.field("EventType", self.event_type)
                writer.close()
            writer.fields(inner)
            writer.close()
        writer.fields(outer)
