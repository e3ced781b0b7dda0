"""Issue 5's acceptance path over HTTP, on SQLite and PostgreSQL, with a real RTSP camera streaming real H.264:

the public-security bureau (GA) publishes a camera; an operator of the city-management bureau (CG) asks for it,
desensitised, with a purpose, a case number and an attachment; GA's unit administrator and the data bureau
approve; the operator plays it and gets the masked picture whatever they ask for; the grant is revoked and the
stream in progress stops; the auditor finds every step in the audit log, the chain verifies over the API and
with ``xueliang audit verify``, and the usage report counts the viewing against the grant.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import av
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from xueliang.app import Platform
from xueliang.cli import app as cli

REVOCATION_DEADLINE_S = 5.0


def login(client: TestClient, users: Any, username: str, role: str, unit: str | None) -> dict[str, str]:
    users.create(username, role, unit)
    return users.headers(client, username)


def test_request_two_approvals_play_desensitised_revoke_and_audit(
    client: TestClient,
    platform: Platform,
    users: Any,
    units: dict[str, str],
    make_camera: Any,
    rtsp_url: str,
    tmp_path: Path,
) -> None:
    raw = make_camera(903, owner_unit=units["GA"], access_protocol="rtsp", stream_url=rtsp_url)
    camera = raw["platform_id"]
    assert client.put(f"/api/v1/cameras/{camera}", json=raw).status_code == 201
    ga_admin = login(client, users, "ga-admin", "unit_admin", "GA")
    bureau = login(client, users, "bureau-admin", "unit_admin", "BUREAU")
    operator = login(client, users, "cg-op", "operator", "CG")
    auditor = login(client, users, "auditor", "auditor", None)

    # 1. GA publishes the camera for live and desensitised use
    offer = client.post(
        "/api/v1/share/offers",
        json={"scope": "camera", "target": camera, "modes": ["live", "desensitised"]},
        headers=ga_admin,
    )
    assert offer.status_code == 201, offer.text

    # 2. CG's operator cannot play it yet, then files a request with a letter attached
    assert client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=operator).status_code == 403
    letter = client.post(
        "/api/v1/share/attachments",
        files={"file": ("协查函.pdf", b"%PDF-1.4 letter", "application/pdf")},
        headers=operator,
    )
    assert letter.status_code == 201, letter.text
    now = dt.datetime.now(dt.UTC)
    filed = client.post(
        "/api/v1/share/requests",
        json={
            "cameras": [camera],
            "modes": ["desensitised"],
            "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
            "ends_at": (now + dt.timedelta(days=3)).isoformat(),
            "purpose": "占道经营执法取证",
            "case_number": "六城执〔2026〕118号",
            "attachments": [letter.json()],
        },
        headers=operator,
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    assert [s["kind"] for s in filed.json()["steps"]] == ["owner", "bureau"]

    # 3. the requester cannot approve; the owner and the data bureau do, each from their inbox
    assert client.post(f"/api/v1/share/requests/{request_id}/approve", json={}, headers=operator).status_code == 403
    for approver in (ga_admin, bureau):
        inbox = client.get("/api/v1/share/requests", params={"box": "to_decide"}, headers=approver).json()
        assert [r["id"] for r in inbox["items"]] == [request_id]
        decided = client.post(
            f"/api/v1/share/requests/{request_id}/approve", json={"comment": "同意"}, headers=approver
        )
        assert decided.status_code == 200, decided.text
    approved = client.get(f"/api/v1/share/requests/{request_id}", headers=operator).json()
    assert approved["status"] == "approved"
    (grant_id,) = approved["grants"]
    held = client.get("/api/v1/share/grants", params={"direction": "held"}, headers=operator).json()
    assert [g["id"] for g in held["items"]] == [grant_id]
    events = client.get("/api/v1/events", headers=operator).json()["items"]
    assert any(e["grant_id"] == grant_id for e in events)  # the console can show "your grant is ready"

    # 4. the operator plays: masked, whatever they ask for; the masked picture is real H.264 video
    played = client.post(f"/api/v1/cameras/{camera}/play", json={"variant": "native"}, headers=operator)
    assert played.status_code == 200, played.text
    play = played.json()
    assert (play["treatment"], play["variant"], play["grant"]) == ("masked", "masked", grant_id)
    received = bytearray()
    done = threading.Event()
    ended: dict[str, float] = {}

    def watch() -> None:
        with client.stream("GET", play["flv"]) as flv:
            for chunk in flv.iter_bytes():
                received.extend(chunk)
                if len(received) > 30_000:
                    done.set()
        ended["at"] = time.monotonic()
        done.set()

    viewer = threading.Thread(target=watch)
    viewer.start()
    assert done.wait(60), "no masked video arrived"
    flv_file = tmp_path / "masked.flv"
    flv_file.write_bytes(bytes(received))
    with av.open(str(flv_file)) as container:
        frames = list(itertools.islice(container.decode(video=0), 5))
    assert frames and (frames[0].width, frames[0].height) == (320, 240)

    # 5. revocation by the owner cuts the stream in progress
    revoked_at = time.monotonic()
    revoked = client.post(f"/api/v1/share/grants/{grant_id}/revoke", json={"reason": "案件办结"}, headers=ga_admin)
    assert revoked.status_code == 200, revoked.text
    viewer.join(REVOCATION_DEADLINE_S + 5)
    assert not viewer.is_alive(), "the stream went on after the revocation"
    assert ended["at"] - revoked_at < REVOCATION_DEADLINE_S
    assert client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=operator).status_code == 403

    # 6. the auditor sees all of it, in a chain that verifies; nobody else reads the log
    platform.audit.flush()
    assert client.get("/api/v1/audit/records", headers=operator).status_code == 403
    records = client.get("/api/v1/audit/records", params={"limit": 500}, headers=auditor)
    assert records.status_code == 200, records.text
    seen = {(r["action"], r["actor"]) for r in records.json()["items"]}
    for expected in (
        ("grant_change", "ga-admin"),  # published, then revoked
        ("share_request", "cg-op"),
        ("approval", "ga-admin"),
        ("approval", "bureau-admin"),
        ("access_denied", "cg-op"),
        ("play_start", "cg-op"),
        ("play_stop", "cg-op"),
        ("login", "cg-op"),
    ):
        assert expected in seen, expected
    starts = [r for r in records.json()["items"] if r["action"] == "play_start"]
    assert starts[0]["grant_id"] == grant_id and "六城执〔2026〕118号" in (starts[0]["purpose"] or "")
    verified = client.get("/api/v1/audit/verify", headers=auditor)
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text
    usage = client.get("/api/v1/audit/usage", headers=auditor).json()
    assert grant_id not in usage["unused_grants"]
    result = CliRunner().invoke(
        cli, ["audit", "verify", "--data-dir", str(platform.settings.data_dir)], env=_env(platform)
    )
    assert result.exit_code == 0, result.output


def _env(platform: Platform) -> dict[str, str]:
    """The CLI reads the same database as the running platform."""
    return {"XUELIANG_DATABASE_URL": platform.database_url}
