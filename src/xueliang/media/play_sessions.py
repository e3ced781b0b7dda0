"""Viewing sessions: one person's view of one stream, from the play call until they leave.

``POST /api/v1/cameras/{id}/play`` opens a session (a :class:`~xueliang.media.manager.Viewing` of the stream, so
the stream stays up while the session lives); the session's id is in the play token its URLs carry. A session ends
when

- the viewer says so (``DELETE /api/v1/play-sessions/{id}``),
- its last FLV connection closes (a page that navigates away or a player that gives up),
- it stays idle for ``idle_timeout_s``: no connection open and no HLS request or snapshot (a play call whose URLs
  are never opened, an HLS player that stopped polling),
- the stream ends for everyone (device BYE, operator stop), or an operator ends the session,
- the grant it was opened under is revoked or expires (:meth:`PlaySessions.close_grant`).

Each session carries who it is for (``unit``, ``grant``) and an opaque ``ticket`` the API side attached (the
policy's answer, for the audit record the ``on_end`` hook writes when the session ends, whatever ends it).

Ending a session releases only its viewing; the stream lingers for its other viewers (or, if it was the last,
for the manager's linger time). Connections of an ended session are closed through the closers they registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from xueliang.domain.streams import PlaySource
from xueliang.media.manager import StreamManager, Viewing

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 30.0
REAP_INTERVAL_S = 2.0


@dataclass(eq=False)
class PlaySession:
    """A viewing session; ``id`` is the viewing's id."""

    viewing: Viewing
    camera_id: str
    opened_at: float
    last_active: float
    connections: int = 0
    closed: bool = False
    close_reason: str = ""
    closers: set[Callable[[str], None]] = field(default_factory=set)
    unit: str | None = None  # the unit the viewer acts for (per-unit stream limits)
    grant: str | None = None  # the grant it was opened under (None: the unit's own camera)
    ticket: object = None  # the API side's record of the authorisation, handed back to ``on_end``

    @property
    def id(self) -> str:
        return self.viewing.id

    @property
    def stream_id(self) -> str:
        return self.viewing.stream_id


class PlaySessions:
    """The open sessions of one media node."""

    def __init__(
        self,
        manager: StreamManager,
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        on_end: Callable[[PlaySession], None] | None = None,
    ) -> None:
        self._manager = manager
        self.on_end = on_end
        self._idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._sessions: dict[str, PlaySession] = {}
        self._reaper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(
        self,
        source: PlaySource,
        variant: str,
        *,
        unit: str | None = None,
        grant: str | None = None,
        ticket: object = None,
    ) -> PlaySession:
        """Start (or join) the camera's stream and open a session on it; raises PlayError when it cannot."""
        viewing = await self._manager.acquire(source, variant)
        now = self._clock()
        session = PlaySession(
            viewing, source.camera_id, opened_at=now, last_active=now, unit=unit, grant=grant, ticket=ticket
        )
        self._sessions[session.id] = session
        logger.info("play session %s opened on %s (%s)", session.id, session.stream_id, viewing.variant)
        return session

    def get(self, session_id: str) -> PlaySession | None:
        """The live session with this id, or None (unknown, ended, or its stream ended)."""
        session = self._sessions.get(session_id)
        if session is None or session.closed:
            return None
        if not self._manager.viewing_alive(session.viewing):
            self._forget(session, "the stream ended")
            return None
        return session

    def touch(self, session: PlaySession) -> None:
        session.last_active = self._clock()

    @contextlib.asynccontextmanager
    async def connection(self, session: PlaySession, closer: Callable[[str], None]) -> AsyncIterator[None]:
        """Hold a streaming connection (FLV over HTTP or WebSocket) open on a session; its end ends the session
        once no other connection is open. ``closer`` is called with a reason if the session ends first."""
        session.connections += 1
        session.closers.add(closer)
        self.touch(session)
        try:
            yield
        finally:
            session.closers.discard(closer)
            session.connections -= 1
            self.touch(session)
            if session.connections == 0 and not session.closed:
                await self.close(session.id, "the viewer's connection closed")

    async def close(self, session_id: str, reason: str) -> bool:
        """End a session (idempotent); returns whether it was open."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        self._forget(session, reason)
        await self._manager.release(session.viewing)
        return True

    def _forget(self, session: PlaySession, reason: str) -> None:
        self._sessions.pop(session.id, None)
        if session.closed:
            return
        session.closed = True
        session.close_reason = reason
        for closer in list(session.closers):
            closer(reason)
        logger.info("play session %s ended: %s", session.id, reason)
        if self.on_end is not None:
            try:
                self.on_end(session)
            except Exception:  # the session is over either way; the hook's owner logs its own failure
                logger.exception("play session %s: end hook failed", session.id)

    def count(self, unit: str) -> int:
        """Open sessions held by ``unit``."""
        return sum(1 for s in self._sessions.values() if s.unit == unit)

    async def close_grant(self, grant_id: str, reason: str) -> int:
        """End every session opened under ``grant_id`` (revoked or expired); returns how many ended."""
        ended = [s.id for s in self._sessions.values() if s.grant == grant_id]
        for session_id in ended:
            await self.close(session_id, reason)
        return len(ended)

    def sessions(self, stream_id: str | None = None) -> list[PlaySession]:
        return [s for s in self._sessions.values() if stream_id is None or s.stream_id == stream_id]

    async def reap(self) -> int:
        """End idle sessions and those whose stream ended; returns how many ended."""
        now = self._clock()
        ended = 0
        for session in list(self._sessions.values()):
            if not self._manager.viewing_alive(session.viewing):
                self._forget(session, "the stream ended")
                ended += 1
            elif session.connections == 0 and now - session.last_active > self._idle_timeout_s:
                await self.close(session.id, f"idle for {self._idle_timeout_s:.0f} s")
                ended += 1
        return ended

    def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_loop())

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            try:
                await self.reap()
            except Exception:  # a reaper that dies would leak every later session
                logger.exception("play session reaper failed; carrying on")

    async def close_all(self, reason: str = "the media node stopped") -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for session_id in list(self._sessions):
            await self.close(session_id, reason)
