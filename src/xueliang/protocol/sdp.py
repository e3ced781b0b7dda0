"""SDP of GB/T 28181 media sessions, sans I/O: the platform's offer and the device's answer.

GB/T 28181 uses a small, fixed subset of SDP (RFC 4566) plus two lines of its own after the media section:
``y=`` (the SSRC as 10 decimal digits: ``0`` live / ``1`` history, digits 4-8 of the domain ID, 4 digits unique)
and ``f=`` (a media description ``v/codec/resolution/fps/rate-type/bitrate a/codec/rate/bits``, often empty)::

    v=0
    o=34020000001320000001 0 0 IN IP4 192.168.1.64
    s=Play
    c=IN IP4 192.168.1.64
    t=0 0
    m=video 15060 TCP/RTP/AVP 96
    a=sendonly
    a=rtpmap:96 PS/90000
    a=setup:passive
    a=connection:new
    y=0100000001
    f=

:meth:`Sdp.parse` reads the first video ``m=`` section (audio sections are skipped) and is lenient where devices
differ (GB28181.md sections 5-6): LF-only line ends, blank lines, a BOM, ``a=setup`` on a UDP m-line, ``y=`` with
fewer digits (or with spaces around), an empty ``f=``, ``a=stream`` / ``a=streamprofile`` instead of
``a=streamnumber``, attribute names in any case, unknown lines. It raises :class:`SdpError` (a ``ValueError``)
for what cannot be used: no ``v=``, no video ``m=`` line, no address, a port or payload type that is not a
number, a ``y=`` that is not a number or does not fit 32 bits. ``bytes(sdp)`` writes CRLF lines in the order
devices expect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xueliang.domain.streams import MediaTransport

__all__ = [
    "MAX_SDP_BYTES",
    "PS_PAYLOAD",
    "Direction",
    "RtpMap",
    "Sdp",
    "SdpError",
    "Setup",
    "format_ssrc",
    "make_offer",
]

MAX_SDP_BYTES = 16 * 1024  # a GB SDP is a few hundred bytes; anything this large is not one
MAX_PORT = 65_535
MAX_SSRC = 0xFFFF_FFFF
SSRC_DIGITS = 10
PS_PAYLOAD = 96  # MPEG-2 program stream
DEFAULT_RTPMAPS_TEXT = ((96, "PS", 90000), (97, "MPEG4", 90000), (98, "H264", 90000))
UDP_PROTOCOL = "RTP/AVP"
TCP_PROTOCOL = "TCP/RTP/AVP"
_STREAM_NUMBER_NAMES = ("streamnumber", "stream", "streamprofile")
_DIRECTIONS = frozenset({"recvonly", "sendonly", "sendrecv", "inactive"})
_BOM = "\ufeff"


class SdpError(ValueError):
    """An SDP that cannot be used (the message says which line and why)."""


class Direction(enum.StrEnum):
    RECVONLY = "recvonly"
    SENDONLY = "sendonly"
    SENDRECV = "sendrecv"
    INACTIVE = "inactive"


class Setup(enum.StrEnum):
    """RFC 4145: ``active`` opens the TCP connection, ``passive`` accepts it."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"

    def mirrored(self) -> Setup:
        """The role the other side takes (actpass: the answerer picks passive)."""
        return Setup.PASSIVE if self is not Setup.PASSIVE else Setup.ACTIVE


@dataclass(frozen=True, slots=True)
class RtpMap:
    payload_type: int
    encoding: str
    clock_rate: int

    def __str__(self) -> str:
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}"


DEFAULT_RTPMAPS = tuple(RtpMap(pt, name, rate) for pt, name, rate in DEFAULT_RTPMAPS_TEXT)


