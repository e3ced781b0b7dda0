"""The policy: property tests over random units, cameras, grants and times, and the separation of duties.

The oracle below checks each grant by brute force over the plain list, so the index is tested against it too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xueliang.domain.grants import Grant, GrantStatus, ShareScope, StepKind
from xueliang.domain.policy import (
    EVERY_UNIT,
    SHARING_ROLES,
    AdminAction,
    ApprovalContext,
    CameraRef,
    GrantIndex,
    SharingParties,
    decide,
)
from xueliang.domain.principals import Mode, Principal, PrincipalKind, Role, Treatment

UNITS = ("GA", "JT", "CG", "YJ")
DIVISIONS = ("341502", "341503", "341502001", "341522")
BASE = dt.datetime(2026, 12, 1)

units = st.sampled_from(UNITS)
modes = st.frozensets(st.sampled_from(list(Mode)), min_size=1)
times = st.integers(min_value=0, max_value=96).map(lambda h: BASE + dt.timedelta(hours=h))
cameras = st.builds(
    CameraRef,
    id=st.sampled_from([f"c{i}" for i in range(6)]),
    owner_unit_code=units,
    division_code=st.one_of(st.none(), st.sampled_from(DIVISIONS)),
)


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    scope = draw(st.sampled_from(list(ShareScope)))
    owner = draw(units) if scope is not ShareScope.DIVISION else draw(st.one_of(st.none(), units))
    if scope is ShareScope.CAMERA:
        targets = draw(st.frozensets(st.sampled_from([f"c{i}" for i in range(6)]), min_size=1, max_size=3))
    elif scope is ShareScope.DIVISION:
        targets = draw(st.frozensets(st.sampled_from(("3415", "341502", "341503", "341522")), min_size=1, max_size=2))
    else:
        targets = frozenset()
    start = draw(times)
    return Grant(
        id=draw(st.text("abcdef0123456789", min_size=4, max_size=8)),
        grantee_unit_code=draw(units),
        owner_unit_code=owner,
        scope=scope,
        targets=targets,
        modes=draw(modes),
        valid_from=start,
        valid_until=start + dt.timedelta(hours=draw(st.integers(1, 48))),
        status=draw(st.sampled_from(list(GrantStatus))),
        grantee_principal_id=draw(st.one_of(st.none(), st.sampled_from(["u1", "u2"]))),
    )


principals = st.builds(
    Principal,
    kind=st.sampled_from(list(PrincipalKind)),
    id=st.sampled_from(["u1", "u2", "u3"]),
    name=st.just("someone"),
    unit_code=units,
    roles=st.frozensets(st.sampled_from(list(Role)), max_size=3),
    scopes=st.frozensets(st.sampled_from([m.value for m in Mode]), max_size=5),
)


def covers(grant: Grant, camera: CameraRef) -> bool:
    if grant.scope is ShareScope.CAMERA:
        return camera.id in grant.targets
    if grant.scope is ShareScope.UNIT:
        return grant.owner_unit_code == camera.owner_unit_code
    division = camera.division_code or ""
    return grant.owner_unit_code in (None, camera.owner_unit_code) and any(
        division.startswith(t) for t in grant.targets
    )


def mode_ok(grant: Grant, mode: Mode) -> bool:
    if mode in (Mode.LIVE, Mode.DESENSITISED):
        return bool(grant.modes & {Mode.LIVE, Mode.DESENSITISED})
    return mode in grant.modes


def usable(grant: Grant, principal: Principal, camera: CameraRef, mode: Mode, now: dt.datetime) -> bool:
    return (
        grant.status is GrantStatus.ACTIVE
        and grant.valid_from <= now < grant.valid_until
        and grant.grantee_unit_code == principal.unit_code
        and grant.grantee_principal_id in (None, principal.id)
        and covers(grant, camera)
        and mode_ok(grant, mode)
    )


@settings(max_examples=600, deadline=None)
@given(principals, st.sampled_from(list(Mode)), cameras, times, st.lists(grants(), max_size=12))
def test_no_video_without_a_valid_grant_unless_own_unit(
    principal: Principal, mode: Mode, camera: CameraRef, now: dt.datetime, granted: list[Grant]
) -> None:
    granted = list({g.id: g for g in granted}.values())
    decision = decide(principal, mode, camera, now, GrantIndex(granted))
    if principal.roles & {Role.SYSADMIN, Role.AUDITOR}:
        assert not decision.allowed  # never video by role, whatever else they hold
    if not decision.allowed:
        assert decision.treatment is None and decision.grant_id is None
        return
    assert decision.treatment is not None
    if decision.grant_id is None:
        assert camera.owner_unit_code == principal.unit_code
        assert principal.kind is not PrincipalKind.UPPER_PLATFORM
        assert (decision.treatment is Treatment.MASKED) == (mode is Mode.DESENSITISED)
        return
    grant = next(g for g in granted if g.id == decision.grant_id)
    assert usable(grant, principal, camera, mode, now)  # valid, in its window, covering, with the mode
    if grant.desensitised or mode is Mode.DESENSITISED:
        assert decision.treatment is Treatment.MASKED
    else:
        assert decision.treatment is Treatment.FULL  # an unmasked usable grant is preferred
    if principal.kind is PrincipalKind.API_KEY:
        assert mode.value in principal.scopes


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(Mode)), cameras, times, st.lists(grants(), max_size=12), units)
def test_a_usable_grant_is_always_found(
    mode: Mode, camera: CameraRef, now: dt.datetime, granted: list[Grant], unit: str
) -> None:
    """The index finds what the brute-force oracle finds, for an ordinary operator of another unit."""
    granted = list({g.id: g for g in granted}.values())
    principal = Principal(PrincipalKind.USER, "u1", "op", unit, frozenset({Role.OPERATOR}))
    decision = decide(principal, mode, camera, now, GrantIndex(granted))
    expected = camera.owner_unit_code == unit or any(usable(g, principal, camera, mode, now) for g in granted)
    assert decision.allowed == expected
    masked_only = all(g.desensitised for g in granted if usable(g, principal, camera, mode, now))
    if decision.allowed and decision.grant_id is not None:
        assert (decision.treatment is Treatment.MASKED) == (masked_only or mode is Mode.DESENSITISED)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(Mode)), cameras, times, st.lists(grants(), min_size=1, max_size=8))
def test_revoked_expired_or_future_grants_never_allow(
    mode: Mode, camera: CameraRef, now: dt.datetime, granted: list[Grant]
) -> None:
    principal = Principal(PrincipalKind.USER, "u1", "op", "YJ", frozenset({Role.UNIT_ADMIN}))
    camera = dataclasses.replace(camera, owner_unit_code="GA")
    spoiled = []
    for i, grant in enumerate(granted):
        grant = dataclasses.replace(grant, id=f"g{i}", grantee_unit_code="YJ", grantee_principal_id=None)
        match i % 3:
            case 0:
                spoiled.append(dataclasses.replace(grant, status=GrantStatus.REVOKED))
            case 1:
                spoiled.append(dataclasses.replace(grant, valid_until=now, valid_from=now - dt.timedelta(hours=1)))
            case _:
                spoiled.append(
                    dataclasses.replace(
                        grant, valid_from=now + dt.timedelta(seconds=1), valid_until=now + dt.timedelta(hours=1)
                    )
                )
    assert not decide(principal, mode, camera, now, GrantIndex(spoiled)).allowed


NOW = BASE + dt.timedelta(hours=1)
CAM = CameraRef("34150200001320000001", "GA", "341502")


def who(*roles: Role, unit: str = "JT", kind: PrincipalKind = PrincipalKind.USER) -> Principal:
    return Principal(kind, "p", "p", unit, frozenset(roles))


def a_grant(**kw: object) -> Grant:
    fields: dict[str, object] = {
        "id": "g1",
        "grantee_unit_code": "JT",
        "owner_unit_code": "GA",
        "scope": ShareScope.CAMERA,
        "targets": frozenset({CAM.id}),
        "modes": frozenset({Mode.LIVE}),
        "valid_from": BASE,
        "valid_until": BASE + dt.timedelta(days=1),
    }
    fields.update(kw)
    return Grant(**fields)  # type: ignore[arg-type]


def test_own_unit_and_granted_cameras() -> None:
    empty = GrantIndex()
    assert decide(who(Role.VIEWER, unit="GA"), Mode.LIVE, CAM, NOW, empty).treatment is Treatment.FULL
    assert not decide(who(Role.VIEWER, unit="GA"), Mode.EXPORT, CAM, NOW, empty).allowed  # viewers never export
    assert not decide(who(Role.OPERATOR), Mode.LIVE, CAM, NOW, empty).allowed
    index = GrantIndex([a_grant()])
    decision = decide(who(Role.OPERATOR), Mode.LIVE, CAM, NOW, index)
    assert decision.allowed and decision.grant_id == "g1" and decision.treatment is Treatment.FULL
    assert not decide(who(Role.OPERATOR), Mode.PLAYBACK, CAM, NOW, index).allowed  # mode not granted
    assert decide(who(Role.OPERATOR), Mode.DESENSITISED, CAM, NOW, index).treatment is Treatment.MASKED
    masked = GrantIndex([a_grant(modes=frozenset({Mode.DESENSITISED, Mode.SNAPSHOT}))])
    assert decide(who(Role.OPERATOR), Mode.LIVE, CAM, NOW, masked).treatment is Treatment.MASKED
    assert decide(who(Role.OPERATOR), Mode.SNAPSHOT, CAM, NOW, masked).treatment is Treatment.MASKED
    upper = who(unit="GA", kind=PrincipalKind.UPPER_PLATFORM)
    assert not decide(upper, Mode.LIVE, CAM, NOW, empty).allowed  # an upper platform sees only what is granted
    assert not decide(who(Role.OPERATOR), Mode.LIVE, None, NOW, index).allowed


@pytest.mark.parametrize("role", [Role.SYSADMIN, Role.AUDITOR, Role.SECADMIN])
def test_administrators_get_no_video_by_role(role: Role) -> None:
    granted = GrantIndex([a_grant(grantee_unit_code="GA")])
    for mode in Mode:
        assert not decide(who(role, unit="GA"), mode, CAM, NOW, granted).allowed


@pytest.mark.parametrize("role", [Role.SYSADMIN, Role.AUDITOR])
def test_no_video_even_with_a_video_role_besides(role: Role) -> None:
    assert not decide(who(role, Role.UNIT_ADMIN, unit="GA"), Mode.LIVE, CAM, NOW, GrantIndex()).allowed


def test_separation_of_duties_for_administration() -> None:
    allowed = {
        (Role.SYSADMIN, AdminAction.USER_MANAGE),
        (Role.SYSADMIN, AdminAction.CONFIG_EDIT),
        (Role.SYSADMIN, AdminAction.CAMERA_EDIT),
        (Role.AUDITOR, AdminAction.AUDIT_READ),
        (Role.SECADMIN, AdminAction.GRANT_REVOKE),
        (Role.SECADMIN, AdminAction.GRANT_RENEW),
        (Role.SECADMIN, AdminAction.SHARE_PUBLISH),
    }
    for role in Role:
        for action in (
            AdminAction.USER_MANAGE,
            AdminAction.CONFIG_EDIT,
            AdminAction.CAMERA_EDIT,
            AdminAction.AUDIT_READ,
            AdminAction.GRANT_REVOKE,
            AdminAction.GRANT_RENEW,
            AdminAction.SHARE_PUBLISH,
        ):
            # on another unit's camera, so unit administrators have no owner's rights here
            assert decide(who(role, unit="YJ"), action, CAM, NOW, GrantIndex()).allowed == ((role, action) in allowed)
    owner_admin = who(Role.UNIT_ADMIN, unit="GA")
    for action in (AdminAction.SHARE_PUBLISH, AdminAction.GRANT_REVOKE, AdminAction.CAMERA_EDIT):
        assert decide(owner_admin, action, CAM, NOW, GrantIndex()).allowed
    assert not decide(owner_admin, AdminAction.AUDIT_READ, CAM, NOW, GrantIndex()).allowed


def test_approval_steps() -> None:
    jt_request = ApprovalContext("JT", StepKind.OWNER, "SG")
    assert decide(
        who(Role.UNIT_ADMIN, unit="GA"), AdminAction.GRANT_APPROVE, CAM, NOW, GrantIndex(), context=jt_request
    ).allowed
    # the requesting unit's administrator may not approve its own request for GA's cameras
    refused = decide(
        who(Role.UNIT_ADMIN, unit="JT"), AdminAction.GRANT_APPROVE, CAM, NOW, GrantIndex(), context=jt_request
    )
    assert not refused.allowed and "own unit" in refused.reason_en
    assert not decide(
        who(Role.SECADMIN, unit="GA"), AdminAction.GRANT_APPROVE, CAM, NOW, GrantIndex(), context=jt_request
    ).allowed
    bureau = ApprovalContext("JT", StepKind.BUREAU, "SG")
    assert decide(
        who(Role.UNIT_ADMIN, unit="SG"), AdminAction.GRANT_APPROVE, None, NOW, GrantIndex(), context=bureau
    ).allowed
    assert not decide(
        who(Role.UNIT_ADMIN, unit="GA"), AdminAction.GRANT_APPROVE, None, NOW, GrantIndex(), context=bureau
    ).allowed
    # the bureau's own request for others' cameras is approved by someone else
    own = ApprovalContext("SG", StepKind.BUREAU, "SG")
    assert not decide(
        who(Role.UNIT_ADMIN, unit="SG"), AdminAction.GRANT_APPROVE, None, NOW, GrantIndex(), context=own
    ).allowed
    security = ApprovalContext("JT", StepKind.SECURITY, "SG")
    assert decide(
        who(Role.SECADMIN, unit="GA"), AdminAction.GRANT_APPROVE, None, NOW, GrantIndex(), context=security
    ).allowed
    assert not decide(who(Role.SECADMIN), AdminAction.GRANT_APPROVE, None, NOW, GrantIndex(), context=security).allowed
    assert not decide(who(Role.UNIT_ADMIN, unit="GA"), AdminAction.GRANT_APPROVE, CAM, NOW, GrantIndex()).allowed


def test_nobody_grants_their_own_unit_other_units_cameras() -> None:
    to_jt = ApprovalContext("JT")
    assert not decide(
        who(Role.UNIT_ADMIN, unit="JT"), AdminAction.GRANT_CREATE, CAM, NOW, GrantIndex(), context=to_jt
    ).allowed
    assert not decide(
        who(Role.SECADMIN, unit="JT"), AdminAction.GRANT_CREATE, CAM, NOW, GrantIndex(), context=to_jt
    ).allowed
    assert decide(
        who(Role.SECADMIN, unit="YJ"), AdminAction.GRANT_CREATE, CAM, NOW, GrantIndex(), context=to_jt
    ).allowed
    assert not decide(
        who(Role.UNIT_ADMIN, unit="GA"), AdminAction.GRANT_CREATE, CAM, NOW, GrantIndex(), context=to_jt
    ).allowed
    # requests: operators and unit admins of another unit, never for their own cameras
    assert decide(who(Role.OPERATOR), AdminAction.SHARE_REQUEST, CAM, NOW, GrantIndex()).allowed
    assert not decide(who(Role.OPERATOR, unit="GA"), AdminAction.SHARE_REQUEST, CAM, NOW, GrantIndex()).allowed
    assert not decide(who(Role.VIEWER), AdminAction.SHARE_REQUEST, CAM, NOW, GrantIndex()).allowed


def test_api_keys_need_the_scope() -> None:
    key = Principal(PrincipalKind.API_KEY, "k", "k", "GA", frozenset({Role.OPERATOR}), frozenset({"snapshot"}))
    assert decide(key, Mode.SNAPSHOT, CAM, NOW, GrantIndex()).allowed
    assert not decide(key, Mode.LIVE, CAM, NOW, GrantIndex()).allowed


def test_division_and_unit_grants_are_found_through_the_index() -> None:
    division = a_grant(id="d", scope=ShareScope.DIVISION, targets=frozenset({"3415"}), owner_unit_code=None)
    unit = a_grant(id="u", scope=ShareScope.UNIT, targets=frozenset(), modes=frozenset({Mode.PLAYBACK}))
    index = GrantIndex([division, unit])
    assert len(index) == 2 and "d" in index
    assert decide(who(Role.OPERATOR), Mode.LIVE, CAM, NOW, index).grant_id == "d"
    assert decide(who(Role.OPERATOR), Mode.PLAYBACK, CAM, NOW, index).grant_id == "u"
    elsewhere = CameraRef("x", "CG", "341100")
    assert not decide(who(Role.OPERATOR), Mode.LIVE, elsewhere, NOW, index).allowed


# sharing records: who sees share requests, grants, notifications (SHARE_READ with the record's parties) ----------

parties = st.builds(
    SharingParties,
    requester_unit_code=st.one_of(st.none(), units),
    owner_unit_codes=st.frozensets(units, max_size=2),
    step_unit_codes=st.frozensets(st.sampled_from((*UNITS, "BUREAU")), max_size=3),
    every_unit=st.booleans(),
)
readers = st.builds(
    Principal,
    kind=st.sampled_from(list(PrincipalKind)),
    id=st.sampled_from(["u1", "u2"]),
    name=st.just("someone"),
    unit_code=st.sampled_from((*UNITS, "BUREAU")),
    roles=st.frozensets(st.sampled_from(list(Role)), max_size=3),
    scopes=st.frozensets(st.sampled_from(["share.read", "share.request", "grant.revoke", "live"]), max_size=3),
)


@settings(max_examples=600, deadline=None)
@given(readers, parties, times, st.lists(grants(), max_size=6))
def test_sharing_records_are_seen_by_their_parties_and_the_security_administrator(
    principal: Principal, record: SharingParties, now: dt.datetime, granted: list[Grant]
) -> None:
    granted = list({g.id: g for g in granted}.values())
    decision = decide(principal, AdminAction.SHARE_READ, None, now, GrantIndex(granted), context=record)
    named = principal.unit_code in {record.requester_unit_code, *record.owner_unit_codes, *record.step_unit_codes}
    takes_part = bool(principal.roles & SHARING_ROLES)
    scoped = principal.kind is not PrincipalKind.API_KEY or "share.read" in principal.scopes
    oversees = Role.SECADMIN in principal.roles
    assert decision.allowed == (scoped and takes_part and (oversees or (named and not record.every_unit)))
    assert decision.treatment is None and decision.grant_id is None  # a record is no video
    assert decision.reason_zh and decision.reason_en
    if principal.roles <= {Role.SYSADMIN, Role.AUDITOR}:
        assert not decision.allowed  # they take no part in sharing, whoever the parties are
    # grants held and the time of day change nothing: visibility is by party, not by use
    assert decide(principal, AdminAction.SHARE_READ, None, BASE, GrantIndex(), context=record) == decision


@settings(max_examples=300, deadline=None)
@given(readers, parties)
def test_naming_the_reader_unit_never_hides_a_record(principal: Principal, record: SharingParties) -> None:
    """Adding the reader's unit to the parties only ever widens what it sees (monotone in the parties)."""
    before = decide(principal, AdminAction.SHARE_READ, None, NOW, GrantIndex(), context=record)
    widened = dataclasses.replace(record, step_unit_codes=record.step_unit_codes | {principal.unit_code})
    after = decide(principal, AdminAction.SHARE_READ, None, NOW, GrantIndex(), context=widened)
    assert after.allowed or not before.allowed


