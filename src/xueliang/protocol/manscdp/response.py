"""Generic answers: a Response carrying only ``Result`` (DeviceControl, Alarm, a refused query), and messages
whose CmdType this layer does not model (kept as flat fields, so the endpoint can log and 200 OK them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

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
from xueliang.protocol.manscdp.values import Writer
from xueliang.protocol.manscdp.xml import Node

__all__ = ["CommandResponse", "UnknownMessage"]

_HEADER_KEYS = frozenset({"cmdtype", "sn", "deviceid"})


@dataclass(frozen=True, slots=True)
class CommandResponse(WireMessage):
    """``<Response>`` with CmdType, SN, DeviceID and Result OK/ERROR (and a ``Reason`` some devices add)."""

    KIND: ClassVar[Kind] = Kind.RESPONSE
    CMD_TYPE: ClassVar[str] = ""

    cmd_type: str = field()  # per instance: the CmdType answered (field(): not the base property)
    sn: int
    device_id: str
    result: Result = Result.OK
    reason: str | None = None

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def answer(cls, message: WireMessage, result: Result = Result.OK, reason: str | None = None) -> CommandResponse:
        """The Response to ``message`` (same CmdType, SN and DeviceID): an Alarm's, a DeviceControl's."""
        return cls(message.cmd_type, message.sn, message.device_id, result, reason)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> CommandResponse:
        head = header_of(root, header)
        return cls(
            head.cmd_type, head.sn, head.device_id, read_result(root.text("Result")), root.text("Reason") or None
        )

    @property
    def ok(self) -> bool:
        return self.result is Result.OK

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("Result", self.result.value)
        writer.field("Reason", self.reason)


@dataclass(frozen=True, slots=True)
class UnknownMessage(WireMessage):
    """A well-formed message of a CmdType not modelled here (ConfigDownload, PresetQuery, MobilePosition, ...)."""

    KIND: ClassVar[Kind] = Kind.NOTIFY
    CMD_TYPE: ClassVar[str] = ""

    kind: Kind
    cmd_type: str = field()
    sn: int
    device_id: str
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)  # other children, nested as "A/B"

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> UnknownMessage:
        head = header_of(root, header)
        return cls(head.kind, head.cmd_type, head.sn, head.device_id, root.others(_HEADER_KEYS))

    def to_xml(self, edition: Edition | str = Edition.GB2016) -> str:
        writer = Writer(self.kind.value)
        writer.field("CmdType", self.cmd_type)
        writer.field("SN", self.sn)
        writer.field("DeviceID", self.device_id)
        writer.fields(dict(self.fields))
        return writer.text()
