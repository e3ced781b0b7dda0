"""The audit log on SQLite and PostgreSQL: append-only tables, a chain that verifies, tampering found and named,
linear under concurrent writers (threads and processes), fail-closed, queries (by grant too, in the store and in
``xueliang audit export --grant``), reports and export.

Tampering tests lift the append-only triggers *in the test* (drop, change, re-create in one transaction), as an
attacker with DDL rights could: the point is that the chain and the checkpoint still tell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from xueliang.audit_cli import audit_app
from xueliang.domain.audit import AuditAction, AuditEvent, AuditUnavailableError
from xueliang.sharing.audit import AuditLog, AuditQueryError
from xueliang.store.audit import (
    create_append_only_triggers,
    drop_append_only_triggers,
    read_checkpoint,
    sm3_available,
)

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def event(
    n: int, *, action: AuditAction = AuditAction.SNAPSHOT, at: dt.datetime | None = None, **kw: str
) -> AuditEvent:
    values: dict[str, str] = {"actor": f"user-{n % 3}", "actor_unit": "GA", "camera_id": f"cam-{n % 2}"} | kw
    return AuditEvent(action, at or T0 + dt.timedelta(minutes=n), details={"n": str(n), "名": "值"}, **values)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def audit(engine: Engine, data_dir: Path) -> AuditLog:
    return AuditLog(engine, data_dir=data_dir)


def fill(audit: AuditLog, count: int) -> None:
    for n in range(count):
        audit.record(event(n))
    audit.flush()


def tamper(engine: Engine, statement: str) -> None:
    """Lift the triggers, run ``statement``, put the triggers back: one transaction."""
    with engine.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text(statement))
        create_append_only_triggers(connection)


def test_chain_verifies_and_checkpoint_follows_the_head(audit: AuditLog, data_dir: Path) -> None:
    fill(audit, 12)
    report = audit.verify()
    assert report.ok, report.problem
    assert report.records == 12 and report.head is not None and report.head.seq == 12
    assert read_checkpoint(data_dir / "audit-head.json") == report.head
    first = audit.search(limit=1000).records[-1]
    assert first.seq == 1 and first.details == {"n": "0", "名": "值"} and first.hash_alg == "sha256"
    assert audit.store.outbox_size() == 0


def test_update_and_delete_are_refused(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 2)
    for statement in ("UPDATE audit_record SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_record WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert audit.verify().ok and audit.verify().records == 2


def test_changed_field_is_named(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 6)
    tamper(engine, "UPDATE audit_record SET camera_id = 'cam-9' WHERE seq = 4")
    problem = audit.verify().problem
    assert problem is not None and (problem.kind, problem.seq) == ("altered", 4)


def test_deleted_middle_record_is_named(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 6)
    tamper(engine, "DELETE FROM audit_record WHERE seq = 3")
    problem = audit.verify().problem
    assert problem is not None and (problem.kind, problem.seq) == ("missing_seq", 3)


def test_truncated_tail_is_found_against_the_checkpoint(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 6)
    tamper(engine, "DELETE FROM audit_record WHERE seq >= 5")
    report = audit.verify()
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("truncated", 5)
    # without the checkpoint the shortened chain would look whole: that is what the file outside is for
    assert AuditLog(engine).verify().ok


def test_threads_drain_concurrently_and_the_chain_stays_linear(engine: Engine, data_dir: Path) -> None:
    logs = [AuditLog(engine, data_dir=data_dir, batch=7) for _ in range(4)]

    def work(log: AuditLog, base: int) -> None:
        for n in range(25):
            log.record(event(base + n))
            log.drain()

    threads = [threading.Thread(target=work, args=(log, i * 100)) for i, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs[0].flush()
    report = logs[0].verify()
    assert report.ok, report.problem
    assert report.records == 100 and report.head is not None
    assert read_checkpoint(data_dir / "audit-head.json") == report.head


WRITER = textwrap.dedent(
    """
    import datetime as dt, sys
    from pathlib import Path
    from xueliang.domain.audit import AuditAction, AuditEvent
    from xueliang.sharing.audit import AuditLog
    from xueliang.store.db import create_db_engine

    url, data_dir, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    log = AuditLog(create_db_engine(url), data_dir=data_dir, batch=3)
    for n in range(40):
        log.record(AuditEvent(AuditAction.PTZ, dt.datetime.now(dt.UTC), actor=name, details={"n": str(n)}))
        log.drain()
    log.flush()
    """
)


def test_two_processes_drain_concurrently_and_the_chain_stays_linear(engine: Engine, data_dir: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(data_dir), name], stderr=subprocess.PIPE)
        for name in ("proc-a", "proc-b")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    audit = AuditLog(engine, data_dir=data_dir)
    report = audit.verify()
    assert report.ok, report.problem
    assert report.records == 80
    assert read_checkpoint(data_dir / "audit-head.json") == report.head
    assert {r.actor for r in audit.search(limit=100).records} == {"proc-a", "proc-b"}


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2", "sqlite:///{tmp}/not-a-folder/x.db"],
    ids=["postgresql", "sqlite"],
)
def test_fail_closed_when_the_database_is_unreachable(url: str, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the database's folder should be")
    unreachable = create_engine(url.format(tmp=tmp_path))
    with pytest.raises(AuditUnavailableError):
        AuditLog(unreachable).record(event(1))
    unreachable.dispose()


def test_fail_closed_when_the_outbox_cannot_take_the_row(audit: AuditLog, engine: Engine) -> None:
    """A database that answers but refuses the insert (here: the outbox renamed away) fails closed too."""
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_outbox RENAME TO audit_outbox_away"))
    try:
        with pytest.raises(AuditUnavailableError):
            audit.record(event(1))
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_outbox_away RENAME TO audit_outbox"))


def test_background_drainer_writes_within_a_second(audit: AuditLog) -> None:
    audit.start()
    try:
        audit.record(event(1))
        deadline = time.monotonic() + 5
        while audit.store.head() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert audit.store.head() is not None
    finally:
        audit.close()
    audit.record(event(2))
    audit.close()  # drains what is left
    assert audit.verify().records == 2


@pytest.mark.skipif(not sm3_available(), reason="cryptography without SM3")
def test_sm3_and_sha256_records_chain_together(engine: Engine, data_dir: Path) -> None:
    fill(AuditLog(engine, data_dir=data_dir), 2)
    fill(AuditLog(engine, data_dir=data_dir, hash_alg="sm3"), 2)
    audit = AuditLog(engine, data_dir=data_dir)
    assert [r.hash_alg for r in reversed(audit.search().records)] == ["sha256", "sha256", "sm3", "sm3"]
    assert audit.verify().ok
    tamper(engine, "UPDATE audit_record SET outcome = 'refused' WHERE seq = 3")
    problem = audit.verify().problem
    assert problem is not None and (problem.kind, problem.seq) == ("altered", 3)


def test_search_filters_and_pages(audit: AuditLog) -> None:
    fill(audit, 9)
    page = audit.search(actor="user-1", limit=2)
    assert [r.seq for r in page.records] == [8, 5] and page.next_cursor == "5"
    rest = audit.search(actor="user-1", limit=2, cursor=page.next_cursor)
    assert [r.seq for r in rest.records] == [2] and rest.next_cursor is None
    assert [r.seq for r in audit.search(camera="cam-0", unit="GA", action="snapshot").records] == [9, 7, 5, 3, 1]
    window = audit.search(since=T0 + dt.timedelta(minutes=2), until=T0 + dt.timedelta(minutes=4))
    assert [r.seq for r in window.records] == [4, 3]
    assert audit.search(unit="JT").records == []
    for bad in ({"cursor": "x1"}, {"limit": 0}, {"since": T0, "until": T0}):
        with pytest.raises(AuditQueryError):
            audit.search(**bad)


def fill_with_grants(audit: AuditLog, count: int) -> None:
    """Records 1, 4, 7, ... name grant g-1; 2, 5, 8, ... g-2; the rest none (seq n + 1 is event n)."""
    for n in range(count):
        grant = {0: {"grant_id": "g-1"}, 1: {"grant_id": "g-2"}, 2: {}}[n % 3]
        audit.record(event(n, **grant))
    audit.flush()


def test_search_by_grant(audit: AuditLog) -> None:
    fill_with_grants(audit, 12)
    page = audit.search(grant="g-1", limit=3)
    assert [r.seq for r in page.records] == [10, 7, 4] and page.next_cursor == "4"
    rest = audit.search(grant="g-1", limit=3, cursor=page.next_cursor)
    assert [r.seq for r in rest.records] == [1] and rest.next_cursor is None
    assert {r.grant_id for r in audit.search(grant="g-2").records} == {"g-2"}
    # with the other criteria: every one given must hold
    assert [r.seq for r in audit.search(grant="g-2", camera="cam-0").records] == [11, 5]
    window = audit.search(grant="g-1", since=T0 + dt.timedelta(minutes=3), until=T0 + dt.timedelta(minutes=9))
    assert [r.seq for r in window.records] == [7, 4]
    assert audit.search(grant="g-1", actor="user-1").records == []  # every g-1 record is user-0's
    assert audit.search(grant="g-unknown").records == []
    everything = audit.search(limit=100).records
    assert len(everything) == 12 and sum(r.grant_id is None for r in everything) == 4  # the filter is not implied


def test_export_command_filters_by_grant(audit: AuditLog, engine: Engine, data_dir: Path, tmp_path: Path) -> None:
    fill_with_grants(audit, 9)
    env = {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(data_dir),
    }
    out = tmp_path / "授权.csv"
    result = CliRunner().invoke(audit_app, ["export", "-o", str(out), "--grant", "g-2"], env=env)
    assert result.exit_code == 0, result.output
    assert "exported 3 audit records" in result.output
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert [(row[0], row[6]) for row in rows[1:]] == [("8", "g-2"), ("5", "g-2"), ("2", "g-2")]
    both = CliRunner().invoke(audit_app, ["export", "-o", str(out), "--grant", "g-2", "--actor", "user-1"], env=env)
    assert both.exit_code == 0 and "exported 3 audit records" in both.output, both.output
    none = CliRunner().invoke(audit_app, ["export", "-o", str(out), "--grant", "g-2", "--actor", "user-0"], env=env)
    assert none.exit_code == 0 and "exported 0 audit records" in none.output, none.output


def test_export_xlsx_and_csv(audit: AuditLog) -> None:
    fill(audit, 3)
    records = audit.search().records
    sheet = load_workbook(io.BytesIO(audit.export(records, "xlsx"))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "序号 seq" and [r[0] for r in rows[1:]] == [3, 2, 1]
    assert json.loads(str(rows[1][11])) == {"n": "2", "名": "值"}
    raw = audit.export(records, "csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][4] == "单位 actor_unit" and [row[0] for row in table[1:]] == ["3", "2", "1"]
    with pytest.raises(AuditQueryError):
        audit.export(records, "pdf")


def test_usage_report(engine: Engine, data_dir: Path) -> None:
    audit = AuditLog(engine, data_dir=data_dir, grant_ids=lambda: ["g-1", "g-2", "g-never"])
    play = {"actor": "op-1", "actor_unit": "JT", "camera_id": "cam-1", "grant_id": "g-1"}
    audit.record(event(0, action=AuditAction.PLAY_START, at=T0, session_id="s1", **play))
    audit.record(event(0, action=AuditAction.PLAY_STOP, at=T0 + dt.timedelta(minutes=10), session_id="s1", **play))
    # 23:30 in Shanghai, still playing at the end of the window
    late = T0 + dt.timedelta(hours=14, minutes=30)
    audit.record(event(0, action=AuditAction.PLAY_START, at=late, session_id="s2", **play))
    audit.record(
        event(0, action=AuditAction.SNAPSHOT, actor="op-2", actor_unit="CG", camera_id="cam-2", grant_id="g-2")
    )
    audit.record(event(0, action=AuditAction.PLAY_REFUSED, actor="op-3", camera_id="cam-3", grant_id="g-never"))
    audit.flush()
    report = audit.usage_report(T0, T0 + dt.timedelta(hours=15))
    by_unit = {line.key: line for line in report.by_unit}
    assert by_unit[("JT",)].sessions == 2 and by_unit[("JT",)].open_sessions == 1
    assert by_unit[("JT",)].seconds == pytest.approx(600 + 1800)
    assert by_unit[("CG",)].events == {"snapshot": 1}
    assert {line.key for line in report.by_grant} == {("g-1",), ("g-2",)}
    assert report.by_viewer[0].key == ("op-1", "JT", "cam-1")
    assert [r.at for r in report.out_of_hours] == [late.replace(tzinfo=None)]
    assert report.unused_grants == ["g-never"]
    with pytest.raises(AuditQueryError):
        audit.usage_report(T0, T0)