def read(principal: Principal, record: SharingParties | ApprovalContext | None) -> bool:
    return decide(principal, AdminAction.SHARE_READ, None, NOW, GrantIndex(), context=record).allowed


def test_share_read_by_role_and_party() -> None:
    request = SharingParties("JT", frozenset({"GA"}), frozenset({"GA", "BUREAU"}))
    for role in (Role.UNIT_ADMIN, Role.OPERATOR, Role.VIEWER):
        assert read(who(role, unit="JT"), request)  # the requesting unit
        assert read(who(role, unit="GA"), request)  # the owner unit
        assert read(who(role, unit="BUREAU"), request)  # a unit deciding a step
        assert not read(who(role, unit="CG"), request)  # no party to it
        assert read(who(role, unit="CG"), SharingParties.of_unit("CG"))  # its own unit's lists
        assert not read(who(role, unit="CG"), EVERY_UNIT)
    assert read(who(Role.SECADMIN, unit="CG"), request) and read(who(Role.SECADMIN, unit="CG"), EVERY_UNIT)
    for role in (Role.SYSADMIN, Role.AUDITOR):
        for record in (request, SharingParties.of_unit("JT"), EVERY_UNIT):
            refused = decide(who(role, unit="JT"), AdminAction.SHARE_READ, None, NOW, GrantIndex(), context=record)
            assert not refused.allowed and "no part in sharing" in refused.reason_en
    # a record must be named: no context, or an approval's context, is no answer
    assert not read(who(Role.SECADMIN), None)
    assert not read(who(Role.SECADMIN), ApprovalContext("JT"))
    # and a record's parties are no approval context
    assert not decide(
        who(Role.UNIT_ADMIN, unit="GA"), AdminAction.GRANT_APPROVE, CAM, NOW, GrantIndex(), context=request
    ).allowed


def test_api_keys_need_the_share_read_scope() -> None:
    grant = SharingParties("JT", frozenset({"GA"}))

    def key(*scopes: str) -> Principal:
        return Principal(PrincipalKind.API_KEY, "k", "k", "JT", frozenset({Role.OPERATOR}), frozenset(scopes))

    refused = decide(key("live", "share.request"), AdminAction.SHARE_READ, None, NOW, GrantIndex(), context=grant)
    assert not refused.allowed and "share.read" in refused.reason_en
    assert read(key("share.read"), grant)
    assert not read(key("share.read"), SharingParties("CG", frozenset({"GA"})))  # the scope widens nothing
