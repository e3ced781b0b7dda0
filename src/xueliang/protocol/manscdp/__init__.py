"""MANSCDP (GB/T 28181 ``Application/MANSCDP+xml`` bodies), sans-IO: bytes in, typed messages out, and back.

Modules, bottom up::

    errors        the exception hierarchy (ManscdpError > RemoteError > XmlError/MessageError/PtzError, LocalError)
    charset       decode by declaration with GB 18030 fallback; encode with a matching declaration
    xml           safe reading (size bound, no DTD, repairs of device faults) and case-insensitive Node access
    values        field values both ways and the XML Writer
    common        Kind, Result, Header, Edition helpers (X-GB-Ver), the WireMessage base (encode, __bytes__)
    ptz           the 8-byte PTZCmd codec
    keepalive, catalog_item, catalog, device, record, control, alarm, media_status, response
                  one module per command family: frozen slotted dataclasses with parse(root) and encode()
    assembler     fragments (Catalog, RecordInfo) back into whole answers per (device, SN), with a timeout
    messages      parse(bytes) -> Parsed(message, charset, declared, repairs): the entry point

Typical use::

    parsed = manscdp.parse(body)                 # RemoteError on bad input, nothing else
    device.charset = parsed.charset              # answer in kind
    if isinstance(parsed.message, manscdp.Keepalive): ...
    body = manscdp.CatalogQuery(sn, device_id).encode(edition, device.charset)
"""

from __future__ import annotations

from xueliang.protocol.manscdp.alarm import AlarmMethod, AlarmNotify, AlarmPriority
from xueliang.protocol.manscdp.assembler import (
    Assembly,
    AssemblyNote,
    AssemblyStatus,
    CatalogAssembler,
    FragmentAssembler,
    RecordAssembler,
)
from xueliang.protocol.manscdp.catalog import (
    CatalogEvent,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    fragment_catalog,
)
from xueliang.protocol.manscdp.charset import Charset, Decoded, charset_from_label, decode, encode, looks_garbled
from xueliang.protocol.manscdp.common import (
    Edition,
    Header,
    Kind,
    Result,
    WireMessage,
    edition_from_header,
    header_for_edition,
)
from xueliang.protocol.manscdp.control import DeviceControl, HomePosition
from xueliang.protocol.manscdp.device import (
    AlarmStatusItem,
    DeviceInfo,
    DeviceInfoQuery,
    DeviceStatus,
    DeviceStatusQuery,
)
from xueliang.protocol.manscdp.errors import (
    LocalError,
    ManscdpError,
    MessageError,
    PtzError,
    RemoteError,
    XmlError,
)
from xueliang.protocol.manscdp.keepalive import Keepalive
from xueliang.protocol.manscdp.media_status import MEDIA_END, MediaStatus
from xueliang.protocol.manscdp.messages import Message, Parsed, parse, parse_document
from xueliang.protocol.manscdp.ptz import PtzAction, PtzCmd, PtzKind
from xueliang.protocol.manscdp.record import RecordInfoQuery, RecordInfoResponse, RecordItem, RecordType
from xueliang.protocol.manscdp.response import CommandResponse, UnknownMessage
from xueliang.protocol.manscdp.xml import MAX_BODY_SIZE, Document, Node, read_document

__all__ = [
    "MAX_BODY_SIZE",
    "MEDIA_END",
    "AlarmMethod",
    "AlarmNotify",
    "AlarmPriority",
    "AlarmStatusItem",
    "Assembly",
    "AssemblyNote",
    "AssemblyStatus",
    "CatalogAssembler",
    "CatalogEvent",
    "CatalogItem",
    "CatalogNotify",
    "CatalogQuery",
    "CatalogResponse",
    "Charset",
    "CommandResponse",
    "Decoded",
    "DeviceControl",
    "DeviceInfo",
    "DeviceInfoQuery",
    "DeviceStatus",
    "DeviceStatusQuery",
    "Document",
    "Edition",
    "FragmentAssembler",
    "Header",
    "HomePosition",
    "Keepalive",
    "Kind",
    "LocalError",
    "ManscdpError",
    "MediaStatus",
    "Message",
    "MessageError",
    "Node",
    "Parsed",
    "PtzAction",
    "PtzCmd",
    "PtzError",
    "PtzKind",
    "RecordAssembler",
    "RecordInfoQuery",
    "RecordInfoResponse",
    "RecordItem",
    "RecordType",
    "RemoteError",
    "Result",
    "UnknownMessage",
    "WireMessage",
    "XmlError",
    "charset_from_label",
    "decode",
    "edition_from_header",
    "encode",
    "fragment_catalog",
    "header_for_edition",
    "looks_garbled",
    "parse",
    "parse_document",
    "read_document",
]
