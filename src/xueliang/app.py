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
from xueliang.domain.audit import AuditAction, AuditUnavailableError
from xueliang.domain.grants import ApprovalChains, StepKind
from xueliang.domain.streams import SourceKind, SourceOpener
from xueliang.jobs import JobRunner, ProcessJobRunner
from xueliang.media.node import MediaNode
from xueliang.media.play_sessions import PlaySession, PlaySessions
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.sharing.accounts import AccountService
from xueliang.sharing.audit import AuditLog
from xueliang.sharing.grants import SharingConfig, SharingService
from xueliang.sharing.revocation import (
    InProcessRevocationBus,
    RedisRevocationBus,
    Revocation,
    RevocationBus,
    Subscription,
)
from xueliang.sharing.sessions import SessionService, build_session_service
from xueliang.sharing.tokens import Ed25519Tokens, load_or_create_tokens
from xueliang.sharing.video_access import Ticket, VideoAccess
from xueliang.signaling.service import SignalingConfig, SignalingService
from xueliang.store.crypto import Cipher, load_or_create_key
from xueliang.store.db import create_db_engine, make_session_factory, migrate, transaction
from xueliang.store.devices import DeviceStore
from xueliang.store.models import utcnow
from xueliang.store.play_sources import PlaySources
from xueliang.store.settings import SettingRepository

log = logging.getLogger(__name__)


@dataclass
class MediaRuntime:
    """The built-in media node with what the play flow needs around it: viewing sessions, the play-token keys
    (this process signs: it is the API side), the archive lookup of a camera's source, and video access (the
    policy's tickets and their audit records). Revocations heard on the bus end the sessions of that grant."""

    node: MediaNode
    sessions: PlaySessions
    tokens: Ed25519Tokens
    play_sources: PlaySources
    access: VideoAccess
    revocations: RevocationBus
    public_url: str | None
    token_ttl: int
    unit_max_streams: int
    _loop: asyncio.AbstractEventLoop | None = None
    _subscription: Subscription | None = None

    async def start(self) -> None:
        await self.node.start()
        self.sessions.on_end = self._ended
        self.sessions.start()
        self._loop = asyncio.get_running_loop()
        self._subscription = self.revocations.subscribe(self._revoked)

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        await self.sessions.close_all()
        await self.node.stop()

    def _revoked(self, revocation: Revocation) -> None:
        """Called on the bus's thread (or inline, in-process): end the grant's sessions on the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        reason = f"grant {revocation.reason}"
        loop.call_soon_threadsafe(lambda: loop.create_task(self.sessions.close_grant(revocation.grant_id, reason)))

    def _ended(self, session: PlaySession) -> None:
        if isinstance(session.ticket, Ticket):
            try:
                self.access.record(
                    AuditAction.PLAY_STOP, session.ticket, session_id=session.id, reason=session.close_reason
                )
            except AuditUnavailableError:
                log.error("play_stop of session %s not recorded: the audit log is unavailable", session.id)


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
    audit: AuditLog
    auth: SessionService
    sharing: SharingService
    revocations: RevocationBus
    access: VideoAccess
    media: MediaRuntime | None = None

    @property
    def accounts(self) -> AccountService:
        return self.auth.accounts

    @property
    def database_url(self) -> str:
        """The URL worker processes open their own engine from (with its password: never log it)."""
        return self.engine.url.render_as_string(hide_password=False)

    def close(self) -> None:
        self.jobs.shutdown()
        self.sharing.close()
        self.revocations.close()
        self.audit.close()
        self.engine.dispose()


def build_platform(settings: Settings, *, engine: Engine | None = None, run_migrations: bool = True) -> Platform:
    """1. data directory  2. database engine  3. schema migrations  4. job runner  5. audit log, accounts and
    sharing (every later service records into the audit log)  6. signaling and media."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or create_db_engine(settings.resolved_database_url())
    if run_migrations:
        migrate(engine)
    log.info("database ready: %s", engine.url.render_as_string(hide_password=True))
    sessions = make_session_factory(engine)
    jobs = ProcessJobRunner(preload=CATALOG_WORKER_PRELOAD)
    catalog = CatalogService(sessions, data_dir=settings.data_dir)
    devices = DeviceStore(sessions, catalog.cipher())
    revocations = build_revocation_bus(settings)
    sharing = SharingService(
        sessions,
        SharingConfig(settings.platform_unit, settings.bureau_unit, approval_chains(settings)),
        revocations,
    )
    audit = AuditLog(engine, data_dir=settings.data_dir, hash_alg=settings.audit_hash, grant_ids=sharing.grant_ids)
    sharing.audit = audit  # built before the log (the log's report asks it for grant ids), then told of it
    auth = build_session_service(settings, sessions, audit=audit)
    auth.accounts.ensure_unit(settings.platform_unit, "平台运营单位 / platform operator")
    auth.accounts.ensure_unit(settings.bureau_unit, "数据资源管理局 / data bureau")
    signaling = None
    if settings.sip_enabled:
        database_url = engine.url.render_as_string(hide_password=False)
        sink = WorkerCatalogSink(jobs, database_url, sessions)
        config = signaling_config(settings, sessions, catalog.cipher())
        signaling = SignalingService(config, devices, sink)
    access = VideoAccess(sharing, audit)
    media = None
    if settings.media_enabled:
        media = build_media(settings, sessions, catalog.cipher(), signaling, access, revocations)
    return Platform(
        settings=settings,
        engine=engine,
        sessions=sessions,
        catalog=catalog,
        jobs=jobs,
        devices=devices,
        signaling=signaling,
        audit=audit,
        auth=auth,
        sharing=sharing,
        revocations=revocations,
        access=access,
        media=media,
    )


def approval_chains(settings: Settings) -> ApprovalChains:
    """The configured approval steps per sensitivity (ApprovalChains refuses a repeated step)."""

    def steps(text: str) -> tuple[StepKind, ...]:
        return tuple(StepKind(part.strip()) for part in text.split(","))

    return ApprovalChains(
        low=steps(settings.approval_chain_low),
        normal=steps(settings.approval_chain_normal),
        high=steps(settings.approval_chain_high),
    )


def build_revocation_bus(settings: Settings) -> RevocationBus:
    """In-process when every role runs in this process (the embedded default), Redis pub/sub when they run apart."""
    if settings.redis_url:
        return RedisRevocationBus(settings.redis_url)
    return InProcessRevocationBus()


def build_media(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: Cipher,
    signaling: SignalingService | None,
    access: VideoAccess,
    revocations: RevocationBus,
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
        access=access,
        revocations=revocations,
        public_url=settings.media_public_url,
        token_ttl=settings.play_token_ttl,
        unit_max_streams=settings.unit_max_streams,
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