def format_ssrc(ssrc: int) -> str:
    """The ``y=`` text of an SSRC: 10 digits, zero-padded."""
    if not 0 <= ssrc <= MAX_SSRC:
        raise ValueError(f"SSRC out of range: {ssrc}")
    return f"{ssrc:0{SSRC_DIGITS}d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sdp:
    """One GB/T 28181 session description with its single video media section."""

    origin_user: str
    origin_host: str
    connection_host: str
    port: int
    session_id: str = "0"
    session_version: str = "0"
    session_name: str = "Play"
    uri: str | None = None  # u=channelID:0 (history)
    start: int = 0
    stop: int = 0
    protocol: str = UDP_PROTOCOL
    formats: tuple[int, ...] = (PS_PAYLOAD,)
    rtpmaps: tuple[RtpMap, ...] = ()
    direction: Direction | None = None
    setup: Setup | None = None
    connection_new: bool = False
    download_speed: int | None = None
    stream_number: int | None = None
    ssrc: int | None = None
    media_description: str | None = None  # f= as written; "" for an empty f=
    extra: tuple[str, ...] = ()  # other a= lines of the media section, as written (without "a=")

    def __post_init__(self) -> None:
        if not 0 <= self.port <= MAX_PORT:
            raise SdpError(f"port out of range: {self.port}")
        if self.ssrc is not None and not 0 <= self.ssrc <= MAX_SSRC:
            raise SdpError(f"SSRC out of range: {self.ssrc}")

    @property
    def tcp(self) -> bool:
        return self.protocol.upper().startswith("TCP")

    @property
    def transport_name(self) -> str:
        return "tcp" if self.tcp else "udp"

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        return next((item for item in self.rtpmaps if item.payload_type == payload_type), None)

    # ----------------------------------------------------------------------------------------- writing

    def __bytes__(self) -> bytes:
        lines = [
            "v=0",
            f"o={self.origin_user} {self.session_id} {self.session_version} IN IP4 {self.origin_host}",
            f"s={self.session_name}",
        ]
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.append(f"c=IN IP4 {self.connection_host}")
        lines.append(f"t={self.start} {self.stop}")
        lines.append(f"m=video {self.port} {self.protocol} {' '.join(str(pt) for pt in self.formats)}")
        if self.direction is not None:
            lines.append(f"a={self.direction.value}")
        lines.extend(f"a=rtpmap:{item}" for item in self.rtpmaps)
        if self.setup is not None:
            lines.append(f"a=setup:{self.setup.value}")
        if self.connection_new:
            lines.append("a=connection:new")
        if self.download_speed is not None:
            lines.append(f"a=downloadspeed:{self.download_speed}")
        if self.stream_number is not None:
            lines.append(f"a=streamnumber:{self.stream_number}")
        lines.extend(f"a={attribute}" for attribute in self.extra)
        if self.ssrc is not None:
            lines.append(f"y={format_ssrc(self.ssrc)}")
        if self.media_description is not None:
            lines.append(f"f={self.media_description}")
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    # ----------------------------------------------------------------------------------------- reading

    @classmethod
    def parse(cls, data: bytes) -> Sdp:
        """Read an offer or an answer (see the module docstring for what is tolerated)."""
        if len(data) > MAX_SDP_BYTES:
            raise SdpError(f"SDP over {MAX_SDP_BYTES} bytes")
        text = data.decode("utf-8", "replace").lstrip(_BOM)
        reader = _Reader()
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            kind, equals, value = line.partition("=")
            kind = kind.strip().lower()
            if not equals or len(kind) != 1:
                raise SdpError(f"line {number} is not type=value: {line[:40]!r}")
            reader.line(kind, value.strip(), number)
        return reader.result()


