"""``xueliang share ...`` on both databases: the whole flow acting ``--as`` each user (publish, file with an
attachment, two approvals, grants held and given, revoke, events), refusals as exit code 1 with both languages, and
the audit records and the revocation a running server picks up."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from xueliang.config import Settings
from xueliang.domain.principals import Mode, Principal
from xueliang.share_cli import share_app
from xueliang.sharing.accounts import AccountService
from xueliang.sharing.audit import AuditLog
from xueliang.sharing.grants import SharingConfig, SharingService
from xueliang.sharing.revocation import InProcessRevocationBus, Revocation
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.models import Camera
from xueliang.store.units import UnitRepository

PASSWORD = "Xueliang-2024!"
CAM_A, CAM_J = "34150200001320000001", "34152200001320000003"
runner = CliRunner()
app = typer.Typer()
app.add_typer(share_app, name="share")  # as cli.py registers it


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> dict[str, str]:
    return {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "250",  # rich tables at full width
    }


@pytest.fixture
def seeded(engine: Engine) -> None:
    accounts = AccountService(
        make_session_factory(engine), Settings(argon2_memory_kib=1024, argon2_time_cost=1, argon2_parallelism=1)
    )
    for code in ("GA", "JT", "BUREAU"):
        accounts.create_unit(code, f"单位 {code}", actor="test")
    for username, role, unit in (
        ("ga_admin", "unit_admin", "GA"),
        ("jt_op", "operator", "JT"),
        ("jt_admin", "unit_admin", "JT"),
        ("bureau", "unit_admin", "BUREAU"),
        ("aud", "auditor", None),
    ):
        accounts.create_user(username, PASSWORD, [role], unit_code=unit, actor="test")
    with transaction(make_session_factory(engine)) as session:
        ids = UnitRepository(session).ids_by_code()
        session.add_all(
            [
                Camera(platform_id=CAM_A, name="a", division_code="341502", owner_unit_id=ids["GA"]),
                Camera(platform_id=CAM_J, name="j", division_code="341522", owner_unit_id=ids["JT"]),
            ]
        )


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["share", *args], env=env)
    return result.exit_code, result.output


def ok(env: dict[str, str], *args: str) -> str:
    code, output = run(env, *args)
    assert code == 0, output
    return output


def filing(who: str, until: str, purpose: str = "p", case: str = "c") -> tuple[str, ...]:
    """The arguments of ``request file`` acting as ``who``: CAM_A, live, until ``until``."""
    return (
        *("request", "file", "--as", who, "--camera", CAM_A, "--mode", "live"),
        *("--until", until, "--purpose", purpose, "--case", case),
    )


def test_share_flow_from_the_command_line(engine: Engine, env: dict[str, str], seeded: None, tmp_path: Path) -> None:
    server = SharingService(make_session_factory(engine), SharingConfig("PLATFORM", "BUREAU"), InProcessRevocationBus())
    assert "341502" in ok(
        env,
        "offers",
        "publish",
        "--as",
        "ga_admin",
        "--scope",
        "division",
        "--target",
        "341502",
        "--mode",
        "live",
        "--mode",
        "snapshot",
    )
    assert "341502" in ok(env, "offers", "list", "--as", "jt_op", "--all")
    letter = tmp_path / "公函.pdf"
    letter.write_bytes(b"%PDF-1.4 request letter")
    until = (dt.datetime.now() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    filed = ok(env, *filing("jt_op", until, "交通疏导", "六交〔2026〕12号"), "--attach", str(letter))
    match = re.search(r"share request ([0-9a-f]{32})", filed)
    assert match is not None and "公函.pdf" in filed and "pending" in filed
    request_id = match.group(1)
    assert request_id in ok(env, "request", "list", "--as", "ga_admin", "--box", "to_decide")
    assert request_id in ok(env, "request", "list", "--as", "jt_op")

    code, output = run(env, "approve", request_id, "--as", "jt_admin")
    assert code == 1 and "不能批准本单位" in output and "own unit" in output
    ok(env, "approve", request_id, "--as", "ga_admin", "--comment", "同意")
    approved = ok(env, "approve", request_id, "--as", "bureau")
    grant = re.search(r"grants: ([0-9a-f]{32})", approved)
    assert grant is not None and "approved" in approved
    grant_id = grant.group(1)
    assert grant_id in ok(env, "grants", "list", "--as", "jt_op")
    assert grant_id in ok(env, "grants", "list", "--as", "ga_admin", "--direction", "given")
    assert grant_id not in ok(env, "grants", "list", "--as", "ga_admin")  # GA holds nothing
    assert "grant.created" in ok(env, "events", "--as", "jt_op")

    jt_op, camera = principal("jt_op", engine), server.camera(CAM_A)
    assert not server.authorise(jt_op, Mode.LIVE, camera).allowed  # the server has not seen the grant yet
    assert server.sync() == [] and server.authorise(jt_op, Mode.LIVE, camera).grant_id == grant_id
    ok(env, "grants", "revoke", grant_id, "--as", "ga_admin", "--reason", "案件结束")
    heard: list[Revocation] = []
    server.bus.subscribe(heard.append)
    assert server.sync() == [grant_id] and not server.authorise(jt_op, Mode.LIVE, camera).allowed
    assert heard == [Revocation(grant_id, "revoked")]  # the media node ends the grant's streams on this
    code, output = run(env, "grants", "renew", grant_id, "--as", "ga_admin", "--until", until)
    assert code == 1 and "revoked" in output
    server.close()

    records = AuditLog(engine).search(action="grant_change", limit=100).records
    assert [r.details["change"] for r in records] == ["grant.revoked", "grant.created", "offer.published"]
    assert all(r.source_address and r.source_address.startswith("cli:") for r in records)
    assert records[0].actor == "ga_admin" and records[0].details["reason"] == "案件结束"


def principal(username: str, engine: Engine) -> Principal:
    return AccountService(make_session_factory(engine)).get_user(username).principal()


def test_refusals_exit_with_one(env: dict[str, str], seeded: None) -> None:
    until = (dt.datetime.now() + dt.timedelta(days=7)).isoformat()
    cases = [
        ("offers", "publish", "--as", "jt_admin", "--scope", "camera", "--target", CAM_A, "--mode", "live"),
        ("offers", "list", "--as", "aud"),
        ("offers", "list", "--as", "nobody"),
        filing("aud", until),
        ("request", "show", "nope", "--as", "jt_op"),
        ("reject", "nope", "--as", "ga_admin", "--comment", "no"),
        ("grants", "revoke", "nope", "--as", "ga_admin"),
    ]
    for args in cases:
        code, output = run(env, *args)
        assert code == 1, (args, output)
        assert re.search(r"[\u4e00-\u9fff]", output) and re.search(r"[a-z]{3}", output), output
    assert run(env, "reject", "nope", "--as", "ga_admin")[0] == 2  # --comment is required
    assert run(env, "request", "list", "--as", "jt_op", "--box", "everything")[0] == 2
    assert run(env, *filing("jt_op", "soon"))[0] == 2
