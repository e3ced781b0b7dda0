"""The sharing service on SQLite and PostgreSQL: directory, requests through the chain, grants, revocation, expiry;
and the revocation bus in process and over Redis (Redis at 127.0.0.1:6379: required under CI=true)."""

from __future__ import annotations

import datetime as dt
import queue
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from xueliang.domain.grants import (
    ApprovalChains,
    Area,
    GrantStatus,
    RequestStatus,
    Sensitivity,
    ShareScope,
    StepKind,
    StepStatus,
)
from xueliang.domain.policy import CameraRef
from xueliang.domain.principals import Mode, Principal, PrincipalKind, Role, Treatment
from xueliang.sharing.grants import (
    Attachment,
    InvalidShareError,
    NewShareRequest,
    SharingConfig,
    SharingConflictError,
    SharingForbiddenError,
    SharingNotFoundError,
    SharingService,
)
from xueliang.sharing.revocation import InProcessRevocationBus, RedisRevocationBus, Revocation
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.models import Camera, Unit

CAM_A, CAM_B, CAM_C = "34150200001320000001", "34150300001320000002", "34152200001320000003"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 8, 0)

    def __call__(self) -> dt.datetime:
        return self.now


def user(unit: str, *roles: Role, uid: str | None = None) -> Principal:
    return Principal(PrincipalKind.USER, uid or f"{unit}-{roles[0].value}", "x", unit, frozenset(roles))


GA_ADMIN = user("GA", Role.UNIT_ADMIN)
JT_ADMIN = user("JT", Role.UNIT_ADMIN)
JT_OPERATOR = user("JT", Role.OPERATOR)
SG_ADMIN = user("SG", Role.UNIT_ADMIN)
SECADMIN = user("GA", Role.SECADMIN)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus() -> Iterator[InProcessRevocationBus]:
    made = InProcessRevocationBus()
    yield made
    made.close()


@pytest.fixture
def service(engine: Engine, clock: Clock, bus: InProcessRevocationBus) -> Iterator[SharingService]:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        units = {code: Unit(code=code, name=code, kind="department") for code in ("GA", "JT", "SG", "CG")}
        session.add_all(units.values())
        session.flush()
        session.add_all(
            [
                Camera(
                    platform_id=CAM_A,
                    name="a",
                    division_code="341502",
                    owner_unit_id=units["GA"].id,
                    longitude=116.5,
                    latitude=31.75,
                ),
                Camera(
                    platform_id=CAM_B,
                    name="b",
                    division_code="341503",
                    owner_unit_id=units["CG"].id,
                    longitude=116.3,
                    latitude=31.70,
                ),
                Camera(
                    platform_id=CAM_C,
                    name="c",
                    division_code="341522",
                    owner_unit_id=units["JT"].id,
                    longitude=116.4,
                    latitude=31.72,
                ),
            ]
        )
    made = SharingService(sessions, SharingConfig("GA", "SG"), bus, clock)
    yield made
    made.close()


def ask(
    clock: Clock, *cameras: str, modes: frozenset[Mode] = frozenset({Mode.LIVE}), area: Area | None = None, **kw: object
) -> NewShareRequest:
    fields: dict[str, object] = {
        "modes": modes,
        "starts_at": clock.now,
        "ends_at": clock.now + dt.timedelta(days=7),
        "purpose": "交通疏导",
        "case_number": "六交〔2026〕12号",
        "cameras": cameras,
        "area": area,
        "attachments": (Attachment("函.pdf", "attachments/ab/cd.pdf", "a" * 64, 1024),),
    }
    fields.update(kw)
    return NewShareRequest(**fields)  # type: ignore[arg-type]


