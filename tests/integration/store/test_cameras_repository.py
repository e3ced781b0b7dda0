"""CameraRepository on both databases: bulk writes, lookups, the search index kept in sync, secrets at rest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from xueliang.domain.archive import CameraRecord
from xueliang.store.cameras import (
    IN_CHUNK,
    CameraFilter,
    CameraRepository,
    PageRequest,
    camera_row,
    columns_for_fields,
)
from xueliang.store.crypto import KEY_FILE_NAME, cipher_for
from xueliang.store.db import make_session_factory
from xueliang.store.models import Camera, utcnow
from xueliang.store.units import NewUnit, UnitRepository


def record(serial: int, name: str = "金安区梅山路与解放路路口东", **fields: object) -> CameraRecord:
    values: dict[str, object] = {
        "platform_id": f"34150200001320{serial:06d}",
        "name": name,
        "division_code": "341502",
        "install_address": "安徽省六安市金安区梅山路",
        "longitude": 116.6,
        "latitude": 31.6,
        "network": "video_private",
        "owner_unit": "GA",
    }
    values.update(fields)
    return CameraRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def repo_rows(engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    sessions = make_session_factory(engine)
    cipher = cipher_for(tmp_path)
    with sessions.begin() as session:
        UnitRepository(session).create_many([NewUnit("GA", "六安市公安局")])

    def rows(records: list[CameraRecord]) -> list[dict[str, object]]:
        with sessions() as session:
            unit_ids = UnitRepository(session).ids_by_code()
        now = utcnow()
        return [camera_row(r, unit_ids=unit_ids, cipher=cipher, findings=[], source="import", now=now) for r in records]

    return sessions, rows, cipher


def ids_for(sessions, q: str) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        page = CameraRepository(session).list(CameraFilter(q=q), PageRequest(limit=500))
    return [c.record.platform_id for c in page.items]


def test_bulk_and_single_inserts_are_both_searchable(repo_rows) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, _ = repo_rows
    bulk = [record(i, name=f"金安区皋城路{i}号路口东" if i == 7 else "金安区梅山路东") for i in range(1, 1201)]
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows(bulk))  # deferred FTS fill (>= 500 rows)
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows([record(5000, name="金安区皋城路口北")]))  # trigger per row
    assert ids_for(sessions, "皋城路") == ["34150200001320000007", "34150200001320005000"]
    assert len(ids_for(sessions, "梅山")) == 500  # page limit: 1,199 match
    with sessions() as session:
        assert CameraRepository(session).count() == 1201
        if session.get_bind().dialect.name == "sqlite":
            assert session.scalar(text("SELECT deferred FROM camera_search_state")) == 0
            assert session.scalar(text("SELECT count(*) FROM camera_search WHERE camera_search MATCH '\"皋城\"'")) == 2


def test_failed_bulk_insert_leaves_nothing_and_search_still_follows(repo_rows) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, _ = repo_rows
    batch = [record(i) for i in range(1, 700)] + [record(1)]  # duplicate ID at the end
    with pytest.raises(IntegrityError), sessions.begin() as session:
        CameraRepository(session).insert_many(rows(batch))
    with sessions.begin() as session:
        assert CameraRepository(session).count() == 0
        CameraRepository(session).insert_many(rows([record(9, name="金安区皋城路东")]))
    assert ids_for(sessions, "皋城") == ["34150200001320000009"]


def test_update_and_delete_keep_the_search_index_in_sync(repo_rows) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, _ = repo_rows
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows([record(1, name="金安区梅山路东"), record(2)]))
    renamed = rows([record(1, name="金安区淠河路东")])
    with sessions.begin() as session:
        CameraRepository(session).update_many(renamed, [columns_for_fields(["name"])])
    assert ids_for(sessions, "淠河") == ["34150200001320000001"]
    assert ids_for(sessions, "梅山路东") == []
    with sessions.begin() as session:
        assert CameraRepository(session).delete("34150200001320000001")
        assert not CameraRepository(session).delete("34150200001320000001")
    assert ids_for(sessions, "淠河") == []


def test_update_writes_only_the_given_columns(repo_rows) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, _ = repo_rows
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows([record(1, remark="保留", record_save_days=90)]))
    change = rows([record(1, remark=None, record_save_days=30)])
    with sessions.begin() as session:
        CameraRepository(session).update_many(change, [columns_for_fields(["record_save_days"])])
    with sessions() as session:
        stored = CameraRepository(session).get("34150200001320000001")
    assert stored is not None
    assert stored.record.record_save_days == 30
    assert stored.record.remark == "保留"
    assert stored.record.owner_unit == "GA" and stored.owner_unit_name == "六安市公安局"


def test_existing_ids_and_prefix_lookup(repo_rows) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, _ = repo_rows
    records = [record(i) for i in range(1, IN_CHUNK + 20)]
    records.append(record(1, platform_id="34150200001310000001"))
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows(records))
    wanted = [f"34150200001320{i:06d}" for i in range(1, 2 * IN_CHUNK)]
    with sessions() as session:
        repo = CameraRepository(session)
        assert repo.existing_ids(wanted) == set(wanted[: IN_CHUNK + 19])
        assert repo.ids_with_prefix("34150200001310") == ["34150200001310000001"]
        assert len(repo.ids_with_prefix("34150200001320")) == IN_CHUNK + 19
        assert set(repo.get_many(["34150200001320000003", "x"])) == {"34150200001320000003"}


def test_stream_credentials_are_split_off_and_encrypted(repo_rows, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sessions, rows, cipher = repo_rows
    url = "rtsp://admin:S3cret!@10.1.2.3:554/Streaming/Channels/101"
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows([record(1, stream_url=url)]))
    with sessions() as session:
        stored_url, secret = session.execute(select(Camera.stream_url, Camera.stream_credentials)).one()
        camera = CameraRepository(session).get("34150200001320000001")
        assert camera is not None and camera.has_credentials
        assert CameraRepository(session).stream_url_with_credentials("34150200001320000001", cipher) == url
    assert stored_url == "rtsp://10.1.2.3:554/Streaming/Channels/101"
    assert "S3cret" not in secret and "admin" not in secret
    key = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cipher_for(tmp_path).decrypt(secret) == "admin:S3cret!"


def test_sqlite_bulk_load_rebuilds_indexes_inside_the_transaction(
    repo_rows,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's bulk load path")
    from sqlalchemy import inspect

    from xueliang.store import bulk

    monkeypatch.setattr(bulk, "SQLITE_REBUILD_INDEX_ROWS", 600)
    sessions, rows, _ = repo_rows
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("camera")}
    failing = [record(i) for i in range(1, 700)] + [record(5)]
    with pytest.raises(IntegrityError), sessions.begin() as session:
        CameraRepository(session).insert_many(rows(failing))
    assert {ix["name"] for ix in inspect(engine).get_indexes("camera")} == indexes  # the drop was rolled back
    with sessions.begin() as session:
        CameraRepository(session).insert_many(rows([record(i, name=f"金安区{i}号路东") for i in range(1, 700)]))
    assert {ix["name"] for ix in inspect(engine).get_indexes("camera")} == indexes
    assert ids_for(sessions, "金安区42号") == ["34150200001320000042"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
