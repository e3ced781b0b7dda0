"""Catalog: the query, the response fragments (SumNum, ``DeviceList Num=``, items) and the NOTIFY events.

A catalog arrives as one or more Response MESSAGEs sharing the query's SN, each with the total (``SumNum``) and
some items; :class:`~xueliang.protocol.manscdp.assembler.CatalogAssembler` puts them back together.
:func:`fragment_catalog` does the opposite for what we send (the simulator, cascade): items packed into messages
under a byte budget (about 1,300 bytes over UDP) and/or an item count (up to 10,000 over TCP).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.catalog_item import CatalogEvent, CatalogItem
from xueliang.protocol.manscdp.charset import Charset
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.errors import LocalError, MessageError
from xueliang.protocol.manscdp.values import Writer, read_datetime, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = [
    "CatalogEvent",
    "CatalogItem",
    "CatalogNotify",
    "CatalogQuery",
    "CatalogResponse",
    "fragment_catalog",
]


@dataclass(frozen=True, slots=True)
class CatalogQuery(WireMessage):
    KIND = Kind.QUERY
    CMD_TYPE = "Catalog"

    sn: int
    device_id: str
    start_time: dt.datetime | None = None  # optional: changes since (subscriptions)
    end_time: dt.datetime | None = None

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> CatalogQuery:
        head = header_of(root, header)
        return cls(
            head.sn,
            head.device_id,
            read_datetime(root.text("StartTime")),
            read_datetime(root.text("EndTime")),
        )

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("StartTime", self.start_time)
        writer.field("EndTime", self.end_time)


def _read_items(root: Node) -> tuple[int | None, int | None, tuple[CatalogItem, ...], int]:
    """SumNum, the DeviceList's Num, the items, and how many items were dropped for lacking a DeviceID."""
    sum_num = read_int(root.text("SumNum"))
    device_list = root.child("DeviceList")
    if device_list is None:
        return sum_num, None, (), 0
    num = read_int(device_list.attribute("Num"))
    items: list[CatalogItem] = []
    dropped = 0
    for node in device_list.children("Item"):
        try:
            items.append(CatalogItem.parse(node))
        except MessageError:
            dropped += 1
    return sum_num, num, tuple(items), dropped


def _write_items(writer: Writer, sum_num: int | None, items: Sequence[CatalogItem], edition: Edition) -> None:
    writer.field("SumNum", len(items) if sum_num is None else sum_num)
    writer.open("DeviceList", Num=len(items))
    for item in items:
        item.write(writer, edition)
    writer.close()


@dataclass(frozen=True, slots=True)
class _CatalogItems(WireMessage):
    """What a Catalog Response fragment and a Catalog NOTIFY share: SumNum and a DeviceList of items."""

    CMD_TYPE = "Catalog"

    sn: int
    device_id: str
    sum_num: int | None
    items: tuple[CatalogItem, ...] = ()
    num: int | None = field(default=None, compare=False)
    dropped: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> Self:
        head = header_of(root, header)
        sum_num, num, items, dropped = _read_items(root)
        return cls(head.sn, head.device_id, sum_num, items, num, dropped)

    @property
    def num_mismatch(self) -> bool:
        """The DeviceList's Num disagrees with the items it holds."""
        return self.num is not None and self.num != len(self.items) + self.dropped

    def _write(self, writer: Writer, edition: Edition) -> None:
        _write_items(writer, self.sum_num, self.items, edition)


@dataclass(frozen=True, slots=True)
class CatalogResponse(_CatalogItems):
    """One fragment of a catalog. ``num`` is the ``DeviceList Num=`` as received (None when absent); ``dropped``
    counts items that had no DeviceID. Encoding writes ``Num`` from the items actually sent."""

    KIND = Kind.RESPONSE


@dataclass(frozen=True, slots=True)
class CatalogNotify(_CatalogItems):
    """A Catalog NOTIFY (subscription): items carrying ``event`` (ON, OFF, VLOST, DEFECT, DEL, ADD, UPDATE)."""

    KIND = Kind.NOTIFY

    def events(self) -> list[tuple[CatalogEvent | None, CatalogItem]]:
        """Each item with its event as a :class:`CatalogEvent` (None for an event this layer does not know)."""
        known = {event.value for event in CatalogEvent}
        return [(CatalogEvent(item.event) if item.event in known else None, item) for item in self.items]

    def _write(self, writer: Writer, edition: Edition) -> None:
        _write_items(writer, self.sum_num, self.items, edition)


def fragment_catalog(
    sn: int,
    device_id: str,
    items: Sequence[CatalogItem],
    *,
    edition: Edition | str = Edition.GB2016,
    charset: Charset | str = Charset.GB2312,
    max_bytes: int | None = 1300,
    max_items: int | None = None,
) -> list[CatalogResponse]:
    """Split ``items`` into Catalog responses sharing ``sn``, each encoding to at most ``max_bytes`` (UDP) and
    holding at most ``max_items``. Zero items give one response with SumNum 0. An item too large for
    ``max_bytes`` on its own is a :class:`LocalError`."""
    chosen, code = Edition(edition), Charset(charset)
    total = len(items)
    if total == 0:
        return [CatalogResponse(sn, device_id, 0, ())]
    if max_bytes is None:
        step = max_items or total
        return [CatalogResponse(sn, device_id, total, tuple(items[i : i + step])) for i in range(0, total, step)]
    # the empty envelope, plus slack for the digits of Num="..."
    overhead = len(CatalogResponse(sn, device_id, total, ()).encode(chosen, code)) + len(str(total))
    fragments: list[CatalogResponse] = []
    batch: list[CatalogItem] = []
    size = overhead
    for item in items:
        writer = Writer("x")
        item.write(writer, chosen)
        cost = len(writer.text().encode(_CODEC[code], errors="xmlcharrefreplace")) - len("<x>\r\n</x>\r\n")
        if overhead + cost > max_bytes:
            raise LocalError("encode.too_large", f"catalog item {item.device_id} alone exceeds {max_bytes} bytes")
        if batch and (size + cost > max_bytes or (max_items is not None and len(batch) >= max_items)):
            fragments.append(CatalogResponse(sn, device_id, total, tuple(batch)))
            batch, size = [], overhead
        batch.append(item)
        size += cost
    fragments.append(CatalogResponse(sn, device_id, total, tuple(batch)))
    return fragments


_CODEC = {Charset.GB2312: "gb2312", Charset.GBK: "gbk", Charset.GB18030: "gb18030", Charset.UTF8: "utf-8"}
