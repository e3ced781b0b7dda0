"""/api/v1/audit/... through the real app on both databases: only the auditor reads; records filter and page;
the grant filter keeps to its grant (combined with the other filters, paged, exported); exports parse as csv and
xlsx; the usage report names unused grants; the chain verifies; every read is itself a record, and a read the log
cannot record is refused (503)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from xueliang.domain.audit import AuditEvent, AuditUnavailableError
from xueliang.sharing.audit_views import READ_ACTION

from .test_sharing_api import CAM_B, World, approved_grant, world  # noqa: F401  (world: a fixture)


@pytest.fixture
def granted(world: World) -> tuple[World, str]:  # noqa: F811
    world.publish(scope="camera", target=CAM_B, modes=["live"])
    _, grant_id = approved_grant(world)
    world.ok("POST", f"/share/grants/{grant_id}/revoke", "ga_admin", json={"reason": "结案"})
    world.platform.audit.flush()
    return world, grant_id


def test_only_the_auditor_reads_the_log(granted: tuple[World, str]) -> None:
    site, _ = granted
    for path in ("/audit/records", "/audit/export", "/audit/usage", "/audit/verify"):
        for who in ("ga_admin", "sec", "jt_op"):
            response = site.call("GET", path, who)
            assert response.status_code == 403 and response.json()["error"] == "forbidden", (path, who)
        assert site.call("GET", path, None).status_code == 401
    denied = site.records(action="access_denied", actor="sec")
    assert {r.details["view"] for r in denied} == {"records", "export", "usage", "verify"}


def test_records_filter_and_page(granted: tuple[World, str]) -> None:
    site, grant_id = granted
    page = site.ok("GET", "/audit/records", "aud", params={"grant": grant_id})
    assert [r["details"]["change"] for r in page["items"]] == ["grant.revoked", "grant.created"]
    assert page["next_cursor"] is None
    assert all(r["purpose"] == "交通疏导 (六交〔2026〕12号)" for r in page["items"])
    changes = site.ok("GET", "/audit/records", "aud", params={"action": "grant_change", "actor": "ga_admin"})
    assert [r["details"]["change"] for r in changes["items"]] == ["grant.revoked", "offer.published"]

    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({} if cursor is None else {"cursor": cursor})}
        answer = site.ok("GET", "/audit/records", "aud", params=params)
        seen.extend(r["seq"] for r in answer["items"])
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) and len(seen) > 3
    by_grant_paged = site.ok("GET", "/audit/records", "aud", params={"grant": grant_id, "limit": 1})
    assert len(by_grant_paged["items"]) == 1 and by_grant_paged["next_cursor"] is not None
    rest = site.ok("GET", "/audit/records", "aud", params={"grant": grant_id, "cursor": by_grant_paged["next_cursor"]})
    assert [r["details"]["change"] for r in rest["items"]] == ["grant.created"]

    assert site.call("GET", "/audit/records", "aud", params={"cursor": "x1"}).status_code == 422
    window = {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    assert site.call("GET", "/audit/records", "aud", params=window).status_code == 422


def test_grant_filter_keeps_to_its_grant(granted: tuple[World, str]) -> None:
    site, first = granted
    _, second = approved_grant(site)  # a second grant on the same camera, to the same unit
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).isoformat()
    site.ok("POST", f"/share/grants/{second}/renew", "ga_admin", json={"until": until, "reason": "延期"})
    site.ok("POST", f"/share/grants/{second}/revoke", "ga_admin", json={"reason": "结案"})
    site.platform.audit.flush()
    expected = {
        first: ["grant.revoked", "grant.created"],
        second: ["grant.revoked", "grant.renewed", "grant.created"],
    }
    for grant_id, changes in expected.items():
        page = site.ok("GET", "/audit/records", "aud", params={"grant": grant_id})
        assert [r["details"]["change"] for r in page["items"]] == changes
        assert {r["grant_id"] for r in page["items"]} == {grant_id} and page["next_cursor"] is None
    # one record a page, the second grant's records come in order and nothing of the first's slips in
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"grant": second, "limit": 1, **({} if cursor is None else {"cursor": cursor})}
        answer = site.ok("GET", "/audit/records", "aud", params=params)
        seen.extend(r["details"]["change"] for r in answer["items"])
        assert {r["grant_id"] for r in answer["items"]} <= {second}
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == expected[second]
    # with the other filters: every one given must hold
    by_owner = site.ok("GET", "/audit/records", "aud", params={"grant": second, "actor": "ga_admin"})
    assert [r["details"]["change"] for r in by_owner["items"]] == ["grant.revoked", "grant.renewed"]
    by_approver = site.ok(
        "GET", "/audit/records", "aud", params={"grant": second, "action": "grant_change", "unit": "BUREAU"}
    )
    assert [r["details"]["change"] for r in by_approver["items"]] == ["grant.created"]
    assert site.ok("GET", "/audit/records", "aud", params={"grant": "no-such-grant"}) == {
        "items": [],
        "next_cursor": None,
    }
    exported = site.call("GET", "/audit/export", "aud", params={"format": "csv", "grant": second, "actor": "ga_admin"})
    assert exported.status_code == 200 and int(exported.headers["x-record-count"]) == 2
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [row[6] for row in rows[1:]] == [second, second]


def test_exports_parse(granted: tuple[World, str]) -> None:
    site, grant_id = granted
    as_csv = site.call("GET", "/audit/export", "aud", params={"format": "csv", "grant": grant_id})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert ".csv" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号 seq", "时间(UTC) at", "操作 action"]
    assert [row[6] for row in rows[1:]] == [grant_id, grant_id] and int(as_csv.headers["x-record-count"]) == 2

    as_xlsx = site.call("GET", "/audit/export", "aud", params={"action": "grant_change"})
    assert as_xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert {row[2] for row in table[1:]} == {"grant_change"}
    assert len(table) - 1 == int(as_xlsx.headers["x-record-count"]) == 3  # published, created, revoked
    assert site.call("GET", "/audit/export", "aud", params={"format": "pdf"}).status_code == 422


def test_usage_report_and_verify(granted: tuple[World, str]) -> None:
    site, grant_id = granted
    usage = site.ok("GET", "/audit/usage", "aud")
    assert grant_id in usage["unused_grants"] and usage["by_camera"] == []  # granted, never watched
    chain = site.ok("GET", "/audit/verify", "aud")
    assert chain["ok"] is True and chain["problem"] is None and chain["records"] > 0
    assert chain["head"]["seq"] == chain["records"]


def test_every_read_is_a_record_and_fail_closed(granted: tuple[World, str], monkeypatch: pytest.MonkeyPatch) -> None:
    site, grant_id = granted
    site.ok("GET", "/audit/records", "aud", params={"grant": grant_id})
    site.ok("GET", "/audit/verify", "aud")
    reads = site.records(action=str(READ_ACTION), actor="aud")
    assert [(r.details["object"], r.details["view"]) for r in reads] == [
        ("audit_log", "verify"),
        ("audit_log", "records"),
    ]
    assert reads[1].details["grant"] == grant_id and reads[0].actor_unit == "PLATFORM"

    def down(event: AuditEvent) -> None:
        raise AuditUnavailableError("down")

    monkeypatch.setattr(site.platform.audit, "record", down)
    refused = site.call("GET", "/audit/records", "aud")
    assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