class _Reader:
    """Collects lines; session-level c= applies when the video section has none."""

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.seen_version = False
        self.session_host: str | None = None
        self.media_host: str | None = None
        self.section: str | None = None  # None: session level; else the media type of the current m=
        self.video_seen = False
        self.rtpmaps: list[RtpMap] = []
        self.extra: list[str] = []

    def line(self, kind: str, value: str, number: int) -> None:
        if kind == "v":
            self.seen_version = True
        elif kind == "o":
            self._origin(value, number)
        elif kind == "s":
            self.fields["session_name"] = value
        elif kind == "u":
            self.fields["uri"] = value
        elif kind == "c":
            self._connection(value, number)
        elif kind == "t":
            self._time(value, number)
        elif kind == "m":
            self._media(value, number)
        elif kind == "a":
            if self._in_video():
                self._attribute(value, number)
        elif kind == "y":
            self.fields["ssrc"] = _ssrc(value, number)
        elif kind == "f":
            self.fields["media_description"] = value
        # b=, i=, k=, z=, ... carry nothing GB/T 28181 needs

    def _in_video(self) -> bool:
        # attributes before any m= line are session level; GB devices put the media ones there too
        return self.section is None or self.section == "video"

    def _origin(self, value: str, number: int) -> None:
        parts = value.split()
        if len(parts) < 6:
            raise SdpError(f"line {number}: o= needs 6 fields, got {len(parts)}")
        self.fields["origin_user"] = parts[0]
        self.fields["session_id"] = parts[1]
        self.fields["session_version"] = parts[2]
        self.fields["origin_host"] = parts[5]

    def _connection(self, value: str, number: int) -> None:
        parts = value.split()
        if len(parts) < 3 or parts[0].upper() != "IN":
            raise SdpError(f"line {number}: c= must be 'IN IP4 address', got {value[:40]!r}")
        host = parts[2].split("/")[0]  # a multicast TTL suffix
        if self.section is None:
            self.session_host = host
        elif self.section == "video":
            self.media_host = host

    def _time(self, value: str, number: int) -> None:
        parts = value.split()
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise SdpError(f"line {number}: t= needs two numbers, got {value[:40]!r}")
        self.fields["start"], self.fields["stop"] = int(parts[0]), int(parts[1])

    def _media(self, value: str, number: int) -> None:
        parts = value.split()
        if len(parts) < 3:
            raise SdpError(f"line {number}: m= needs media, port and protocol")
        media = parts[0].lower()
        if media != "video" or self.video_seen:
            self.section = media if media != "video" else "video-extra"
            return
        self.section = "video"
        self.video_seen = True
        port_text = parts[1].split("/")[0]
        if not port_text.isdigit() or int(port_text) > MAX_PORT:
            raise SdpError(f"line {number}: bad port {parts[1]!r}")
        self.fields["port"] = int(port_text)
        self.fields["protocol"] = parts[2].upper()
        formats: list[int] = []
        for item in parts[3:]:
            if not item.isdigit() or int(item) > 127:
                raise SdpError(f"line {number}: bad payload type {item!r}")
            formats.append(int(item))
        self.fields["formats"] = tuple(formats)

    def _attribute(self, value: str, number: int) -> None:
        name, _colon, argument = value.partition(":")
        name, argument = name.strip().lower(), argument.strip()
        if name in _DIRECTIONS:
            self.fields["direction"] = Direction(name)
        elif name == "rtpmap":
            self.rtpmaps.append(_rtpmap(argument, number))
        elif name == "setup":
            try:
                self.fields["setup"] = Setup(argument.lower())
            except ValueError as exc:
                raise SdpError(f"line {number}: unknown setup role {argument!r}") from exc
        elif name == "connection":
            self.fields["connection_new"] = argument.lower() == "new"
        elif name == "downloadspeed":
            self.fields["download_speed"] = _small_int(argument, "downloadspeed", number)
        elif name in _STREAM_NUMBER_NAMES:
            self.fields["stream_number"] = _small_int(argument, name, number)
        else:
            self.extra.append(value)

    def result(self) -> Sdp:
        if not self.seen_version:
            raise SdpError("no v= line")
        if not self.video_seen:
            raise SdpError("no m=video line")
        host = self.media_host or self.session_host or self.fields.get("origin_host")
        if not isinstance(host, str) or not host:
            raise SdpError("no c= address")
        self.fields.setdefault("origin_user", "")
        self.fields.setdefault("origin_host", host)
        return Sdp(
            connection_host=host,
            rtpmaps=tuple(self.rtpmaps),
            extra=tuple(self.extra),
            **self.fields,  # type: ignore[arg-type]
        )


def _rtpmap(argument: str, number: int) -> RtpMap:
    payload, _space, encoding = argument.partition(" ")
    name, _slash, rest = encoding.strip().partition("/")
    rate = rest.split("/")[0]
    if not payload.isdigit() or not name or not rate.isdigit():
        raise SdpError(f"line {number}: bad rtpmap {argument[:40]!r}")
    return RtpMap(int(payload), name, int(rate))


def _small_int(argument: str, name: str, number: int) -> int:
    if not argument.isdigit() or len(argument) > 9:
        raise SdpError(f"line {number}: a={name} needs a number, got {argument[:20]!r}")
    return int(argument)


def _ssrc(value: str, number: int) -> int:
    text = value.replace(" ", "")
    if not text.isdigit() or len(text) > SSRC_DIGITS + 2:
        raise SdpError(f"line {number}: y= must be decimal digits, got {value[:20]!r}")
    ssrc = int(text)
    if ssrc > MAX_SSRC:
        raise SdpError(f"line {number}: y= {value!r} does not fit 32 bits")
    return ssrc


def make_offer(
    *,
    origin_id: str,
    host: str,
    port: int,
    transport: MediaTransport,
    ssrc: int,
    session_name: str = "Play",
    stream_number: int | None = None,
    uri: str | None = None,
    start: int = 0,
    stop: int = 0,
    download_speed: int | None = None,
) -> Sdp:
    """The platform's offer: receive PS (and MPEG-4 / H.264 for old devices) at ``host:port``.

    TCP passive (we listen): ``a=setup:passive``; TCP active (we connect to the device): ``a=setup:active``.
    """
    tcp = transport is not MediaTransport.UDP
    return Sdp(
        origin_user=origin_id,
        origin_host=host,
        connection_host=host,
        port=port,
        session_name=session_name,
        uri=uri,
        start=start,
        stop=stop,
        protocol=TCP_PROTOCOL if tcp else UDP_PROTOCOL,
        formats=tuple(item.payload_type for item in DEFAULT_RTPMAPS),
        rtpmaps=DEFAULT_RTPMAPS,
        direction=Direction.RECVONLY,
        setup=(Setup.ACTIVE if transport is MediaTransport.TCP_ACTIVE else Setup.PASSIVE) if tcp else None,
        connection_new=tcp,
        download_speed=download_speed,
        stream_number=stream_number,
        ssrc=ssrc,
    )
