"""RecordInfo: the query (time range, type, path ...) and the response fragments (``SumNum``, ``RecordList
Num=``, items), assembled like Catalog by :class:`~xueliang.protocol.manscdp.assembler.RecordAssembler`.

Times are the device's local time as written (naive datetimes); 2022 adds StreamNumber, AlarmMethod and
AlarmType to the query and RecordLocation and StreamNumber to the items.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.errors import MessageError
from xueliang.protocol.manscdp.values import Writer, read_datetime, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = ["RecordInfoQuery", "RecordInfoResponse", "RecordItem", "RecordType"]


class RecordType:
    """Values of ``Type`` (query and items)."""

    ALL = "all"
    TIME = "time"
    ALARM = "alarm"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class RecordInfoQuery(WireMessage):
    KIND = Kind.QUERY
    CMD_TYPE = "RecordInfo"

    sn: int
    device_id: str  # the channel
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = None
    type: str | None = RecordType.ALL
    recorder_id: str | None = None
    indistinct_query: int | None = None
    stream_number: int | None = None  # 2022
    alarm_method: str | None = None  # 2022
    alarm_type: str | None = None  # 2022

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> RecordInfoQuery:
        head = header_of(root, header)
        return cls(
            head.sn,
            head.device_id,
            read_datetime(root.text("StartTime")),
            read_datetime(root.text("EndTime")),
            root.text("FilePath") or None,
            root.text("Address") or None,
            read_int(root.text("Secrecy")),
            root.text("Type") or None,
            root.text("RecorderID") or None,
            read_int(root.text("IndistinctQuery")),
            read_int(root.text("StreamNumber")),
            root.text("AlarmMethod") or None,
            root.text("AlarmType") or None,
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("StartTime", self.start_time)
        writer.field("EndTime", self.end_time)
        writer.field("FilePath", self.file_path)
        writer.field("Address", self.address)
        writer.field("Secrecy", self.secrecy)
        writer.field("Type", self.type)
        writer.field("RecorderID", self.recorder_id)
        writer.field("IndistinctQuery", self.indistinct_query)
        if edition is Edition.GB2022:
            writer.field("StreamNumber", self.stream_number)
            writer.field("AlarmMethod", self.alarm_method)
            writer.field("AlarmType", self.alarm_type)


_ITEM_FIELDS = (
    ("DeviceID", "device_id"),
    ("Name", "name"),
    ("FilePath", "file_path"),
    ("Address", "address"),
    ("StartTime", "start_time"),
    ("EndTime", "end_time"),
    ("Secrecy", "secrecy"),
    ("Type", "type"),
    ("RecorderID", "recorder_id"),
    ("FileSize", "file_size"),
    ("RecordLocation", "record_location"),
    ("StreamNumber", "stream_number"),
)
_ITEM_KEYS = frozenset(xml.lower() for xml, _ in _ITEM_FIELDS)
_ONLY_2022 = frozenset({"record_location", "stream_number"})


@dataclass(frozen=True, slots=True)
class RecordItem:
    """One recording. Unreadable times and numbers are None with their raw text in ``malformed``."""

    device_id: str
    name: str | None = None
    file_path: str | None = None
    address: str | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    secrecy: int | None = None
    type: str | None = None
    recorder_id: str | None = None
    file_size: int | None = None  # bytes
    record_location: str | None = None  # 2022
    stream_number: int | None = None  # 2022
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)
    malformed: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def parse(cls, node: Node) -> RecordItem:
        device_id = node.text("DeviceID")
        if not device_id:
            raise MessageError("message.item", "record item without DeviceID")
        malformed: dict[str, str] = {}

        def when(name: str) -> dt.datetime | None:
            raw = node.text(name)
            value = read_datetime(raw)
            if raw and value is None:
                malformed[name] = raw
            return value

        def number(name: str) -> int | None:
            raw = node.text(name)
            value = read_int(raw)
            if raw and value is None:
                malformed[name] = raw
            return value

        return cls(
            device_id,
            node.text("Name") or None,
            node.text("FilePath") or None,
            node.text("Address") or None,
            when("StartTime"),
            when("EndTime"),
            number("Secrecy"),
            node.text("Type") or None,
            node.text("RecorderID") or None,
            number("FileSize"),
            node.text("RecordLocation") or None,
            number("StreamNumber"),
            node.others(_ITEM_KEYS),
            malformed,
        )

    @property
    def key(self) -> tuple[str, str | None, dt.datetime | None, dt.datetime | None]:
        """What makes two items the same recording (duplicates across fragments)."""
        return (self.device_id, self.file_path, self.start_time, self.end_time)

    def for_edition(self, edition: Edition | str) -> RecordItem:
        if Edition(edition) is Edition.GB2022:
            return self
        return dataclasses.replace(self, record_location=None, stream_number=None)

    def write(self, writer: Writer, edition: Edition) -> None:
        writer.open("Item")
        for xml, attr in _ITEM_FIELDS:
            if attr in _ONLY_2022 and edition is not Edition.GB2022:
                continue
            writer.field(xml, getattr(self, attr))
        writer.fields(dict(self.extra))
        writer.close()


@dataclass(frozen=True, slots=True)
class RecordInfoResponse(WireMessage):
    """One fragment of a RecordInfo answer; ``num`` is ``RecordList Num=`` as received."""

    KIND = Kind.RESPONSE
    CMD_TYPE = "RecordInfo"

    sn: int
    device_id: str
    sum_num: int | None
    items: tuple[RecordItem, ...] = ()
    name: str | None = None
    num: int | None = field(default=None, compare=False)
    dropped: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> RecordInfoResponse:
        head = header_of(root, header)
        record_list = root.child("RecordList")
        items: list[RecordItem] = []
        dropped = 0
        num = None
        if record_list is not None:
            num = read_int(record_list.attribute("Num"))
            for node in record_list.children("Item"):
                try:
                    items.append(RecordItem.parse(node))
                except MessageError:
                    dropped += 1
        return cls(
            head.sn,
            head.device_id,
            read_int(root.text("SumNum")),
            tuple(items),
            root.text("Name") or None,
            num,
            dropped,
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("Name", self.name)
        writer.field("SumNum", len(self.items) if self.sum_num is None else self.sum_num)
        writer.open("RecordList", Num=len(self.items))
        for item in self.items:
            item.write(writer, edition)
        writer.close()
