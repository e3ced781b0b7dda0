"""/api/v1/share/... and /api/v1/events through the real app on both databases: a unit publishes, another unit's
operator files a request with an attachment, the owner unit and the data bureau approve, the grant is held and
given, revoked and renewed; refusals answer with the right status and leave an audit record; a failing audit log
refuses the change (503) and changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Users

from xueliang.app import Platform
from xueliang.domain.audit import AuditEvent, AuditUnavailableError
from xueliang.store.db import transaction
from xueliang.store.models import Camera
from xueliang.store.units import UnitRepository

CAM_A, CAM_B, CAM_J = "34150200001320000001", "34150300001320000002", "34152200001320000003"
CAMERAS = [  # id, name, division, owner unit, longitude, latitude
    (CAM_A, "a", "341502", "GA", 116.5, 31.75),
    (CAM_B, "b", "341503", "GA", 116.3, 31.70),
    (CAM_J, "j", "341522", "JT", 116.4, 31.72),
]
USERS = {
    "ga_admin": ("unit_admin", "GA"),
    "ga_viewer": ("viewer", "GA"),
    "jt_op": ("operator", "JT"),
    "jt_admin": ("unit_admin", "JT"),
    "jt_viewer": ("viewer", "JT"),
    "cg_op": ("operator", "CG"),
    "bureau": ("unit_admin", "BUREAU"),
    "sec": ("secadmin", None),
    "aud": ("auditor", None),
}


@dataclass
class World:
    """The seeded platform: units GA (owns A and B), JT (owns J), CG, BUREAU; a user per role of interest."""

    client: TestClient
    platform: Platform
    headers: dict[str, dict[str, str]]

    def call(self, method: str, path: str, who: str | None, **kw: Any) -> Any:
        headers = {**kw.pop("headers", {}), **({} if who is None else self.headers[who])}
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kw)

    def ok(self, method: str, path: str, who: str, status: int = 200, **kw: Any) -> Any:
        response = self.call(method, path, who, **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def publish(self, who: str = "ga_admin", **body: Any) -> Any:
        return self.ok("POST", "/share/offers", who, 201, json=body)

    def file(self, who: str = "jt_op", **body: Any) -> Any:
        return self.ok("POST", "/share/requests", who, 201, json=request_body(**body))

    def records(self, action: str | None = None, actor: str | None = None) -> list[Any]:
        """Audit records written so far, newest first."""
        self.platform.audit.flush()
        return self.platform.audit.search(action=action, actor=actor, limit=1000).records


def request_body(**overrides: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    body: dict[str, Any] = {
        "cameras": [CAM_A],
        "modes": ["live"],
        "starts_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(days=7)).isoformat(),
        "purpose": "交通疏导",
        "case_number": "六交〔2026〕12号",
    }
    body.update(overrides)
    return body


def seed(platform: Platform) -> None:
    """Units through the account service (the data bureau's exists from the start), cameras in the archive."""
    for code in ("GA", "JT", "CG"):
        platform.accounts.create_unit(code, f"单位 {code}", actor="test")
    with transaction(platform.sessions) as session:
        made = UnitRepository(session).ids_by_code()
        session.add_all(
            Camera(
                platform_id=camera,
                name=name,
                division_code=division,
                owner_unit_id=made[owner],
                longitude=longitude,
                latitude=latitude,
            )
            for camera, name, division, owner, longitude, latitude in CAMERAS
        )


@pytest.fixture
def world(client: TestClient, platform: Platform, users: Users) -> World:
    seed(platform)
    headers = {}
    for username, (role, unit) in USERS.items():
        users.create(username, role, unit)
        headers[username] = users.headers(client, username)
    client.headers.pop("Authorization")  # every call below says who makes it
    return World(client, platform, headers)


def approved_grant(world: World, **body: Any) -> tuple[str, str]:
    """A request by JT for CAM_B through its chain (owner GA, then the bureau); (request id, grant id)."""
    request = world.file(cameras=[CAM_B], **body)
    world.ok("POST", f"/share/requests/{request['id']}/approve", "ga_admin", json={})
    done = world.ok("POST", f"/share/requests/{request['id']}/approve", "bureau")
    assert done["status"] == "approved"
    return request["id"], done["grants"][0]


def test_share_request_flow_over_http(world: World) -> None:
    offer = world.publish(scope="division", target="341502", modes=["live", "desensitised"])
    assert offer["owner_unit"] == "GA" and offer["sensitivity"] == "normal"
    assert [o["id"] for o in world.ok("GET", "/share/offers", "ga_admin")["items"]] == [offer["id"]]
    assert world.ok("GET", "/share/offers", "jt_op")["items"] == []  # its own unit offers nothing
    browsed = world.ok("GET", "/share/offers", "jt_op", params={"all_units": "true"})["items"]
    assert [(o["owner_unit"], o["division_code"]) for o in browsed] == [("GA", "341502")]

    letter = "公函：请求调阅视频".encode() * 100
    uploaded = world.ok("POST", "/share/attachments", "jt_op", 201, files={"file": ("../../函.pdf", letter)})
    assert uploaded == {
        "name": "函.pdf",
        "path": f"attachments/{hashlib.sha256(letter).hexdigest()}",
        "sha256": hashlib.sha256(letter).hexdigest(),
        "size": len(letter),
    }
    request = world.file(modes=["desensitised"], attachments=[uploaded])
    assert request["status"] == "pending" and request["cameras"] == [CAM_A]
    assert [(s["kind"], s["unit"], s["status"]) for s in request["steps"]] == [
        ("owner", "GA", "open"),
        ("bureau", "BUREAU", "waiting"),
    ]
    assert [r["id"] for r in world.ok("GET", "/share/requests", "jt_op")["items"]] == [request["id"]]
    to_decide = {
        who: world.ok("GET", "/share/requests", who, params={"box": "to_decide"})["items"]
        for who in ("ga_admin", "bureau", "jt_admin", "sec")
    }
    assert [r["id"] for r in to_decide["ga_admin"]] == [request["id"]]
    assert to_decide["bureau"] == to_decide["jt_admin"] == to_decide["sec"] == []

    path = f"/share/requests/{request['id']}"
    assert world.call("POST", f"{path}/approve", "jt_admin", json={}).status_code == 403  # its own unit's request
    assert world.call("POST", f"{path}/approve", "bureau", json={}).status_code == 403  # not its turn yet
    after_owner = world.ok("POST", f"{path}/approve", "ga_admin", json={"comment": "同意"})
    assert after_owner["open_step"]["kind"] == "bureau" and after_owner["steps"][0]["approver"] == "ga_admin"
    assert [r["id"] for r in world.ok("GET", "/share/requests", "bureau", params={"box": "to_decide"})["items"]] == [
        request["id"]
    ]
    approved = world.ok("POST", f"{path}/approve", "bureau")
    assert approved["status"] == "approved" and len(approved["grants"]) == 1
    grant_id = approved["grants"][0]

    held = world.ok("GET", "/share/grants", "jt_viewer")["items"]  # every member of the grantee unit sees it
    assert [(g["id"], g["desensitised"], g["targets"]) for g in held] == [(grant_id, True, [CAM_A])]
    assert [g["id"] for g in world.ok("GET", "/share/grants", "ga_admin", params={"direction": "given"})["items"]] == [
        grant_id
    ]
    assert world.ok("GET", "/share/grants", "jt_op", params={"direction": "given"})["items"] == []
    assert [g["id"] for g in world.ok("GET", "/share/grants", "sec", params={"direction": "all"})["items"]] == [
        grant_id
    ]
    assert world.ok("GET", f"/share/grants/{grant_id}", "ga_viewer")["request_id"] == request["id"]
    download = world.call("GET", f"{path}/attachments/{uploaded['sha256']}", "ga_admin")  # the approver reads it
    assert download.status_code == 200 and download.content == letter
    assert "attachment" in download.headers["content-disposition"]

    events = world.ok("GET", "/events", "jt_op", headers={"Accept-Language": "en"})
    assert [e["kind"] for e in events["items"]] == ["request.filed", "grant.created"]
    assert all(e["message"] == e["message_en"] and e["message_zh"] for e in events["items"])
    assert world.ok("GET", "/events", "jt_op", params={"after": events["next_after"]})["items"] == []
    assert [e["kind"] for e in world.ok("GET", "/events", "bureau")["items"]] == ["step.open"]

    assert world.call("POST", f"/share/grants/{grant_id}/revoke", "jt_admin", json={}).status_code == 403
    revoked = world.ok("POST", f"/share/grants/{grant_id}/revoke", "ga_admin", json={"reason": "案件结束"})
    assert (revoked["status"], revoked["changed_by"], revoked["reason"]) == ("revoked", "ga_admin", "案件结束")
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    refused = world.call("POST", f"/share/grants/{grant_id}/renew", "sec", json={"until": until})
    assert refused.status_code == 409 and refused.json()["error"] == "sharing_conflict"

    changes = [r.details["change"] for r in world.records(action="grant_change") if r.grant_id == grant_id]
    assert changes == ["grant.revoked", "grant.created"]  # newest first
    [created] = [r for r in world.records(action="grant_change", actor="bureau")]
    assert created.purpose == "交通疏导 (六交〔2026〕12号)" and created.camera_id == CAM_A
    assert [r.details["change"] for r in world.records(action="approval")] == ["step.approved", "step.approved"]
    assert [r.details["change"] for r in world.records(action="share_request")] == ["request.filed"]


def test_renewal_and_withdrawal(world: World) -> None:
    world.publish(scope="camera", target=CAM_B, modes=["live", "snapshot"])
    request_id, grant_id = approved_grant(world, modes=["snapshot"])
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    renewed = world.ok(
        "POST", f"/share/grants/{grant_id}/renew", "ga_admin", json={"until": until.isoformat(), "reason": "延期"}
    )
    assert renewed["status"] == "active" and dt.datetime.fromisoformat(renewed["valid_until"]) == until
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    assert world.call("POST", f"/share/grants/{grant_id}/renew", "ga_admin", json={"until": past}).status_code == 422

    pending = world.file(cameras=[CAM_B])
    path = f"/share/requests/{pending['id']}"
    assert world.call("POST", f"{path}/withdraw", "ga_admin").status_code == 403  # not the requesting unit
    assert world.call("POST", f"{path}/withdraw", "jt_viewer").status_code == 403  # may not file requests
    withdrawn = world.ok("POST", f"{path}/withdraw", "jt_admin")
    assert withdrawn["status"] == "withdrawn" and {s["status"] for s in withdrawn["steps"]} == {"skipped"}
    assert world.call("POST", f"{path}/withdraw", "jt_op").status_code == 409
    mine = world.ok("GET", "/share/requests", "jt_op", params={"status": "approved"})["items"]
    assert [r["id"] for r in mine] == [request_id]


def test_expiry_is_audited_and_renewal_revives(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.publish(scope="camera", target=CAM_B, modes=["live"])
    _, grant_id = approved_grant(world)
    sharing = world.platform.sharing
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=8)
    monkeypatch.setattr(sharing, "clock", lambda: later)
    assert sharing.expire_due() == [grant_id] and sharing.expire_due() == []
    assert world.ok("GET", f"/share/grants/{grant_id}", "jt_op")["status"] == "expired"
    [expired] = [r for r in world.records(action="grant_change") if r.details["change"] == "grant.expired"]
    assert (expired.actor, expired.grant_id, expired.purpose) == ("system", grant_id, "交通疏导 (六交〔2026〕12号)")
    until = (later + dt.timedelta(days=3)).replace(tzinfo=dt.UTC).isoformat()
    renewed = world.ok("POST", f"/share/grants/{grant_id}/renew", "sec", json={"until": until})
    assert renewed["status"] == "active" and renewed["changed_by"] == "sec"
    assert [e["kind"] for e in world.ok("GET", "/events", "jt_op")["items"]][-2:] == ["grant.expired", "grant.renewed"]


def test_rejection_and_unpublishing(world: World) -> None:
    offer = world.publish(scope="unit", modes=["live"], sensitivity="low")
    request = world.file()
    assert [s["kind"] for s in request["steps"]] == ["owner"]  # low sensitivity: the owner alone decides
    path = f"/share/requests/{request['id']}/reject"
    missing = world.call("POST", path, "ga_admin", json={"comment": " "})
    assert missing.status_code == 422 and missing.json()["error"] == "invalid_share"
    rejected = world.ok("POST", path, "ga_admin", json={"comment": "理由不充分"})
    assert rejected["status"] == "rejected" and rejected["grants"] == []
    assert world.call("DELETE", f"/share/offers/{offer['id']}", "jt_admin").status_code == 403
    assert world.call("DELETE", f"/share/offers/{offer['id']}", "ga_admin").status_code == 204
    assert world.ok("GET", "/share/offers", "ga_admin")["items"] == []
    assert world.call("POST", "/share/requests", "jt_op", json=request_body()).status_code == 422  # not offered now
    assert [r.details["change"] for r in world.records(action="grant_change")] == ["offer.removed", "offer.published"]


def test_area_request(world: World) -> None:
    world.publish(scope="unit", modes=["live"])
    area = {"polygon": [[116.2, 31.6], [116.6, 31.6], [116.6, 31.8], [116.2, 31.8]]}
    request = world.file(cameras=None, area=area)
    assert request["cameras"] == [CAM_A, CAM_B] and request["area"]["kind"] == "polygon"
    both = world.call("POST", "/share/requests", "jt_op", json=request_body(area={"bbox": [116, 31, 117, 32]}))
    assert both.status_code == 422  # cameras and an area
    inverted = request_body(cameras=None, area={"bbox": [117, 31, 116, 32]})
    assert world.call("POST", "/share/requests", "jt_op", json=inverted).status_code == 422


def test_refusals_have_the_right_status_and_leave_records(world: World) -> None:
    world.publish(scope="camera", target=CAM_A, modes=["live"])
    cases = [
        ("POST", "/share/offers", "ga_admin", {"scope": "camera", "target": CAM_J, "modes": ["live"]}, 403),
        ("POST", "/share/offers", "jt_admin", {"scope": "unit", "modes": ["live"], "owner_unit": "GA"}, 403),
        ("POST", "/share/requests", "aud", request_body(), 403),
        ("POST", "/share/requests", "jt_viewer", request_body(), 403),
        ("POST", "/share/requests", "ga_admin", request_body(), 403),  # its own camera
        ("POST", "/share/requests", "jt_op", request_body(cameras=["34150200001320009999"]), 404),
        ("POST", "/share/requests", "jt_op", request_body(modes=["export"]), 422),  # not offered for export
        ("GET", "/share/requests/nope", "jt_op", None, 404),
        ("POST", "/share/requests/nope/approve", "ga_admin", {}, 404),
        ("GET", "/share/grants/nope", "jt_op", None, 404),
        ("POST", "/share/grants/nope/revoke", "ga_admin", {}, 404),
        ("DELETE", "/share/offers/999999", "ga_admin", None, 404),
        ("GET", "/share/grants", "aud", None, 403),  # the auditor reads the audit log and nothing else
        ("GET", "/events", "aud", None, 403),
    ]
    for method, path, who, body, status in cases:
        response = world.call(method, path, who, json=body)
        assert response.status_code == status, (method, path, who, response.text)
        answer = response.json()
        assert answer["message_zh"] and answer["message_en"] and answer["error"]
    request = world.file()
    assert world.call("GET", f"/share/requests/{request['id']}", "cg_op").status_code == 403  # no party to it
    assert world.call("GET", f"/share/requests/{request['id']}", "ga_viewer").status_code == 200  # the owner unit
    for path in ("/share/offers", "/share/requests", "/share/grants", "/events", f"/share/requests/{request['id']}"):
        assert world.call("GET", path, None).status_code == 401
    refusals = world.records(action="access_denied")
    assert {(r.actor, r.details["action"]) for r in refusals} >= {
        ("ga_admin", "share.publish"),
        ("jt_admin", "share.publish"),
        ("aud", "share.request"),
        ("jt_viewer", "share.request"),
        ("aud", "grant.list"),
        ("cg_op", "share_request.read"),
    }
    assert all(r.outcome == "refused" and r.source_address for r in refusals)


def test_attachment_limits(world: World) -> None:
    too_big = world.call("POST", "/share/attachments", "jt_op", files={"file": ("big.bin", b"\0" * (20 * 2**20 + 1))})
    assert too_big.status_code == 413 and too_big.json()["error"] == "attachment_too_large"
    assert world.call("POST", "/share/attachments", "jt_viewer", files={"file": ("a.pdf", b"x")}).status_code == 403
    assert world.call("POST", "/share/attachments", "jt_op", data={"other": "x"}).status_code == 422
    world.publish(scope="unit", modes=["live"])
    forged = {"name": "x.pdf", "sha256": "0" * 64, "size": 1}
    refused = world.call("POST", "/share/requests", "jt_op", json=request_body(attachments=[forged]))
    assert refused.status_code == 422 and refused.json()["error"] == "attachment_missing"
    stored = list((world.platform.settings.data_dir / "attachments").iterdir())
    assert stored == []  # nothing of the refused upload is left behind


class FailingSink:
    def record(self, event: AuditEvent) -> None:
        raise AuditUnavailableError("down")


def test_a_failing_audit_log_refuses_the_change(world: World) -> None:
    world.publish(scope="unit", modes=["live"], sensitivity="low")
    request = world.file()
    sink, world.platform.sharing.audit = world.platform.sharing.audit, FailingSink()
    try:
        refused = world.call(
            "POST", "/share/offers", "ga_admin", json={"scope": "camera", "target": CAM_A, "modes": ["snapshot"]}
        )
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
        approve = world.call("POST", f"/share/requests/{request['id']}/approve", "ga_admin", json={})
        assert approve.status_code == 503
    finally:
        world.platform.sharing.audit = sink
    assert len(world.ok("GET", "/share/offers", "ga_admin")["items"]) == 1  # the camera offer was not written
    after = world.ok("GET", f"/share/requests/{request['id']}", "jt_op")
    assert after["status"] == "pending" and after["grants"] == []
    assert world.ok("GET", "/share/grants", "jt_op")["items"] == []
