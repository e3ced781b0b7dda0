"""What every MANSCDP message shares: the root kinds, the header (CmdType, SN, DeviceID), the edition, and the
base class whose ``encode``/``__bytes__``/``from_bytes`` each message inherits."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Self

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.charset import Charset, encode
from xueliang.protocol.manscdp.errors import LocalError, MessageError
from xueliang.protocol.manscdp.values import Writer, require_int
from xueliang.protocol.manscdp.xml import MAX_BODY_SIZE, Node, read_document

__all__ = [
    "Edition",
    "Header",
    "Kind",
    "Result",
    "WireMessage",
    "check_header",
    "edition_from_header",
    "header_for_edition",
    "header_of",
    "read_result",
]

MAX_ID_LENGTH = 64  # device IDs are 20 digits; 18-digit 2011 IDs and vendor oddities pass, novels do not


class Kind(enum.StrEnum):
    """The four root elements."""

    QUERY = "Query"
    CONTROL = "Control"
    NOTIFY = "Notify"
    RESPONSE = "Response"


_KINDS = {kind.value.lower(): kind for kind in Kind}


class Result(enum.StrEnum):
    OK = "OK"
    ERROR = "ERROR"


def read_result(text: str) -> Result:
    """``OK`` in any case is OK; anything else (``ERROR``, ``Fail``, absent) is ERROR."""
    return Result.OK if text.upper() == "OK" else Result.ERROR


def edition_from_header(value: str | None) -> Edition:
    """The edition an ``X-GB-Ver`` header names: 3.x -> 2022, 2.x, 1.x, absent or unreadable -> 2016."""
    if value:
        major = value.strip().partition(".")[0]
        if major.isdigit() and int(major) >= 3:
            return Edition.GB2022
    return Edition.GB2016


def header_for_edition(edition: Edition | str) -> str:
    """The ``X-GB-Ver`` value for an edition: ``2.0`` (2016) or ``3.0`` (2022)."""
    return "3.0" if Edition(edition) is Edition.GB2022 else "2.0"


def header_of(root: Node, header: Header | None) -> Header:
    return Header.parse(root) if header is None else header


def check_header(sn: int, device_id: str) -> None:
    """Constructor check shared by every message: what the wire cannot carry is a :class:`LocalError`."""
    if sn < 0:
        raise LocalError("encode.sn", f"SN must not be negative: {sn}")
    if not device_id or len(device_id) > MAX_ID_LENGTH or not device_id.isprintable():
        raise LocalError("encode.device_id", f"unusable DeviceID: {device_id[:80]!r}")


@dataclass(frozen=True, slots=True)
class Header:
    """Root kind, CmdType, SN and DeviceID of a document, read before dispatch."""

    kind: Kind
    cmd_type: str
    sn: int
    device_id: str

    @classmethod
    def parse(cls, root: Node) -> Header:
        kind = _KINDS.get(root.key)
        if kind is None:
            raise MessageError("message.root", f"root element <{root.name[:40]}> is not Query/Control/Notify/Response")
        cmd_type = root.text("CmdType")
        if not cmd_type:
            raise MessageError("message.cmdtype", "CmdType is missing")
        sn = require_int(root.text("SN"), "SN")
        if sn < 0:
            raise MessageError("message.sn", f"SN is negative: {sn}")
        device_id = root.text("DeviceID")
        if not device_id or len(device_id) > MAX_ID_LENGTH or not device_id.isprintable():
            raise MessageError("message.deviceid", f"DeviceID is missing or unusable: {device_id[:80]!r}")
        return cls(kind, cmd_type, sn, device_id)


class WireMessage:
    """Base of the message dataclasses: ``KIND`` and ``CMD_TYPE`` name the root and CmdType; subclasses give
    ``parse(root)`` and ``_write(writer, edition)``."""

    __slots__ = ()
    KIND: ClassVar[Kind]
    CMD_TYPE: ClassVar[str]
    sn: int
    device_id: str

    @property
    def cmd_type(self) -> str:
        return self.CMD_TYPE

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> Self:
        """Read the message from its root element; ``header`` when the caller has read it already."""
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes, *, max_size: int = MAX_BODY_SIZE) -> Self:
        """Read a body that must be this message (a :class:`MessageError` otherwise)."""
        root = read_document(data, max_size=max_size).root
        header = Header.parse(root)
        if header.kind is not cls.KIND or header.cmd_type.lower() != cls.CMD_TYPE.lower():
            raise MessageError(
                "message.unexpected", f"expected {cls.KIND} {cls.CMD_TYPE}, got {header.kind} {header.cmd_type}"
            )
        return cls.parse(root, header)

    def _write(self, writer: Writer, edition: Edition) -> None:
        raise NotImplementedError

    def to_xml(self, edition: Edition | str = Edition.GB2016) -> str:
        """The document as text, without declaration."""
        writer = Writer(self.KIND.value)
        writer.field("CmdType", self.cmd_type)
        writer.field("SN", self.sn)
        writer.field("DeviceID", self.device_id)
        self._write(writer, Edition(edition))
        return writer.text()

    def encode(self, edition: Edition | str = Edition.GB2016, charset: Charset | str = Charset.GB2312) -> bytes:
        """The body in ``edition``'s layout and ``charset``, with a matching declaration."""
        return encode(self.to_xml(edition), charset)

    def __bytes__(self) -> bytes:
        return self.encode()
