"""Keepalive (Notify): sent every 60 s by default; 3 missed and the device is offline. ``Status`` is OK or
ERROR; ``Info`` may list the IDs of faulty sub-devices."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.values import Writer
from xueliang.protocol.manscdp.xml import Node

__all__ = ["Keepalive"]


@dataclass(frozen=True, slots=True)
class Keepalive(WireMessage):
    KIND = Kind.NOTIFY
    CMD_TYPE = "Keepalive"

    sn: int
    device_id: str
    status: str = "OK"  # as received: OK, ERROR (some send "ON")
    faulty: tuple[str, ...] = ()  # sub-devices the device reports as faulty

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> Keepalive:
        head = header_of(root, header)
        info = root.child("Info")
        faulty = () if info is None else tuple(v for n in info.children("DeviceID") if (v := n.value))
        return cls(head.sn, head.device_id, root.text("Status"), faulty)

    @property
    def ok(self) -> bool:
        return self.status.upper() in ("OK", "ON", "")

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("Status", self.status)
        if self.faulty:
            writer.open("Info")
            for device_id in self.faulty:
                writer.field("DeviceID", device_id)
            writer.close()
