"""DeviceInfo and DeviceStatus: the queries and their responses.

DeviceInfo answers DeviceName, Manufacturer, Model, Firmware and Channel (vendors add DeviceType, MaxCamera,
MaxAlarm, ...: kept in ``extra``). DeviceStatus answers Online, Status, Reason, Encode, Record, DeviceTime and the
alarm status list (``<Alarmstatus Num=>`` in whatever case) of ``Item``\\ s with DeviceID and DutyStatus.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import (
    Header,
    Kind,
    Result,
    WireMessage,
    check_header,
    header_of,
    read_result,
)
from xueliang.protocol.manscdp.values import Writer, read_datetime, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = ["AlarmStatusItem", "DeviceInfo", "DeviceInfoQuery", "DeviceStatus", "DeviceStatusQuery"]


@dataclass(frozen=True, slots=True)
class DeviceInfoQuery(WireMessage):
    KIND = Kind.QUERY
    CMD_TYPE = "DeviceInfo"

    sn: int
    device_id: str

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> DeviceInfoQuery:
        head = header_of(root, header)
        return cls(head.sn, head.device_id)

    def _write(self, writer: Writer, edition: Edition) -> None:
        pass


@dataclass(frozen=True, slots=True)
class DeviceStatusQuery(WireMessage):
    KIND = Kind.QUERY
    CMD_TYPE = "DeviceStatus"

    sn: int
    device_id: str

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> DeviceStatusQuery:
        head = header_of(root, header)
        return cls(head.sn, head.device_id)

    def _write(self, writer: Writer, edition: Edition) -> None:
        pass


_INFO_KEYS = frozenset(
    {"cmdtype", "sn", "deviceid", "result", "devicename", "manufacturer", "model", "firmware", "channel"}
)


@dataclass(frozen=True, slots=True)
class DeviceInfo(WireMessage):
    """The DeviceInfo response."""

    KIND = Kind.RESPONSE
    CMD_TYPE = "DeviceInfo"

    sn: int
    device_id: str
    result: Result = Result.OK
    device_name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    channel: int | None = None  # number of channels
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> DeviceInfo:
        head = header_of(root, header)
        return cls(
            head.sn,
            head.device_id,
            read_result(root.text("Result") or "OK"),
            root.text("DeviceName") or None,
            root.text("Manufacturer") or None,
            root.text("Model") or None,
            root.text("Firmware") or None,
            read_int(root.text("Channel")),
            root.others(_INFO_KEYS),
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("DeviceName", self.device_name)
        writer.field("Result", self.result.value)
        writer.field("Manufacturer", self.manufacturer)
        writer.field("Model", self.model)
        writer.field("Firmware", self.firmware)
        writer.field("Channel", self.channel)
        writer.fields(dict(self.extra))


@dataclass(frozen=True, slots=True)
class AlarmStatusItem:
    device_id: str
    duty_status: str  # ONDUTY, OFFDUTY, ALARM as received


_STATUS_KEYS = frozenset(
    {
        "cmdtype",
        "sn",
        "deviceid",
        "result",
        "online",
        "status",
        "reason",
        "encode",
        "record",
        "devicetime",
        "alarmstatus",
    }
)


@dataclass(frozen=True, slots=True)
class DeviceStatus(WireMessage):
    """The DeviceStatus response. Text fields as received (ONLINE/OFFLINE, OK/ERROR, ON/OFF)."""

    KIND = Kind.RESPONSE
    CMD_TYPE = "DeviceStatus"

    sn: int
    device_id: str
    result: Result = Result.OK
    online: str | None = None
    status: str | None = None
    reason: str | None = None
    encode_status: str | None = None  # <Encode>
    record_status: str | None = None  # <Record>
    device_time: dt.datetime | None = None
    alarm_status: tuple[AlarmStatusItem, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> DeviceStatus:
        head = header_of(root, header)
        alarms: list[AlarmStatusItem] = []
        alarm_list = root.child("Alarmstatus")
        if alarm_list is not None:
            for item in alarm_list.children("Item"):
                if device_id := item.text("DeviceID"):
                    alarms.append(AlarmStatusItem(device_id, item.text("DutyStatus").upper()))
        return cls(
            head.sn,
            head.device_id,
            read_result(root.text("Result") or "OK"),
            root.text("Online").upper() or None,
            root.text("Status").upper() or None,
            root.text("Reason") or None,
            root.text("Encode").upper() or None,
            root.text("Record").upper() or None,
            read_datetime(root.text("DeviceTime")),
            tuple(alarms),
            root.others(_STATUS_KEYS),
        )

    @property
    def is_online(self) -> bool:
        return (self.online or "").upper() in ("ONLINE", "ON")

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("Result", self.result.value)
        writer.field("Online", self.online)
        writer.field("Status", self.status)
        writer.field("Reason", self.reason)
        writer.field("Encode", self.encode_status)
        writer.field("Record", self.record_status)
        writer.field("DeviceTime", self.device_time)
        if self.alarm_status:
            writer.open("Alarmstatus", Num=len(self.alarm_status))
            for item in self.alarm_status:
                writer.open("Item")
                writer.field("DeviceID", item.device_id)
                writer.field("DutyStatus", item.duty_status)
                writer.close()
            writer.close()
        writer.fields(dict(self.extra))
