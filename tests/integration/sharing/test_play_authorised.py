"""Grants enforced at play time, over a real RTSP camera (GStreamer), the real play API and media node, on both
databases: no grant no video, a desensitised grant forces the masked variant, a revocation cuts the stream in
progress (in-process bus, and over Redis from another process's service), forged, expired and other sessions'
tokens are refused, the unit stream limit holds, and every use and refusal is in a verified audit chain.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from xueliang.api.app import create_app
from xueliang.app import Platform, build_platform
from xueliang.domain.audit import AuditAction
from xueliang.domain.grants import ShareScope, StepKind
from xueliang.domain.principals import Mode, Principal
from xueliang.sharing.grants import NewShareRequest, SharingConfig, SharingService
from xueliang.sharing.revocation import InProcessRevocationBus, RedisRevocationBus
from xueliang.sharing.tokens import PlayClaims
from xueliang.store.models import utcnow

REVOCATION_DEADLINE_S = 5.0  # the issue: "stops streams in progress within a few seconds"


@pytest.fixture
def camera(client: TestClient, units: dict[str, str], make_camera: Any, rtsp_url: str) -> str:
    """A camera of the public-security bureau (GA), pulled over RTSP."""
    raw = make_camera(902, owner_unit=units["GA"], access_protocol="rtsp", stream_url=rtsp_url)
    stored = client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw)
    assert stored.status_code == 201, stored.text
    return str(raw["platform_id"])


def principal(platform: Platform, username: str) -> Principal:
    return platform.accounts.get_user(username).principal()


def grant(
    platform: Platform,
    users: Any,
    camera: str,
    modes: set[Mode],
    requester: str = "cg-op",
    sharing: SharingService | None = None,
) -> str:
    """The whole approval path through the sharing service: GA publishes, CG's operator asks, GA's administrator
    and the data bureau approve. Returns the grant's id."""
    for name, role, unit in (("ga-admin", "unit_admin", "GA"), ("bureau-admin", "unit_admin", "BUREAU")):
        if name not in {u.username for u in platform.accounts.list_users()}:
            users.create(name, role, unit)
    sharing = sharing or platform.sharing
    sharing.publish(principal(platform, "ga-admin"), ShareScope.CAMERA, camera, frozenset(modes))
    now = utcnow()
    request = sharing.file_request(
        principal(platform, requester),
        NewShareRequest(
            modes=frozenset(modes),
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(days=1),
            purpose="城管执法",
            case_number="六城〔2026〕7号",
            cameras=(camera,),
        ),
    )
    deciders = {StepKind.OWNER: "ga-admin", StepKind.BUREAU: "bureau-admin"}
    for step in request.steps:
        sharing.decide_step(principal(platform, deciders[step.kind]), request.id, True, "同意")
    (made,) = sharing.grants_of_request(request.id)
    return made.id


def signed_in(client: TestClient, users: Any, username: str, role: str, unit: str | None) -> dict[str, str]:
    users.create(username, role, unit)
    return users.headers(client, username)


def audit_actions(platform: Platform, **criteria: Any) -> list[tuple[str, str, str | None]]:
    platform.audit.flush()
    page = platform.audit.search(limit=500, **criteria)
    return [(r.action, r.actor, r.grant_id) for r in page.records]


def read_flv_until_closed(client: TestClient, url: str, started: threading.Event, out: dict[str, Any]) -> None:
    total = 0
    with client.stream("GET", url) as flv:
        out["status"] = flv.status_code
        for chunk in flv.iter_bytes():
            total += len(chunk)
            if total > 2000:
                started.set()
    out["bytes"], out["ended_at"] = total, time.monotonic()
    started.set()


def test_no_grant_no_video_and_the_refusal_is_audited(
    client: TestClient, platform: Platform, users: Any, camera: str
) -> None:
    headers = signed_in(client, users, "cg-op", "operator", "CG")
    refused = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "no_grant"
    assert (AuditAction.ACCESS_DENIED, "cg-op", None) in audit_actions(platform)


@pytest.mark.parametrize("role", ["auditor", "sysadmin", "secadmin"])
def test_the_three_administrators_get_no_video_even_of_their_own_unit(
    client: TestClient, platform: Platform, users: Any, camera: str, role: str
) -> None:
    headers = signed_in(client, users, f"ga-{role}", role, "GA")
    refused = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers)
    assert refused.status_code == 403, refused.text


def test_desensitised_grant_forces_masked_and_revocation_cuts_the_stream(
    client: TestClient, platform: Platform, users: Any, camera: str
) -> None:
    headers = signed_in(client, users, "cg-op", "operator", "CG")
    grant_id = grant(platform, users, camera, {Mode.DESENSITISED})
    played = client.post(f"/api/v1/cameras/{camera}/play", json={"variant": "native"}, headers=headers)
    assert played.status_code == 200, played.text
    play = played.json()
    assert (play["treatment"], play["variant"], play["grant"]) == ("masked", "masked", grant_id)
    assert play["snapshot"] is None  # the grant has no snapshot mode
    started, out = threading.Event(), {}
    reader = threading.Thread(target=read_flv_until_closed, args=(client, play["flv"], started, out))
    reader.start()
    assert started.wait(60), "no masked video arrived"
    revoked_at = time.monotonic()
    platform.sharing.revoke(principal(platform, "ga-admin"), grant_id, "案件办结")
    reader.join(REVOCATION_DEADLINE_S + 5)
    assert not reader.is_alive(), "the stream went on after the revocation"
    assert out["status"] == 200 and out["bytes"] > 2000
    assert out["ended_at"] - revoked_at < REVOCATION_DEADLINE_S
    assert client.get(play["hls"]).status_code == 410  # the session is gone with its grant
    again = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers)
    assert again.status_code == 403
    actions = audit_actions(platform, camera=camera)
    assert (AuditAction.PLAY_START, "cg-op", grant_id) in actions
    assert (AuditAction.PLAY_STOP, "cg-op", grant_id) in actions
    assert platform.audit.verify().ok