def test_request_two_approvals_then_play_then_revoke(
    service: SharingService, clock: Clock, bus: InProcessRevocationBus
) -> None:
    service.publish(GA_ADMIN, ShareScope.DIVISION, "341502", frozenset({Mode.LIVE, Mode.DESENSITISED}))
    camera = service.camera(CAM_A)
    assert not service.authorise(JT_OPERATOR, Mode.LIVE, camera).allowed
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A, modes=frozenset({Mode.DESENSITISED})))
    assert request.status is RequestStatus.PENDING and request.camera_ids == (CAM_A,)
    assert [(s.kind, s.unit_code, s.status) for s in request.steps] == [
        (StepKind.OWNER, "GA", StepStatus.OPEN),
        (StepKind.BUREAU, "SG", StepStatus.WAITING),
    ]
    # the requesting unit's admin cannot approve; the bureau cannot jump the owner's step
    for wrong in (JT_ADMIN, SG_ADMIN, SECADMIN):
        with pytest.raises(SharingForbiddenError):
            service.decide_step(wrong, request.id, True, "")
    after_owner = service.decide_step(GA_ADMIN, request.id, True, "同意")
    assert [s.status for s in after_owner.steps] == [StepStatus.APPROVED, StepStatus.OPEN]
    assert not service.authorise(JT_OPERATOR, Mode.LIVE, camera).allowed  # not before the last step
    approved = service.decide_step(SG_ADMIN, request.id, True, "")
    assert approved.status is RequestStatus.APPROVED
    [grant] = service.grants_of_request(request.id)
    assert grant.owner_unit_code == "GA" and grant.targets == frozenset({CAM_A})
    decision = service.authorise(JT_OPERATOR, Mode.LIVE, camera)
    assert decision.allowed and decision.grant_id == grant.id and decision.treatment is Treatment.MASKED
    assert not service.authorise(user("CG", Role.OPERATOR), Mode.LIVE, camera).allowed
    with pytest.raises(SharingConflictError):
        service.decide_step(SG_ADMIN, request.id, True, "")

    heard: list[Revocation] = []
    bus.subscribe(heard.append)
    with pytest.raises(SharingForbiddenError):
        service.revoke(JT_ADMIN, grant.id)  # the grantee cannot revoke (nor renew) it
    revoked = service.revoke(GA_ADMIN, grant.id, "案件结束")
    assert revoked.status is GrantStatus.REVOKED and heard == [Revocation(grant.id, "revoked")]
    assert not service.authorise(JT_OPERATOR, Mode.LIVE, camera).allowed  # at once
    with pytest.raises(SharingConflictError):
        service.renew(SECADMIN, grant.id, clock.now + dt.timedelta(days=30))
    kinds = [e.kind for e in service.events("JT")]
    assert kinds == ["request.filed", "grant.created", "grant.revoked"]
    assert [e.kind for e in service.events("SG")] == ["step.open"]


def test_rejection_needs_a_comment_and_ends_the_chain(service: SharingService, clock: Clock) -> None:
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE}))
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A))
    with pytest.raises(InvalidShareError):
        service.decide_step(GA_ADMIN, request.id, False, " ")
    rejected = service.decide_step(GA_ADMIN, request.id, False, "理由不充分")
    assert rejected.status is RequestStatus.REJECTED
    assert [s.status for s in rejected.steps] == [StepStatus.REJECTED, StepStatus.SKIPPED]
    assert service.grants_of_request(request.id) == []
    with pytest.raises(SharingConflictError):
        service.withdraw(JT_OPERATOR, request.id)


def test_withdraw_and_sensitivity_chains(service: SharingService, clock: Clock) -> None:
    service.publish(GA_ADMIN, ShareScope.CAMERA, CAM_A, frozenset({Mode.LIVE}), Sensitivity.HIGH)
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A))
    assert [s.kind for s in request.steps] == [StepKind.OWNER, StepKind.BUREAU, StepKind.SECURITY]
    with pytest.raises(SharingForbiddenError):
        service.withdraw(GA_ADMIN, request.id)
    withdrawn = service.withdraw(JT_OPERATOR, request.id)
    assert withdrawn.status is RequestStatus.WITHDRAWN
    assert {s.status for s in withdrawn.steps} == {StepStatus.SKIPPED}


