"""The policy's property, through the database, on SQLite and PostgreSQL: random grants (every scope, status, window,
grantee) stored by the sharing repository and read back into the service's index give exactly the decisions the
pure policy gives over the same grants in memory, and no video is ever allowed without the unit's own camera or an
active grant in its window that covers the camera and the mode. (tests/unit/domain/test_policy.py proves the pure
policy against a brute-force oracle; this proves the storage round trip and the camera lookup keep it.)
"""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from xueliang.domain.grants import Grant, GrantStatus, ShareScope
from xueliang.domain.policy import CameraRef, GrantIndex, decide
from xueliang.domain.principals import Mode, Principal, PrincipalKind, Role
from xueliang.sharing.grants import SharingConfig, SharingService
from xueliang.sharing.revocation import InProcessRevocationBus
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.models import Camera, Unit
from xueliang.store.sharing_tables import ShareGrant

UNITS = ("GA", "JT", "CG", "YJ")
BASE = dt.datetime(2026, 12, 1)
#: six archived cameras: platform ID -> (owner unit, division)
CAMERAS = {
    "34150200001320000001": ("GA", "341502"),
    "34150200001320000002": ("JT", "341502"),
    "34150300001320000003": ("CG", "341503"),
    "34152200001320000004": ("GA", "341522"),
    "34152200001320000005": ("YJ", "341522"),
    "34150300001320000006": ("JT", "341503"),
}

units = st.sampled_from(UNITS)
times = st.integers(min_value=0, max_value=72).map(lambda h: BASE + dt.timedelta(hours=h))


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    scope = draw(st.sampled_from(list(ShareScope)))
    owner = draw(units) if scope is not ShareScope.DIVISION else draw(st.one_of(st.none(), units))
    if scope is ShareScope.CAMERA:
        targets = draw(st.frozensets(st.sampled_from(sorted(CAMERAS)), min_size=1, max_size=3))
    elif scope is ShareScope.DIVISION:
        targets = draw(st.frozensets(st.sampled_from(("3415", "341502", "341503", "341522")), min_size=1, max_size=2))
    else:
        targets = frozenset()
    start = draw(times)
    return Grant(
        id=uuid.uuid4().hex,
        grantee_unit_code=draw(units),
        owner_unit_code=owner,
        scope=scope,
        targets=targets,
        modes=draw(st.frozensets(st.sampled_from(list(Mode)), min_size=1)),
        valid_from=start,
        valid_until=start + dt.timedelta(hours=draw(st.integers(1, 36))),
        status=draw(st.sampled_from(list(GrantStatus))),
        grantee_principal_id=draw(st.one_of(st.none(), st.sampled_from(["u1", "u2"]))),
    )


principals = st.builds(
    Principal,
    kind=st.sampled_from([PrincipalKind.USER, PrincipalKind.API_KEY]),
    id=st.sampled_from(["u1", "u2", "u3"]),
    name=st.just("someone"),
    unit_code=units,
    roles=st.frozensets(st.sampled_from(list(Role)), min_size=1, max_size=2),
    scopes=st.frozensets(st.sampled_from([m.value for m in Mode]), max_size=5),
)
queries = st.lists(
    st.tuples(principals, st.sampled_from(list(Mode)), st.sampled_from(sorted(CAMERAS)), times), min_size=1, max_size=8
)


def seed(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        rows = {code: Unit(code=code, name=code, kind="department") for code in UNITS}
        session.add_all(rows.values())
        session.flush()
        session.add_all(
            Camera(platform_id=pid, name=pid, division_code=division, owner_unit_id=rows[owner].id)
            for pid, (owner, division) in CAMERAS.items()
        )


def test_stored_grants_decide_exactly_as_in_memory_and_never_without_a_valid_grant(engine: Engine) -> None:
    seed(engine)
    sessions = make_session_factory(engine)
    bus = InProcessRevocationBus()
    service = SharingService(sessions, SharingConfig("GA", "CG"), bus)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(grants(), max_size=10), queries)
    def check(granted: list[Grant], asked: list[tuple[Principal, Mode, str, dt.datetime]]) -> None:
        with transaction(sessions) as session:
            session.execute(delete(ShareGrant))
            repo = service.repo(session)
            for grant in granted:
                repo.add_grant(grant, "test", BASE)
        service.refresh()
        in_memory = GrantIndex(g for g in granted if g.status is GrantStatus.ACTIVE)
        by_id = {g.id: g for g in granted}
        for principal, mode, camera_id, now in asked:
            camera = service.camera(camera_id)
            owner, division = CAMERAS[camera_id]
            assert camera == CameraRef(camera_id, owner, division)
            stored = service.authorise(principal, mode, camera, now)
            expected = decide(principal, mode, camera, now, in_memory)
            assert (stored.allowed, stored.treatment, stored.grant_id) == (
                expected.allowed,
                expected.treatment,
                expected.grant_id,
            )
            if not stored.allowed:
                continue
            assert not principal.roles & {Role.SYSADMIN, Role.AUDITOR}
            if stored.grant_id is None:
                assert owner == principal.unit_code
                continue
            grant = by_id[stored.grant_id]
            assert grant.status is GrantStatus.ACTIVE and grant.valid_from <= now < grant.valid_until
            assert grant.grantee_unit_code == principal.unit_code
            assert grant.grantee_principal_id in (None, principal.id)

    try:
        check()
    finally:
        service.close()
        bus.close()
