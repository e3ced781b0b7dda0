"""Bytes in, a typed message out: :func:`parse` reads a body and dispatches on (root kind, CmdType).

CmdType is matched case-insensitively. A Response without its payload (a Catalog or RecordInfo answer carrying
only ``Result``, a DeviceControl or Alarm answer) is a :class:`CommandResponse`; a CmdType not modelled here is an
:class:`UnknownMessage`, so the endpoint can still answer 200 OK and log it. Everything that cannot be read raises
a :class:`~xueliang.protocol.manscdp.errors.RemoteError`, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xueliang.protocol.manscdp.alarm import AlarmNotify
from xueliang.protocol.manscdp.catalog import CatalogNotify, CatalogQuery, CatalogResponse
from xueliang.protocol.manscdp.charset import Charset
from xueliang.protocol.manscdp.common import Header, Kind
from xueliang.protocol.manscdp.control import DeviceControl
from xueliang.protocol.manscdp.device import DeviceInfo, DeviceInfoQuery, DeviceStatus, DeviceStatusQuery
from xueliang.protocol.manscdp.keepalive import Keepalive
from xueliang.protocol.manscdp.media_status import MediaStatus
from xueliang.protocol.manscdp.record import RecordInfoQuery, RecordInfoResponse
from xueliang.protocol.manscdp.response import CommandResponse, UnknownMessage
from xueliang.protocol.manscdp.xml import MAX_BODY_SIZE, Document, Node, read_document

__all__ = ["Message", "Parsed", "parse", "parse_document"]

Message = (
    Keepalive
    | CatalogQuery
    | CatalogResponse
    | CatalogNotify
    | DeviceInfoQuery
    | DeviceInfo
    | DeviceStatusQuery
    | DeviceStatus
    | RecordInfoQuery
    | RecordInfoResponse
    | DeviceControl
    | AlarmNotify
    | MediaStatus
    | CommandResponse
    | UnknownMessage
)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed body: the message, the charset its bytes were in (answer in it), what was declared and what
    the reader repaired (``unescaped_ampersand``, ``trailing_garbage``, ``charset.mismatch``, ...)."""

    message: Message
    charset: Charset
    declared: str | None
    repairs: tuple[str, ...]


def _catalog_response(root: Node, header: Header) -> Message:
    if root.has("SumNum") or root.has("DeviceList"):
        return CatalogResponse.parse(root, header)
    return CommandResponse.parse(root, header)


def _record_response(root: Node, header: Header) -> Message:
    if root.has("SumNum") or root.has("RecordList"):
        return RecordInfoResponse.parse(root, header)
    return CommandResponse.parse(root, header)


_DISPATCH: dict[tuple[Kind, str], Callable[[Node, Header], Message]] = {
    (Kind.NOTIFY, "keepalive"): Keepalive.parse,
    (Kind.NOTIFY, "catalog"): CatalogNotify.parse,
    (Kind.NOTIFY, "alarm"): AlarmNotify.parse,
    (Kind.NOTIFY, "mediastatus"): MediaStatus.parse,
    (Kind.QUERY, "catalog"): CatalogQuery.parse,
    (Kind.QUERY, "deviceinfo"): DeviceInfoQuery.parse,
    (Kind.QUERY, "devicestatus"): DeviceStatusQuery.parse,
    (Kind.QUERY, "recordinfo"): RecordInfoQuery.parse,
    (Kind.CONTROL, "devicecontrol"): DeviceControl.parse,
    (Kind.RESPONSE, "catalog"): _catalog_response,
    (Kind.RESPONSE, "deviceinfo"): DeviceInfo.parse,
    (Kind.RESPONSE, "devicestatus"): DeviceStatus.parse,
    (Kind.RESPONSE, "recordinfo"): _record_response,
}


def parse_document(document: Document) -> Message:
    """The message of a document read with :func:`~xueliang.protocol.manscdp.xml.read_document`."""
    root = document.root
    header = Header.parse(root)
    reader = _DISPATCH.get((header.kind, header.cmd_type.lower()))
    if reader is not None:
        return reader(root, header)
    if header.kind is Kind.RESPONSE and root.has("Result"):
        return CommandResponse.parse(root, header)
    return UnknownMessage.parse(root, header)


def parse(data: bytes, *, max_size: int = MAX_BODY_SIZE) -> Parsed:
    """Read a MANSCDP body. Raises :class:`~xueliang.protocol.manscdp.errors.RemoteError` and nothing else."""
    document = read_document(data, max_size=max_size)
    return Parsed(parse_document(document), document.charset, document.declared, document.repairs)