def test_low_sensitivity_needs_only_the_owner_and_expiry_renewal(service: SharingService, clock: Clock) -> None:
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE, Mode.SNAPSHOT}), Sensitivity.LOW)
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A, modes=frozenset({Mode.SNAPSHOT})))
    assert service.decide_step(GA_ADMIN, request.id, True, "").status is RequestStatus.APPROVED
    [grant] = service.grants_of_request(request.id)
    camera = service.camera(CAM_A)
    assert service.authorise(JT_OPERATOR, Mode.SNAPSHOT, camera).treatment is Treatment.FULL
    assert not service.authorise(JT_OPERATOR, Mode.LIVE, camera).allowed  # only the modes asked for
    clock.now += dt.timedelta(days=8)
    assert not service.authorise(JT_OPERATOR, Mode.SNAPSHOT, camera).allowed  # past its window
    assert service.expire_due() == [grant.id] and service.expire_due() == []
    assert service.grant(grant.id).status is GrantStatus.EXPIRED
    with pytest.raises(InvalidShareError):
        service.renew(GA_ADMIN, grant.id, clock.now - dt.timedelta(hours=1))
    renewed = service.renew(GA_ADMIN, grant.id, clock.now + dt.timedelta(days=3), "延期")
    assert renewed.status is GrantStatus.ACTIVE
    assert service.authorise(JT_OPERATOR, Mode.SNAPSHOT, camera).allowed


def test_area_requests_take_published_cameras_of_other_units(service: SharingService, clock: Clock) -> None:
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE}))
    service.publish(user("CG", Role.UNIT_ADMIN), ShareScope.UNIT, None, frozenset({Mode.PLAYBACK}))
    area = Area.polygon([(116.2, 31.6), (116.6, 31.6), (116.6, 31.8), (116.2, 31.8)])
    request = service.file_request(JT_OPERATOR, ask(clock, area=area))
    assert request.camera_ids == (CAM_A,)  # B is not shared live; C is JT's own
    assert request.area == area.as_json()
    both = service.file_request(JT_OPERATOR, ask(clock, area=area, modes=frozenset({Mode.PLAYBACK})))
    assert both.camera_ids == (CAM_B,)
    with pytest.raises(InvalidShareError):
        service.file_request(JT_OPERATOR, ask(clock, area=area, modes=frozenset({Mode.EXPORT})))


def test_multi_owner_requests_get_one_step_and_one_grant_per_owner(service: SharingService, clock: Clock) -> None:
    cg_admin = user("CG", Role.UNIT_ADMIN)
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE}), Sensitivity.LOW)
    service.publish(cg_admin, ShareScope.UNIT, None, frozenset({Mode.LIVE}), Sensitivity.LOW)
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A, CAM_B))
    assert [(s.kind, s.unit_code) for s in request.steps] == [(StepKind.OWNER, "CG"), (StepKind.OWNER, "GA")]
    with pytest.raises(SharingForbiddenError):
        service.decide_step(GA_ADMIN, request.id, True, "")  # CG decides first
    service.decide_step(cg_admin, request.id, True, "")
    service.decide_step(GA_ADMIN, request.id, True, "")
    grants = service.grants_of_request(request.id)
    assert sorted((g.owner_unit_code, tuple(g.targets)) for g in grants) == [("CG", (CAM_B,)), ("GA", (CAM_A,))]


def test_bad_requests_are_refused_with_reasons(service: SharingService, clock: Clock) -> None:
    service.publish(GA_ADMIN, ShareScope.CAMERA, CAM_A, frozenset({Mode.LIVE}))
    bad: list[NewShareRequest] = [
        ask(clock, CAM_A, modes=frozenset()),
        ask(clock),  # neither cameras nor area
        ask(clock, CAM_A, area=Area.bbox(116, 31, 117, 32)),
        ask(clock, CAM_A, ends_at=clock.now),
        ask(clock, CAM_A, ends_at=clock.now + dt.timedelta(days=400)),
        ask(clock, CAM_A, purpose=" "),
        ask(clock, CAM_A, case_number=""),
        ask(clock, CAM_A, attachments=(Attachment("x", "", "a" * 64, 1),)),
        ask(clock, CAM_A, modes=frozenset({Mode.EXPORT})),  # not published for export
        ask(clock, CAM_B),  # not published at all
    ]
    for new in bad:
        with pytest.raises(InvalidShareError) as caught:
            service.file_request(JT_OPERATOR, new)
        assert caught.value.zh and caught.value.en and caught.value.status == 422
    with pytest.raises(SharingNotFoundError):
        service.file_request(JT_OPERATOR, ask(clock, "34150200001320009999"))
    with pytest.raises(SharingForbiddenError):
        service.file_request(user("GA", Role.OPERATOR), ask(clock, CAM_A))  # its own camera
    with pytest.raises(SharingForbiddenError):
        service.file_request(user("JT", Role.VIEWER), ask(clock, CAM_A))
    with pytest.raises(SharingForbiddenError):
        service.publish(JT_ADMIN, ShareScope.CAMERA, CAM_A, frozenset({Mode.LIVE}))  # not its camera
    with pytest.raises(InvalidShareError):
        service.publish(GA_ADMIN, ShareScope.DIVISION, "34x", frozenset({Mode.LIVE}))
    with pytest.raises(SharingNotFoundError):
        service.request(uuid.uuid4().hex)
    with pytest.raises(SharingNotFoundError):
        service.revoke(SECADMIN, "nope")


