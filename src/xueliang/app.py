"""Composition root: builds the services from settings and hands them to the roles that run them.

Start-up reads as an ordered list of steps (see :func:`build_platform`). Nothing here holds business rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog import device_catalog
from xueliang.catalog.device_catalog_parts import CatalogParts
from xueliang.catalog.service import CatalogService
from xueliang.catalog.worker import PRELOAD as CATALOG_WORKER_PRELOAD
from xueliang.config import Settings
from xueliang.domain.streams import SourceKind, SourceOpener
from xueliang.jobs import JobRunner, ProcessJobRunner
from xueliang.media.node import MediaNode
from xueliang.media.play_sessions import PlaySession, PlaySessions
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.sharing.tokens import Ed25519Tokens, load_or_create_tokens
from xueliang.signaling.service import SignalingConfig, SignalingService
from xueliang.store.crypto import Cipher, load_or_create_key
from xueliang.store.db import create_db_engine, make_session_factory, migrate, transaction
from xueliang.store.devices import DeviceStore
from xueliang.store.models import utcnow
from xueliang.store.play_sources import PlaySources
from xueliang.store.settings import SettingRepository

log = logging.getLogger(__name__)
audit_log = logging.getLogger("xueliang.audit")


@dataclass
class MediaRuntime:
    """The built-in media node with what the play flow needs around it: viewing sessions, the play-token keys
    (this process signs: it is the API side) and the archive lookup of a camera's source."""

    node: MediaNode
    sessions: PlaySessions
    tokens: Ed25519Tokens
    play_sources: PlaySources
    public_url: str | None
    token_ttl: int

    async def start(self) -> None:
        await self.node.start()
        self.sessions.start()

    async def stop(self) -> None:
        await self.sessions.close_all()
        await self.node.stop()

    def audit(self, event: str, session: PlaySession | None, **fields: str) -> None:
        """A video access record. Until the audit log of issue 5 exists it is a structured log line on the
        ``xueliang.audit`` logger (never with a token)."""
        if session is not None:
            fields = {"session": session.id, "camera": session.camera_id, "stream": session.stream_id, **fields}
        audit_log.info("%s %s", event, " ".join(f"{key}={value}" for key, value in sorted(fields.items())))


@dataclass
class Platform:
    """The services of one process, built once at start."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    catalog: CatalogService
    jobs: JobRunner
    devices: DeviceStore
    signaling: SignalingService | None
    media: MediaRuntime | None = None

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
    devices = DeviceStore(sessions, catalog.cipher())
    signaling = None
    if settings.sip_enabled:
        database_url = engine.url.render_as_string(hide_password=False)
        sink = WorkerCatalogSink(jobs, database_url, sessions)
        config = signaling_config(settings, sessions, catalog.cipher())
        signaling = SignalingService(config, devices, sink)
    media = build_media(settings, sessions, catalog.cipher(), signaling) if settings.media_enabled else None
    return Platform(
        settings=settings,
        engine=engine,
        sessions=sessions,
        catalog=catalog,
        jobs=jobs,
        devices=devices,
        signaling=signaling,
        media=media,
    )


def build_media(
    settings: Settings, sessions: sessionmaker[Session], cipher: Cipher, signaling: SignalingService | None
) -> MediaRuntime:
    """The media node of this process: GB/T 28181 sources through this process's signaling (when it runs one),
    RTSP sources pulled by the node itself."""
    openers: dict[SourceKind, SourceOpener] = {}
    if signaling is not None:
        openers[SourceKind.GB28181] = signaling.source_opener()
    node = MediaNode.from_settings(settings, openers)
    return MediaRuntime(
        node=node,
        sessions=PlaySessions(node.manager),
        tokens=load_or_create_tokens(settings.data_dir),
        play_sources=PlaySources(sessions, cipher),
        public_url=settings.media_public_url,
        token_ttl=settings.play_token_ttl,
    )


SIP_PASSWORD_SETTING = "sip_password"  # noqa: S105 - a setting key, not a password


def global_sip_password(settings: Settings, sessions: sessionmaker[Session], cipher: Cipher) -> str | None:
    """The global device password: the configured one (then kept encrypted in the database, so the next start
    without it still has it), or the one kept from before."""
    with transaction(sessions) as session:
        repository = SettingRepository(session)
        if settings.sip_password:
            repository.put(SIP_PASSWORD_SETTING, cipher.encrypt(settings.sip_password))
            return settings.sip_password
        stored = repository.get(SIP_PASSWORD_SETTING)
    return cipher.decrypt(stored) if isinstance(stored, str) else None


def signaling_config(settings: Settings, sessions: sessionmaker[Session], cipher: Cipher) -> SignalingConfig:
    # digest nonces are signed with a key derived from the secrets key: nonces survive restarts
    nonce_secret = hashlib.sha256(b"xueliang sip nonce\0" + load_or_create_key(settings.data_dir)).digest()
    return SignalingConfig(
        local_id=settings.sip_id,
        domain=settings.resolved_sip_domain(),
        host=settings.sip_host,
        port=settings.sip_port,
        advertise_host=settings.sip_advertise_host,
        password=global_sip_password(settings, sessions, cipher),
        accept_unknown=settings.sip_accept_unknown_devices,
        min_expires=settings.sip_min_expires,
        max_expires=settings.sip_max_expires,
        keepalive_interval=settings.sip_keepalive_interval,
        misses=settings.sip_keepalive_misses,
        catalog_concurrency=settings.sip_catalog_concurrency,
        catalog_rate=settings.sip_catalog_rate,
        catalog_timeout=settings.sip_catalog_timeout,
        flood_rate=settings.sip_flood_rate,
        invite_timeout=settings.sip_invite_timeout,
        nonce_secret=nonce_secret,
    )


class WorkerCatalogSink:
    """Catalogs merge in a worker process (a 200,000-channel catalog is CPU work), large ones in parts while
    they arrive (:mod:`xueliang.catalog.device_catalog_parts`); events are small and merge in a thread."""

    def __init__(self, jobs: JobRunner, database_url: str, sessions: sessionmaker[Session]) -> None:
        self.jobs = jobs
        self.database_url = database_url
        self.sessions = sessions

    async def merge(self, device_id: str, items: list[CatalogItem], complete: bool) -> object:
        # plain tuples pickle at about a third of the dataclasses' cost (bench/bench_catalog_sync.py --hand-off)
        packed = device_catalog.pack_items(items)
        future = self.jobs.submit(device_catalog.merge_packed_job, self.database_url, device_id, packed, complete)
        return await asyncio.wrap_future(future)

    def open_catalog(self, device_id: str) -> CatalogParts:
        return CatalogParts(self.jobs, self.database_url, device_id)

    async def apply_events(self, device_id: str, events: list[tuple[CatalogEvent | None, CatalogItem]]) -> object:
        return await asyncio.to_thread(device_catalog.apply_catalog_events, self.sessions, device_id, events, utcnow())
