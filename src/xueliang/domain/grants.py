"""Grants, share requests and approval steps (共享申请、审批、授权): pure types and their state tables (issue 5).

A unit publishes cameras as shareable (:class:`ShareScope`: one camera, a division, or all its cameras) with the
modes it allows. Another unit files a share request; it walks an approval chain (:class:`StepKind`, configurable
per :class:`Sensitivity` in :class:`ApprovalChains`); the last approval creates :class:`Grant` rows. Grants expire,
are revoked at once, and can be renewed.

Every status change goes through :func:`transition` over one explicit table per machine (STYLE habit 3): an
illegal move raises :class:`IllegalTransitionError`, so a revoked grant can never be renewed back to life and a
rejected request can never be approved.

Errors::

    GrantsDomainError
      IllegalTransitionError   (machine, state, event) is not in the table
      InvalidAreaError         an area that is not a bounding box or a closed polygon of WGS-84 points
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

from xueliang.domain.principals import Mode


class GrantsDomainError(Exception):
    """Base of this module's errors."""


class IllegalTransitionError(GrantsDomainError):
    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(f"{machine}: no transition from {state!r} on {event!r}")
        self.machine, self.state, self.event = machine, state, event


class InvalidAreaError(GrantsDomainError):
    pass


class GrantStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class GrantEvent(StrEnum):
    EXPIRE = "expire"
    REVOKE = "revoke"
    RENEW = "renew"


class RequestStatus(StrEnum):
    PENDING = "pending"  # in the approval chain
    APPROVED = "approved"  # every step approved; grants created
    REJECTED = "rejected"  # a step rejected it
    WITHDRAWN = "withdrawn"  # the requester took it back before the end


class RequestEvent(StrEnum):
    STEP_APPROVED = "step_approved"  # a step approved and another one follows
    FINAL_APPROVED = "final_approved"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class StepStatus(StrEnum):
    WAITING = "waiting"  # an earlier step has not decided yet
    OPEN = "open"  # its turn
    APPROVED = "approved"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # the request ended before this step's turn


class StepEvent(StrEnum):
    OPEN = "open"
    APPROVE = "approve"
    REJECT = "reject"
    SKIP = "skip"


GRANT_TRANSITIONS: Final[Mapping[tuple[GrantStatus, GrantEvent], GrantStatus]] = {
    (GrantStatus.ACTIVE, GrantEvent.EXPIRE): GrantStatus.EXPIRED,
    (GrantStatus.ACTIVE, GrantEvent.REVOKE): GrantStatus.REVOKED,
    (GrantStatus.ACTIVE, GrantEvent.RENEW): GrantStatus.ACTIVE,
    (GrantStatus.EXPIRED, GrantEvent.RENEW): GrantStatus.ACTIVE,
    (GrantStatus.EXPIRED, GrantEvent.REVOKE): GrantStatus.REVOKED,  # so it cannot be renewed later
}
REQUEST_TRANSITIONS: Final[Mapping[tuple[RequestStatus, RequestEvent], RequestStatus]] = {
    (RequestStatus.PENDING, RequestEvent.STEP_APPROVED): RequestStatus.PENDING,
    (RequestStatus.PENDING, RequestEvent.FINAL_APPROVED): RequestStatus.APPROVED,
    (RequestStatus.PENDING, RequestEvent.REJECT): RequestStatus.REJECTED,
    (RequestStatus.PENDING, RequestEvent.WITHDRAW): RequestStatus.WITHDRAWN,
}
STEP_TRANSITIONS: Final[Mapping[tuple[StepStatus, StepEvent], StepStatus]] = {
    (StepStatus.WAITING, StepEvent.OPEN): StepStatus.OPEN,
    (StepStatus.WAITING, StepEvent.SKIP): StepStatus.SKIPPED,
    (StepStatus.OPEN, StepEvent.APPROVE): StepStatus.APPROVED,
    (StepStatus.OPEN, StepEvent.REJECT): StepStatus.REJECTED,
    (StepStatus.OPEN, StepEvent.SKIP): StepStatus.SKIPPED,  # the requester withdrew during this step
}
TABLES: Final[Mapping[str, Mapping[tuple[Any, Any], Any]]] = {
    "grant": GRANT_TRANSITIONS,
    "share_request": REQUEST_TRANSITIONS,
    "approval_step": STEP_TRANSITIONS,
}


def grant_transition(state: GrantStatus, event: GrantEvent) -> GrantStatus:
    return _move("grant", GRANT_TRANSITIONS, state, event)


def request_transition(state: RequestStatus, event: RequestEvent) -> RequestStatus:
    return _move("share_request", REQUEST_TRANSITIONS, state, event)


def step_transition(state: StepStatus, event: StepEvent) -> StepStatus:
    return _move("approval_step", STEP_TRANSITIONS, state, event)


_S = TypeVar("_S", bound=StrEnum)
_E = TypeVar("_E", bound=StrEnum)


