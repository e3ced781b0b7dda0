"""Live streams: the types and the seams between signaling, media and the API (issue 4).

Pure types, no I/O. The composition root (``app.py``) wires the implementations:

- :class:`MediaReceivers` is implemented by ``media`` (RTP receivers of a media node) and used by ``signaling``
  ("a receiver for this SSRC") when it INVITEs a device;
- :class:`SourceOpener` is implemented by ``signaling`` (GB/T 28181 INVITE) and by ``media`` (RTSP pull) and used
  by the media node's stream manager, which owns each stream exactly once.

Error hierarchy (every one carries a user-facing reason; the API maps them to statuses)::

    PlayError
      UnknownCameraError      404  no such camera, or it has no playable source
      DeviceOfflineError      409  the device is not registered / online
      DeviceRefusedError      502  the device answered the INVITE with an error (488, 486, ...)
      StreamLimitError        429  the device's (or node's) concurrent stream limit is reached
      NoMediaError            504  the device accepted but no media arrived in time
      MediaNodeUnavailableError 503  no live media node can take the stream
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class MediaTransport(StrEnum):
    """How RTP reaches the media node, named from the platform's side (vendor UIs often say the opposite).

    ``tcp_passive``: the platform listens, the device connects. ``tcp_active``: the device listens (its port is in
    its SDP answer), the platform connects.
    """

    UDP = "udp"
    TCP_PASSIVE = "tcp_passive"
    TCP_ACTIVE = "tcp_active"


class SourceKind(StrEnum):
    GB28181 = "gb28181"
    RTSP = "rtsp"


@dataclass(frozen=True, slots=True)
class PlaySource:
    """Where a camera's live video comes from, resolved from the archive and the device settings."""

    camera_id: str
    kind: SourceKind
    device_id: str | None = None
    channel_id: str | None = None
    transport: MediaTransport = MediaTransport.UDP
    ssrc_check: bool = True
    max_streams: int | None = None
    rtsp_url: str | None = None  # with credentials, decrypted: never log it
    stream_number: int = 0  # 0 main stream, 1 sub-stream (a=streamnumber)
    name: str = ""

    @property
    def stream_id(self) -> str:
        """One stream per camera and stream number; the key of the hub that owns it."""
        return f"{self.camera_id}-{self.stream_number}"


@dataclass(frozen=True, slots=True)
class ReceiverSpec:
    """What signaling asks of a media node before it INVITEs.

    ``ssrc`` is the expected SSRC (None: take what comes). ``dedicated_port``: a UDP receiver gets a port of its
    own from the range instead of the shared SSRC-keyed port (devices whose SSRC check is off). ``peer_host``: the
    device's address as last heard, so the node can offer the local address facing it (multi-homed hosts).
    """

    stream_id: str
    transport: MediaTransport
    ssrc: int | None
    dedicated_port: bool = False
    peer_host: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiverAddress:
    """The address the device must send to (UDP, TCP passive), as advertised in our SDP offer."""

    host: str
    port: int


class MediaReceivers(Protocol):
    """A media node's RTP receivers, as signaling sees them."""

    async def open_receiver(self, spec: ReceiverSpec) -> ReceiverAddress:
        """Open a receiver for a stream and return the address for the SDP offer."""
        ...

    async def set_ssrc(self, stream_id: str, ssrc: int) -> None:
        """The device answered a different ``y=``: expect that SSRC instead."""
        ...

    async def connect_active(self, stream_id: str, host: str, port: int) -> None:
        """TCP active: connect to the device's media port from its answer (retried at >= 1 s intervals)."""
        ...

    async def close_receiver(self, stream_id: str) -> None:
        """Close a stream's receiver (idempotent)."""
        ...


class SourceHandle(Protocol):
    """A source that is sending: closing it ends the dialog (BYE) or stops the pull. Idempotent."""

    async def close(self) -> None: ...


#: Called by a source when the far end ends it (device BYE, MediaStatus 121, RTSP EOF), with a reason.
EndedCallback = Callable[[str], None]


class SourceOpener(Protocol):
    """Starts a camera's source sending to the media node (INVITE, or an RTSP pull)."""

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        """Start the source; raise a :class:`PlayError` with a reason when it cannot be started."""
        ...


class PlayError(Exception):
    """A stream could not be started or kept; ``reason`` (English) and ``zh`` are for the person who asked."""

    status = 500

    def __init__(self, reason: str, *, zh: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.zh = zh or reason


class UnknownCameraError(PlayError):
    status = 404


class DeviceOfflineError(PlayError):
    status = 409


class DeviceRefusedError(PlayError):
    status = 502

    def __init__(self, reason: str, sip_status: int, *, zh: str | None = None) -> None:
        super().__init__(reason, zh=zh)
        self.sip_status = sip_status


class StreamLimitError(PlayError):
    status = 429


class NoMediaError(PlayError):
    status = 504


class MediaNodeUnavailableError(PlayError):
    status = 503
