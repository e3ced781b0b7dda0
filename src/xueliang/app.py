"""Composition root: builds the services from settings and hands them to the roles that run them.

Start-up reads as an ordered list of steps (see :func:`build_platform`). Nothing here holds business rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.service import CatalogService
from xueliang.catalog.worker import PRELOAD as CATALOG_WORKER_PRELOAD
from xueliang.config import Settings
from xueliang.jobs import JobRunner, ProcessJobRunner
from xueliang.store.db import create_db_engine, make_session_factory, migrate

log = logging.getLogger(__name__)


@dataclass
class Platform:
    """The services of one process, built once at start."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    catalog: CatalogService
    jobs: JobRunner

    @property
    def database_url(self) -> str:
        """The URL worker processes open their own engine from (with its password: never log it)."""
        return self.engine.url.render_as_string(hide_password=False)

    def close(self) -> None:
        self.jobs.shutdown()
        self.engine.dispose()


def build_platform(settings: Settings, *, engine: Engine | None = None, run_migrations: bool = True) -> Platform:
    """1. data directory  2. database engine  3. schema migrations  4. job runner  5. services."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or create_db_engine(settings.resolved_database_url())
    if run_migrations:
        migrate(engine)
    log.info("database ready: %s", engine.url.render_as_string(hide_password=True))
    sessions = make_session_factory(engine)
    jobs = ProcessJobRunner(preload=CATALOG_WORKER_PRELOAD)
    catalog = CatalogService(sessions, data_dir=settings.data_dir)
    return Platform(settings=settings, engine=engine, sessions=sessions, catalog=catalog, jobs=jobs)
