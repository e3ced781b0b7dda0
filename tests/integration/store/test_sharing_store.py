"""The sharing tables on SQLite and PostgreSQL: offers, requests with steps, grants with cameras, events."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xueliang.domain.grants import (
    Grant,
    GrantStatus,
    RequestStatus,
    Sensitivity,
    ShareScope,
    StepKind,
    StepStatus,
)
from xueliang.domain.principals import Mode
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.models import Base, Camera, Unit
from xueliang.store.sharing import ShareRequest, SharingRepository, Step

T0 = dt.datetime(2026, 12, 1, 8, 0)
TABLES = {
    "share_offer",
    "share_request",
    "share_request_camera",
    "approval_step",
    "share_grant",
    "share_grant_camera",
    "sharing_event",
}


def seed(session: Session) -> dict[str, int]:
    units = {code: Unit(code=code, name=code, kind="department") for code in ("GA", "JT", "SG")}
    session.add_all(units.values())
    session.flush()
    cameras = [
        Camera(
            platform_id="34150200001320000001",
            name="a",
            division_code="341502",
            owner_unit_id=units["GA"].id,
            longitude=116.5,
            latitude=31.75,
        ),
        Camera(
            platform_id="34150300001320000002",
            name="b",
            division_code="341503",
            owner_unit_id=units["GA"].id,
            longitude=116.3,
            latitude=31.70,
        ),
        Camera(
            platform_id="34152200001320000003",
            name="c",
            division_code="341522",
            owner_unit_id=None,
            longitude=116.0,
            latitude=32.3,
        ),
    ]
    session.add_all(cameras)
    session.flush()
    return {c.platform_id: c.id for c in cameras}


def test_tables_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, Base.metadata) if any(t in str(d) for t in TABLES)]
    assert diffs == []


def test_cameras_offers_and_area(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        seed(session)
        repo = SharingRepository(session, default_owner="GA")
        found = repo.cameras(["34150200001320000001", "34152200001320000003", "nope"])
        assert set(found) == {"34150200001320000001", "34152200001320000003"}
        assert found["34152200001320000003"].ref.owner_unit_code == "GA"  # no owner: the platform's unit
        boxed = repo.cameras_in_box(116.2, 31.6, 116.6, 31.8)
        assert [c.ref.id for c in boxed] == ["34150200001320000001", "34150300001320000002"]
        division = repo.publish("GA", ShareScope.DIVISION, "341502", frozenset({Mode.LIVE}), Sensitivity.LOW, "u")
        repo.publish("GA", ShareScope.CAMERA, "34150300001320000002", frozenset({Mode.SNAPSHOT}), Sensitivity.HIGH, "u")
        again = repo.publish("GA", ShareScope.DIVISION, "341502", frozenset({Mode.PLAYBACK}), Sensitivity.LOW, "u")
        assert again.id == division.id  # republishing replaces the modes
        offers = repo.offers_for(boxed)
        assert [o.modes for o in offers["34150200001320000001"]] == [frozenset({Mode.PLAYBACK})]
        assert [o.sensitivity for o in offers["34150300001320000002"]] == [Sensitivity.HIGH]
        assert len(repo.offers_of("GA")) == 2 and repo.offers_of("XX") == []
        assert repo.unpublish(division.id) and not repo.unpublish(division.id)


def test_request_steps_grants_and_events(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        pks = seed(session)
        repo = SharingRepository(session, default_owner="GA")
        steps = (Step(0, StepKind.OWNER, "GA", StepStatus.OPEN), Step(1, StepKind.BUREAU, "SG", StepStatus.WAITING))
        request = ShareRequest(
            "r1",
            "JT",
            "user-7",
            ("34150200001320000001",),
            frozenset({Mode.LIVE, Mode.DESENSITISED}),
            T0,
            T0 + dt.timedelta(days=7),
            "巡查",
            "案-2026-1",
            ({"name": "a.pdf", "path": "f/1", "sha256": "0" * 64, "size": 3},),
            None,
            Sensitivity.NORMAL,
            RequestStatus.PENDING,
            steps,
            T0,
        )
        repo.add_request(request, [pks["34150200001320000001"]])
    with transaction(sessions) as session:
        repo = SharingRepository(session, default_owner="GA")
        loaded = repo.get_request("r1", lock=True)
        assert loaded is not None and loaded == request
        assert loaded.open_step() == steps[0]
        repo.set_step("r1", 0, StepStatus.APPROVED, approver_id="admin-ga", comment="同意", decided_at=T0)
        repo.set_request_status("r1", RequestStatus.APPROVED, T0)
        grant = Grant(
            "g1",
            "JT",
            "GA",
            ShareScope.CAMERA,
            frozenset({"34150200001320000001"}),
            frozenset({Mode.LIVE}),
            T0,
            T0 + dt.timedelta(days=7),
            request_id="r1",
        )
        division = Grant(
            "g2",
            "JT",
            None,
            ShareScope.DIVISION,
            frozenset({"3415"}),
            frozenset({Mode.SNAPSHOT}),
            T0,
            T0 + dt.timedelta(hours=1),
        )
        repo.add_grant(grant, "admin-ga", T0)
        repo.add_grant(division, "sec", T0)
        with pytest.raises(LookupError):
            repo.add_grant(
                Grant(
                    "g3",
                    "JT",
                    "GA",
                    ShareScope.CAMERA,
                    frozenset({"unknown"}),
                    frozenset({Mode.LIVE}),
                    T0,
                    T0 + dt.timedelta(hours=1),
                ),
                "x",
                T0,
            )
        repo.add_event("grant.created", "JT", "admin-ga", T0, "授权", "granted", request_id="r1", grant_id="g1")
        repo.add_event("grant.created", None, "sec", T0, "授权", "granted", grant_id="g2")
    with transaction(sessions) as session:
        repo = SharingRepository(session, default_owner="GA")
        loaded = repo.get_request("r1")
        assert loaded is not None and loaded.status is RequestStatus.APPROVED
        assert loaded.steps[0].approver_id == "admin-ga" and loaded.steps[0].comment == "同意"
        assert sorted(g.id for g in repo.active_grants()) == ["g1", "g2"]
        assert repo.get_grant("g1") == grant and repo.get_grant("nope") is None
        assert repo.grants_of_request("r1") == [grant]
        assert repo.due_for_expiry(T0 + dt.timedelta(hours=2)) == ["g2"]
        repo.change_grant("g2", GrantStatus.EXPIRED, "system", T0 + dt.timedelta(hours=2))
        repo.change_grant("g1", GrantStatus.ACTIVE, "sec", T0, "续期", valid_until=T0 + dt.timedelta(days=30))
        assert [g.id for g in repo.active_grants()] == ["g1"]
        assert repo.get_grant("g1").valid_until == T0 + dt.timedelta(days=30)  # type: ignore[union-attr]
        jt = repo.events("JT")
        assert [(e.kind, e.grant_id) for e in jt] == [("grant.created", "g1")]
        assert repo.events("JT", after_id=jt[0].id) == []
        assert [e.grant_id for e in repo.events(None)] == ["g2"]
        assert repo.events("XX") == []
        assert repo.requests_of("JT") == ["r1"]


def test_a_camera_leaving_the_archive_leaves_its_grants_empty(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        pks = seed(session)
        repo = SharingRepository(session, default_owner="GA")
        repo.add_grant(
            Grant(
                "g1",
                "JT",
                "GA",
                ShareScope.CAMERA,
                frozenset({"34150200001320000001"}),
                frozenset({Mode.LIVE}),
                T0,
                T0 + dt.timedelta(days=1),
            ),
            "x",
            T0,
        )
    with transaction(sessions) as session:
        session.execute(delete(Camera).where(Camera.id == pks["34150200001320000001"]))
    with transaction(sessions) as session:
        assert SharingRepository(session, default_owner="GA").active_grants() == []


def test_units_in_use_cannot_be_deleted(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        seed(session)
        SharingRepository(session, "GA").publish(
            "SG", ShareScope.UNIT, None, frozenset({Mode.LIVE}), Sensitivity.NORMAL, "u"
        )
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.execute(delete(Unit).where(Unit.code == "SG"))  # it has no cameras, but an offer
    with sessions() as session:
        assert session.scalar(select(Unit.id).where(Unit.code == "SG")) is not None