def _move(machine: str, table: Mapping[tuple[_S, _E], _S], state: _S, event: _E) -> _S:
    try:
        return table[(state, event)]
    except KeyError:
        raise IllegalTransitionError(machine, str(state), str(event)) from None


class ShareScope(StrEnum):
    """What a share offer or a grant covers: listed cameras, a division (code prefix) or all of a unit's cameras."""

    CAMERA = "camera"
    DIVISION = "division"
    UNIT = "unit"


class Sensitivity(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


SENSITIVITY_ORDER: Final = (Sensitivity.LOW, Sensitivity.NORMAL, Sensitivity.HIGH)


class StepKind(StrEnum):
    """Who decides a step: the owner unit's administrator, the data bureau (数管局), the security administrator."""

    OWNER = "owner"
    BUREAU = "bureau"
    SECURITY = "security"


@dataclass(frozen=True, slots=True)
class ApprovalChains:
    """The steps a request walks, by its sensitivity (the highest of its cameras' offers)."""

    low: tuple[StepKind, ...] = (StepKind.OWNER,)
    normal: tuple[StepKind, ...] = (StepKind.OWNER, StepKind.BUREAU)
    high: tuple[StepKind, ...] = (StepKind.OWNER, StepKind.BUREAU, StepKind.SECURITY)

    def __post_init__(self) -> None:
        for level in SENSITIVITY_ORDER:
            steps = self.for_level(level)
            if not steps or steps[0] is not StepKind.OWNER:
                raise GrantsDomainError(f"the {level} chain must start with the owner unit's step")
            if len(set(steps)) != len(steps):
                raise GrantsDomainError(f"the {level} chain repeats a step")

    def for_level(self, level: Sensitivity) -> tuple[StepKind, ...]:
        return {Sensitivity.LOW: self.low, Sensitivity.NORMAL: self.normal, Sensitivity.HIGH: self.high}[level]


def highest(levels: list[Sensitivity]) -> Sensitivity:
    return max(levels, key=SENSITIVITY_ORDER.index, default=Sensitivity.NORMAL)


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission for ``grantee_unit_code`` (or one principal of it) to use cameras in ``modes`` for a time window.

    ``scope`` decides what ``targets`` hold: camera platform IDs, division codes (prefixes), or nothing (UNIT:
    every camera of ``owner_unit_code``). ``owner_unit_code`` None is allowed only for DIVISION grants (every
    camera in the division, whoever owns it). With DESENSITISED among the modes, every use is masked.
    """

    id: str
    grantee_unit_code: str
    owner_unit_code: str | None
    scope: ShareScope
    targets: frozenset[str]
    modes: frozenset[Mode]
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: GrantStatus = GrantStatus.ACTIVE
    grantee_principal_id: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if not self.modes:
            raise GrantsDomainError("a grant needs at least one mode")
        if self.valid_until <= self.valid_from:
            raise GrantsDomainError("a grant's window must end after it starts")
        if self.scope is ShareScope.UNIT and (self.targets or self.owner_unit_code is None):
            raise GrantsDomainError("a unit grant names its owner unit and no targets")
        if self.scope is not ShareScope.UNIT and not self.targets:
            raise GrantsDomainError(f"a {self.scope} grant needs targets")
        if self.owner_unit_code is None and self.scope is not ShareScope.DIVISION:
            raise GrantsDomainError("only a division grant may span owner units")

    def valid_at(self, now: dt.datetime) -> bool:
        return self.status is GrantStatus.ACTIVE and self.valid_from <= now < self.valid_until

    @property
    def desensitised(self) -> bool:
        return Mode.DESENSITISED in self.modes


@dataclass(frozen=True, slots=True)
class Area:
    """An area in WGS-84: a bounding box (two corners) or a polygon (three or more points, closed implicitly)."""

    points: tuple[tuple[float, float], ...]  # (longitude, latitude)
    kind: str  # "bbox" | "polygon"

    @classmethod
    def bbox(cls, west: float, south: float, east: float, north: float) -> Area:
        if not (west < east and south < north):
            raise InvalidAreaError("a bounding box needs west < east and south < north")
        return cls(((west, south), (east, north)), "bbox")._checked()

    @classmethod
    def polygon(cls, points: list[tuple[float, float]]) -> Area:
        if len(points) > 1 and points[0] == points[-1]:
            points = points[:-1]
        if len(points) < 3:
            raise InvalidAreaError("a polygon needs at least three distinct points")
        return cls(tuple((float(x), float(y)) for x, y in points), "polygon")._checked()

    def _checked(self) -> Area:
        for lon, lat in self.points:
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise InvalidAreaError(f"({lon}, {lat}) is not a WGS-84 longitude/latitude")
        return self

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)

    def contains(self, lon: float, lat: float) -> bool:
        west, south, east, north = self.bounds()
        if not (west <= lon <= east and south <= lat <= north):
            return False
        if self.kind == "bbox":
            return True
        inside = False  # even-odd ray casting
        count = len(self.points)
        for i in range(count):
            x1, y1 = self.points[i]
            x2, y2 = self.points[(i + 1) % count]
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "points": [list(p) for p in self.points]}
