"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL, the platform, an API client.

Storage tests take the ``engine`` fixture (or something built on it) and run twice: ``[sqlite]`` and
``[postgresql]``. PostgreSQL comes from XUELIANG_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432, trust
auth); a fresh database is created for the test run and dropped at its end. When the server cannot be reached
the PostgreSQL variants are skipped locally and FAIL under CI=true.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from xueliang.api.app import create_app
from xueliang.app import Platform, build_platform
from xueliang.config import Settings
from xueliang.store.db import create_db_engine, migrate, normalise_url
from xueliang.store.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "XUELIANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A fresh PostgreSQL database for this test run, migrated, dropped afterwards."""
    admin_url = normalise_url(POSTGRES_ADMIN_URL)
    name = f"xueliang_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    except Exception as exc:
        message = f"PostgreSQL not reachable at {make_url(admin_url).render_as_string()}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    engine = create_db_engine(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    if tables:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database: SQLite file or the run's PostgreSQL database (emptied after the test)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "xueliang.db"
        shutil.copyfile(template, path)
        sqlite_engine = create_db_engine(f"sqlite:///{path}")
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    pg_engine: Engine = request.getfixturevalue("postgres_engine")
    _truncate_all(pg_engine)
    yield pg_engine
    _truncate_all(pg_engine)


TEST_PASSWORD = "Xueliang-Test-2026!"
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}  # tests hash fast


@dataclass
class Users:
    """Test accounts on the platform's database and Bearer headers for them (through the real token endpoint)."""

    platform: Platform

    def create(self, username: str, role: str, unit: str | None = None) -> str:
        self.platform.accounts.create_user(username, TEST_PASSWORD, [role], unit_code=unit, actor="test")
        return username

    def headers(self, client: TestClient, username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", data={"username": username, "password": TEST_PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def users(platform: Platform) -> Users:
    return Users(platform)


@pytest.fixture
def platform(engine: Engine, tmp_path: Path) -> Iterator[Platform]:
    # the SIP endpoint and the media node's shared RTP port of each test platform listen on free loopback ports
    # (when the app's lifespan runs), so tests never collide with each other or with a running demo
    settings = Settings(
        data_dir=tmp_path / "data",
        sip_host="127.0.0.1",
        sip_port=0,
        media_rtp_host="127.0.0.1",
        media_rtp_mux_port=0,
        media_linger=0.0,
        **FAST_ARGON2,  # type: ignore[arg-type]
    )
    built = build_platform(settings, engine=engine, run_migrations=False)
    yield built
    built.close()


@pytest.fixture
def client(platform: Platform, users: Users) -> Iterator[TestClient]:
    """An API client signed in as ``admin``, unit administrator of the platform's own unit (which owns every
    camera the archive assigns to no unit). Drop ``client.headers["Authorization"]`` to call anonymously."""
    users.create("admin", "unit_admin")
    with TestClient(create_app(platform)) as test_client:
        test_client.headers.update(users.headers(test_client, "admin"))
        yield test_client
