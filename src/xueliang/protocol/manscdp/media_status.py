"""MediaStatus (Notify): in-dialog end of a playback or download, NotifyType 121 -> 200 OK -> BYE."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp.common import Header, Kind, WireMessage, check_header, header_of
from xueliang.protocol.manscdp.values import Writer, read_int
from xueliang.protocol.manscdp.xml import Node

__all__ = ["MEDIA_END", "MediaStatus"]

MEDIA_END = 121  # the file has been sent to the end


@dataclass(frozen=True, slots=True)
class MediaStatus(WireMessage):
    KIND = Kind.NOTIFY
    CMD_TYPE = "MediaStatus"

    sn: int
    device_id: str
    notify_type: int | None = MEDIA_END  # None when absent or unreadable

    def __post_init__(self) -> None:
        check_header(self.sn, self.device_id)

    @classmethod
    def parse(cls, root: Node, header: Header | None = None) -> MediaStatus:
        head = header_of(root, header)
        return cls(head.sn, head.device_id, read_int(root.text("NotifyType")))

    @property
    def is_end(self) -> bool:
        return self.notify_type == MEDIA_END

    def _write(self, writer: Writer, edition: Edition) -> None:
        writer.field("NotifyType", self.notify_type)