def test_full_grant_plays_native_and_may_ask_for_masked(
    client: TestClient, platform: Platform, users: Any, camera: str
) -> None:
    headers = signed_in(client, users, "cg-op", "operator", "CG")
    grant_id = grant(platform, users, camera, {Mode.LIVE, Mode.SNAPSHOT})
    native = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers).json()
    assert (native["treatment"], native["variant"], native["grant"]) == ("full", "native", grant_id)
    assert native["snapshot"] is not None
    masked = client.post(f"/api/v1/cameras/{camera}/play", json={"variant": "masked"}, headers=headers).json()
    assert (masked["treatment"], masked["variant"]) == ("masked", "masked")


def test_tokens_forged_expired_or_for_another_session_are_refused(
    client: TestClient, platform: Platform, users: Any, camera: str
) -> None:
    client.headers.update(signed_in(client, users, "ga-op", "operator", "GA"))  # GA's own camera: no grant needed
    first = client.post(f"/api/v1/cameras/{camera}/play", json={}).json()
    second = client.post(f"/api/v1/cameras/{camera}/play", json={"variant": "h264"}).json()
    token_of_first = first["hls"].split("token=")[1]
    other_path = second["hls"].split("?")[0]
    assert client.get(f"{other_path}?token={token_of_first}").status_code == 403
    forged = token_of_first[:-6] + ("AAAAAA" if not token_of_first.endswith("AAAAAA") else "BBBBBB")
    assert client.get(f"{first['hls'].split('?')[0]}?token={forged}").status_code == 403
    assert platform.media is not None
    expired = platform.media.tokens.sign(
        PlayClaims(first["session"], camera, first["stream_id"], "native", "full", None, int(time.time()) - 600)
    )
    assert client.get(f"{first['hls'].split('?')[0]}?token={expired}").status_code == 403
    snapshot_refused = platform.media.tokens.sign(
        PlayClaims(first["session"], camera, first["stream_id"], "native", "full", None, int(time.time()) + 60, False)
    )
    snapshot_url = first["snapshot"].split("?")[0]
    assert client.get(f"{snapshot_url}?token={snapshot_refused}").status_code == 403


def test_the_unit_stream_limit(client: TestClient, platform: Platform, users: Any, camera: str) -> None:
    assert platform.media is not None
    platform.media.unit_max_streams = 1
    headers = signed_in(client, users, "cg-op", "operator", "CG")
    grant(platform, users, camera, {Mode.LIVE})
    assert client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers).status_code == 200
    limited = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers)
    assert limited.status_code == 429
    assert limited.json()["error"] == "unit_stream_limit"
    other_unit = signed_in(client, users, "ga-op", "operator", "GA")
    assert client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=other_unit).status_code == 200


def test_a_grant_made_by_another_process_plays_at_once(
    client: TestClient, platform: Platform, users: Any, camera: str
) -> None:
    """The CLI (another process, no shared bus) approves: the play check looks at the grant table before refusing."""
    headers = signed_in(client, users, "cg-op", "operator", "CG")
    cli_bus = InProcessRevocationBus()
    cli = SharingService(platform.sessions, SharingConfig("PLATFORM", "BUREAU"), cli_bus)
    try:
        grant_id = grant(platform, users, camera, {Mode.LIVE}, sharing=cli)
    finally:
        cli.close()
        cli_bus.close()
    assert grant_id not in platform.sharing.index  # nothing told this process
    played = client.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers)
    assert played.status_code == 200, played.text
    assert played.json()["grant"] == grant_id


@pytest.fixture
def redis_platform(engine: Any, tmp_path: Any, redis_url: str, platform: Platform) -> Iterator[Platform]:
    """A second process of the same platform (same database and keys), its media node hearing revocations over
    Redis as a separate media process would."""
    settings = platform.settings.model_copy(update={"redis_url": redis_url})
    built = build_platform(settings, engine=engine, run_migrations=False)
    yield built
    built.close()


def test_a_revocation_from_another_process_reaches_the_media_node_over_redis(
    redis_platform: Platform, platform: Platform, users: Any, camera: str, redis_url: str
) -> None:
    with TestClient(create_app(redis_platform)) as node:
        headers = signed_in(node, users, "cg-op", "operator", "CG")
        grant_id = grant(platform, users, camera, {Mode.LIVE})
        redis_platform.sharing.refresh()  # grants made by another process's service reach this one's index
        play = node.post(f"/api/v1/cameras/{camera}/play", json={}, headers=headers).json()
        assert play["grant"] == grant_id
        started, out = threading.Event(), {}
        reader = threading.Thread(target=read_flv_until_closed, args=(node, play["flv"], started, out))
        reader.start()
        assert started.wait(60)
        # another API process: its own service and its own Redis connection
        elsewhere = SharingService(
            platform.sessions, SharingConfig("PLATFORM", "BUREAU"), RedisRevocationBus(redis_url)
        )
        revoked_at = time.monotonic()
        elsewhere.revoke(principal(platform, "ga-admin"), grant_id, "撤销")
        reader.join(REVOCATION_DEADLINE_S + 5)
        elsewhere.close()
        elsewhere.bus.close()
        assert not reader.is_alive()
        assert out["ended_at"] - revoked_at < REVOCATION_DEADLINE_S
