"""What a run of simulated devices is: :class:`SimConfig`, checked once when built, and the device kinds.

One configuration describes N devices of one kind that share a server, a password, an edition and a charset;
device ``i`` gets serial ``first_serial + i`` (digits 15-20 of its ID). Everything else a device says is derived
from its serial (:mod:`xueliang.sim.catalog_gen`), so two processes with disjoint serial ranges simulate disjoint
devices and channels.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol.es import Codec
from xueliang.protocol.manscdp import Charset

__all__ = ["DeviceKind", "SimConfig", "Transport"]

MAX_SERIAL = 999_999


class DeviceKind(enum.StrEnum):
    """What each simulated device is; the value of digits 11-13 of its ID is :attr:`type_code`."""

    IPC = "ipc"
    NVR = "nvr"
    PLATFORM = "platform"  # a lower platform (type 200) with a catalog tree

    @property
    def type_code(self) -> str:
        return _TYPE_CODES[self]


_TYPE_CODES = {DeviceKind.IPC: "132", DeviceKind.NVR: "118", DeviceKind.PLATFORM: "200"}


class Transport(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """A run of simulated devices. Times are seconds.

    ``kind`` None means IPC for one channel and NVR for more. ``sockets``: how many local UDP sockets (or TCP
    connections) the devices are spread over; one socket for all of them is what a NAT makes of a site.
    ``udp_max_message``: the largest MESSAGE sent over UDP, head and body (RFC 3261 18.1.1). ``passwords``
    overrides ``password`` for single device IDs (tests use it for a wrong password).
    """

    server_host: str
    server_port: int = 5060
    server_id: str
    password: str = "12345678"  # noqa: S105 - the usual factory default of GB/T 28181 devices
    domain: str | None = None  # SIP domain of the server; default: the first 10 digits of server_id
    count: int = 1
    channels: int = 1
    kind: DeviceKind | None = None
    transport: Transport = Transport.UDP
    edition: Edition = Edition.GB2016
    charset: Charset = Charset.GB2312
    prefix: str = "3415020000"  # digits 1-10 of every ID: division 34150200 (Jin'an, Lu'an) and industry 00
    network_digit: str = "0"  # digit 14
    first_serial: int = 1
    keepalive_interval: float = 60.0
    expires: int = 3600
    local_host: str = "127.0.0.1"  # several, comma-separated: the sockets are spread over them in turn
    local_port: int = 0  # port of the first UDP socket (the next ones count up); 0: any free port
    sockets: int = 1
    register_rate: float = 2000.0  # REGISTER transactions started per second, at most
    tcp_catalog_items: int = 100  # items per Catalog/RecordInfo MESSAGE over TCP
    udp_max_message: int = 1300
    max_record_items: int = 2000  # RecordInfo answers hold at most this many files
    reboot_delay: float = 2.0  # TeleBoot: seconds offline before registering again
    retry_backoff: float = 5.0  # first wait after a refused or failed registration; doubles per failure
    retry_backoff_max: float = 300.0
    t1: float = 0.5  # RFC 3261 timers for our requests over UDP: retransmit after T1, doubling up to T2,
    t2: float = 4.0  # give up after 64*T1
    user_agent: str = "xueliang-sim/0.1"
    seed: int = 2022
    passwords: Mapping[str, str] = field(default_factory=dict)
    video: Codec | None = Codec.H264
    video_size: tuple[int, int] = (640, 360)
    max_streams: int = 4
    refuse_invite: int | None = None

    def __post_init__(self) -> None:
        # the enumerations also as their values ("tcp", "2022", "utf-8"), as a CLI or a test writes them
        object.__setattr__(self, "transport", Transport(self.transport))
        object.__setattr__(self, "edition", Edition(self.edition))
        object.__setattr__(self, "charset", Charset(self.charset))
        if self.kind is not None:
            object.__setattr__(self, "kind", DeviceKind(self.kind))
        if self.video is not None:
            object.__setattr__(self, "video", Codec(self.video))
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> list[str]:
        found: list[str] = []
        if not (len(self.server_id) == 20 and self.server_id.isdigit()):
            found.append(f"server ID must be 20 digits: {self.server_id!r}")
        if not (len(self.prefix) == 10 and self.prefix.isdigit()):
            found.append(f"prefix must be 10 digits (division and industry): {self.prefix!r}")
        if not (len(self.network_digit) == 1 and self.network_digit.isdigit()):
            found.append(f"network digit must be one digit: {self.network_digit!r}")
        if self.count < 1 or self.channels < 1:
            found.append("count and channels must be at least 1")
        if self.first_serial < 1 or self.last_serial > MAX_SERIAL:
            found.append(f"device serials {self.first_serial}..{self.last_serial} do not fit in 6 digits")
        elif self.last_serial * self.channels > MAX_SERIAL:
            found.append(
                f"channel serials (device serial x {self.channels} channels) reach "
                f"{self.last_serial * self.channels}, over {MAX_SERIAL}: use fewer devices or channels"
            )
        if not 1 <= self.server_port <= 65_535:
            found.append(f"bad server port {self.server_port}")
        if self.sockets < 1:
            found.append("sockets must be at least 1")
        if self.keepalive_interval <= 0 or self.register_rate <= 0:
            found.append("keepalive interval and register rate must be positive")
        if self.expires < 1:
            found.append("expires must be at least 1 s")
        if self.udp_max_message < 600 or self.tcp_catalog_items < 1:
            found.append("udp_max_message must be at least 600 bytes and tcp_catalog_items at least 1")
        found.extend(self._video_problems())
        return found

    def _video_problems(self) -> list[str]:
        found: list[str] = []
        if self.video not in (None, Codec.H264, Codec.H265):
            found.append(f"video must be h264, h265 or none: {self.video}")
        width, height = self.video_size
        if not (16 <= width <= 3840 and 16 <= height <= 2160 and width % 2 == 0 and height % 2 == 0):
            found.append(f"video size must be even, 16x16 to 3840x2160: {width}x{height}")
        if self.max_streams < 0:
            found.append("max_streams must be at least 0")
        if self.refuse_invite is not None and not 300 <= self.refuse_invite <= 699:
            found.append(f"refuse_invite must be a status 300-699: {self.refuse_invite}")
        return found

    @property
    def device_kind(self) -> DeviceKind:
        if self.kind is not None:
            return self.kind
        return DeviceKind.IPC if self.channels == 1 else DeviceKind.NVR

    @property
    def sip_domain(self) -> str:
        return self.domain or self.server_id[:10]

    @property
    def last_serial(self) -> int:
        return self.first_serial + self.count - 1

    @property
    def local_hosts(self) -> tuple[str, ...]:
        return tuple(host.strip() for host in self.local_host.split(",") if host.strip()) or ("127.0.0.1",)

    @property
    def reliable(self) -> bool:
        return self.transport is Transport.TCP

    def password_of(self, device_id: str) -> str:
        return self.passwords.get(device_id, self.password)
