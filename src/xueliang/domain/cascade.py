"""Cascade (issue 6): an upper platform we register with, and what it sees of us. Pure types.

An upper platform (上级平台) is configured by an operator (store/upper_platforms.py, the API, the CLI) and is a
principal of the policy like a user (:class:`~xueliang.domain.principals.PrincipalKind.UPPER_PLATFORM`): what it
may see and play are its grants, held by a unit created for it (``unit_code``), each grant one
:class:`ShareSpec` of its configuration. Its catalog is the tree of what it is shared: regions (2-8 digit civil
codes), business groups (type 215), virtual organisations (type 216) and cameras, each with its ParentID, under
the IDs and names the operator chose for that upper platform (per-platform overrides).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from xueliang.domain.ids import Edition

__all__ = [
    "CHARSETS",
    "TRANSPORTS",
    "ShareKind",
    "ShareSpec",
    "SharedChannel",
    "SharedTree",
    "TreeNode",
    "UpperPlatform",
    "upper_principal_id",
]

TRANSPORTS = ("udp", "tcp")
CHARSETS = ("gb2312", "gb18030", "utf-8")
_ID = re.compile(r"^\d{20}$")


class ShareKind(StrEnum):
    """What one share of an upper platform covers."""

    ALL = "all"  # every camera of the platform
    UNIT = "unit"  # every camera a unit owns (target: unit code)
    DIVISION = "division"  # every camera in a division (target: a civil code prefix, 2-12 digits)
    CAMERA = "camera"  # one camera (target: its platform ID)
    GROUP = "group"  # every camera placed in a node of the tree built for this upper platform (target: node ID)


@dataclass(frozen=True, slots=True)
class ShareSpec:
    """One share, as the CLI and API write it: ``all``, ``unit:CODE``, ``division:CODE``, ``camera:ID``,
    ``group:ID``."""

    kind: ShareKind
    target: str = ""

    def __post_init__(self) -> None:
        if self.kind is ShareKind.ALL and self.target:
            raise ValueError("'all' takes no target")
        if self.kind is not ShareKind.ALL and not self.target:
            raise ValueError(f"'{self.kind}' needs a target: {self.kind}:<...>")
        if self.kind is ShareKind.DIVISION and not (self.target.isdigit() and 2 <= len(self.target) <= 12):
            raise ValueError("a division is a civil code of 2 to 12 digits")
        if self.kind in (ShareKind.CAMERA, ShareKind.GROUP) and not _ID.match(self.target):
            raise ValueError(f"a {self.kind} is a 20-digit ID")

    @classmethod
    def parse(cls, text: str) -> ShareSpec:
        """``all`` or ``kind:target``; ValueError with a message a person can act on."""
        kind, _, target = text.strip().partition(":")
        try:
            return cls(ShareKind(kind.strip().lower()), target.strip())
        except ValueError as exc:
            if kind.strip().lower() not in {k.value for k in ShareKind}:
                known = ", ".join(f"{k.value}:..." if k is not ShareKind.ALL else k.value for k in ShareKind)
                raise ValueError(f"unknown share '{text}': one of {known}") from None
            raise ValueError(f"share '{text}': {exc}") from None

    def __str__(self) -> str:
        return self.kind.value if self.kind is ShareKind.ALL else f"{self.kind.value}:{self.target}"


def upper_principal_id(upper_id: str) -> str:
    """The principal ID an upper platform acts under (audit records, grants' ``grantee_principal_id``)."""
    return f"upper:{upper_id}"


@dataclass(frozen=True, slots=True)
class UpperPlatform:
    """One configured upper platform, with its password decrypted (never in ``repr``, never logged).

    ``local_id``: the ID we register under towards it (None: the platform's own SIP ID). ``realm``: the SIP
    domain of the upper platform put in its request URI (None: the first 10 digits of its ID); the digest realm
    is whatever its challenge says. ``catalog_items``: items per Catalog MESSAGE (None: as many as fit a
    datagram over UDP, 100 over TCP). ``unit_code``: the unit holding its grants (its share scope).
    """

    id: str
    name: str
    host: str
    port: int
    unit_code: str
    transport: str = "udp"
    password: str | None = dataclasses.field(default=None, repr=False)
    realm: str | None = None
    edition: Edition = Edition.GB2016
    charset: str = "gb2312"
    keepalive_interval: int = 60
    keepalive_misses: int = 3
    register_expires: int = 3600
    local_id: str | None = None
    catalog_items: int | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError("an upper platform's ID is 20 digits")
        if self.local_id is not None and not _ID.match(self.local_id):
            raise ValueError("our ID towards an upper platform is 20 digits")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport is one of {', '.join(TRANSPORTS)}")
        if self.charset not in CHARSETS:
            raise ValueError(f"charset is one of {', '.join(CHARSETS)}")
        if not 1 <= self.port <= 65535:
            raise ValueError("port is 1-65535")

    @property
    def principal_id(self) -> str:
        return upper_principal_id(self.id)

    @property
    def domain(self) -> str:
        return self.realm or self.id[:10]


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A node of the tree built for an upper platform: a business group (215) or a virtual organisation (216).
    ``parent_id``: the node above (None: the top, under our system item). ``business_group_id``: the 215 node
    a virtual organisation belongs to."""

    id: str
    name: str
    parent_id: str | None = None
    business_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class SharedChannel:
    """One camera as an upper platform sees it.

    ``id`` and ``name`` are what the upper platform sees (the per-platform override, else the camera's platform
    ID and name); ``camera_id`` is the camera's platform ID in our archive; ``device_id`` and
    ``device_channel_id`` the device channel it is bound to (None for RTSP cameras), where queries such as
    RecordInfo go. ``group_id``: the tree node it is placed in (None: under its region).
    """

    id: str
    name: str
    camera_id: str
    online: bool
    civil_code: str | None = None
    group_id: str | None = None
    device_id: str | None = None
    device_channel_id: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    address: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    ptz_type: int | None = None


@dataclass(frozen=True, slots=True)
class SharedTree:
    """What one upper platform is shared: the nodes built for it and the channels, in no particular order (the
    catalog answer orders them: regions, groups, cameras)."""

    nodes: Sequence[TreeNode]
    channels: Sequence[SharedChannel]