def test_a_revocation_from_elsewhere_refreshes_the_index(
    service: SharingService, clock: Clock, bus: InProcessRevocationBus, engine: Engine
) -> None:
    """Another process revoked the grant in the database; its message makes this one drop it."""
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE}), Sensitivity.LOW)
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A))
    service.decide_step(GA_ADMIN, request.id, True, "")
    [grant] = service.grants_of_request(request.id)
    other = SharingService(make_session_factory(engine), SharingConfig("GA", "SG"), InProcessRevocationBus(), clock)
    other.revoke(SECADMIN, grant.id)
    assert grant.id in service.index
    bus.publish(Revocation(grant.id))
    assert grant.id not in service.index
    assert not service.authorise(JT_OPERATOR, Mode.LIVE, CameraRef(CAM_A, "GA", "341502")).allowed
    other.close()


def test_chains_are_configurable(engine: Engine, clock: Clock) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        ga, jt = Unit(code="GA", name="GA"), Unit(code="JT", name="JT")
        session.add_all([ga, jt])
        session.flush()
        session.add(Camera(platform_id=CAM_A, name="a", division_code="341502", owner_unit_id=ga.id))
    chains = ApprovalChains(normal=(StepKind.OWNER, StepKind.SECURITY))
    service = SharingService(sessions, SharingConfig("GA", "SG", chains), InProcessRevocationBus(), clock)
    service.publish(GA_ADMIN, ShareScope.UNIT, None, frozenset({Mode.LIVE}))
    request = service.file_request(JT_OPERATOR, ask(clock, CAM_A))
    assert [s.kind for s in request.steps] == [StepKind.OWNER, StepKind.SECURITY]
    service.decide_step(GA_ADMIN, request.id, True, "")
    with pytest.raises(SharingForbiddenError):
        service.decide_step(user("JT", Role.SECADMIN), request.id, True, "")  # its own unit's request
    assert service.decide_step(SECADMIN, request.id, True, "").status is RequestStatus.APPROVED
    service.close()


# the revocation bus ------------------------------------------------------------------------------------------
def test_in_process_bus_survives_a_failing_subscriber() -> None:
    bus = InProcessRevocationBus()
    heard: list[Revocation] = []

    def boom(_: Revocation) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(boom)
    subscription = bus.subscribe(heard.append)
    bus.publish(Revocation("g1"))
    subscription.close()
    bus.publish(Revocation("g2"))
    assert heard == [Revocation("g1")]
    assert Revocation.decode(Revocation("g3", "expired").encode()) == Revocation("g3", "expired")
    with pytest.raises(ValueError):
        Revocation.decode('{"grant": 1}')


def test_redis_bus_reaches_every_subscriber(redis_url: str) -> None:
    channel = f"xueliang-test:{uuid.uuid4().hex}"
    publisher = RedisRevocationBus(redis_url, channel)
    nodes = [RedisRevocationBus(redis_url, channel) for _ in range(2)]
    inboxes: list[queue.Queue[Revocation]] = [queue.Queue() for _ in nodes]
    for node, inbox in zip(nodes, inboxes, strict=True):
        node.subscribe(inbox.put)
    publisher._client.publish(channel, "not json")  # a malformed message costs a log line only
    publisher.publish(Revocation("g-redis", "revoked"))
    for inbox in inboxes:
        assert inbox.get(timeout=3) == Revocation("g-redis", "revoked")
    for bus in (publisher, *nodes):
        bus.close()
