"""REGISTER: digest authentication, the inventory check, expiry bounds, unregistration.

The first REGISTER of a device (no credentials) is challenged at once without touching the database. The
answer to the challenge is checked against the device's own password, or the global one, looked up through
the store (off the event loop) and cached for a minute, so re-registrations of a whole city cost few queries.

Outcomes, as GB/T 28181 devices expect them:

- no credentials, stale/foreign/replayed nonce -> 401 with a fresh challenge (``stale=TRUE`` when only the
  nonce was old);
- wrong password -> 403; a device ID not in the archive while unknown devices are refused -> 403 and a
  governance finding (``device_rejection``, "device not in inventory");
- asked Expires below the minimum -> 423 with Min-Expires; above the maximum -> granted the maximum;
- ``Expires: 0`` -> 200 and the device is unregistered (offline, recorded);
- otherwise 200 with ``Date`` (time sync), ``Expires`` granted and the Contact echoed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.protocol.manscdp import edition_from_header
from xueliang.protocol.sip import (
    DigestChallenger,
    DigestCredentials,
    RemoteProtocolError,
    Request,
    Verdict,
    credentials_in,
    format_gb_date,
)
from xueliang.signaling.endpoint import SipEndpoint
from xueliang.signaling.presence import DeviceSession, Presence
from xueliang.signaling.transport import Peer
from xueliang.store.device_records import DeviceAuth, Registration
from xueliang.store.devices import DeviceStore
from xueliang.store.models import utcnow

log = logging.getLogger(__name__)

DEVICE_ID_RE = re.compile(r"\d{18}|\d{20}")  # 2011-edition devices still send 18 digits
AUTH_CACHE_SECONDS = 60.0
DEFAULT_EXPIRES = 3600


@dataclass(frozen=True, slots=True)
class RegistrarPolicy:
    password: str | None  # the global device password (decrypted)
    accept_unknown: bool
    min_expires: int
    max_expires: int
    keepalive_interval: float


class Registrar:
    """Answers REGISTER requests; calls ``on_registered(session, first)`` after each successful one."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        presence: Presence,
        store: DeviceStore,
        challenger: DigestChallenger,
        policy: RegistrarPolicy,
        on_registered: Callable[[DeviceSession, bool], None],
    ) -> None:
        self.endpoint = endpoint
        self.presence = presence
        self.store = store
        self.challenger = challenger
        self.policy = policy
        self.on_registered = on_registered
        self._auth_cache: dict[str, tuple[float, DeviceAuth]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.pending_registrations: list[Registration] = []  # written in batches by the service

    def forget(self, device_id: str) -> None:
        """Drop the cached password/inventory answer (after an operator changed the device)."""
        self._auth_cache.pop(device_id, None)

    def handle(self, request: Request, peer: Peer) -> None:
        device_id = request.from_.uri.user or ""
        if DEVICE_ID_RE.fullmatch(device_id) is None:
            self.endpoint.metrics["register_bad_id"] += 1
            self.endpoint.respond(request, peer, 400, reason="Bad Request (device ID)")
            return
        try:
            credentials = credentials_in(request)
        except RemoteProtocolError as exc:
            self.endpoint.respond(request, peer, 400, reason=f"Bad Request ({exc.message})"[:80])
            return
        if credentials is None:
            self._challenge(request, peer)
            return
        task = asyncio.get_running_loop().create_task(self._authenticate(request, peer, device_id, credentials))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _challenge(self, request: Request, peer: Peer, *, stale: bool = False) -> None:
        self.endpoint.metrics["register_challenged"] += 1
        challenge = self.challenger.challenge(time.time(), stale=stale)
        self.endpoint.respond(request, peer, 401, headers=(("WWW-Authenticate", str(challenge)),))

    async def _lookup(self, device_id: str) -> DeviceAuth:
        now = time.monotonic()
        cached = self._auth_cache.get(device_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        auth = await asyncio.to_thread(self.store.lookup, device_id)
        if len(self._auth_cache) > 500_000:
            self._auth_cache.clear()
        self._auth_cache[device_id] = (now + AUTH_CACHE_SECONDS, auth)
        return auth

    async def _authenticate(self, request: Request, peer: Peer, device_id: str, credentials: DigestCredentials) -> None:
        try:
            auth = await self._lookup(device_id)
        except Exception:
            log.exception("device lookup failed for %s", device_id)
            self.endpoint.respond(request, peer, 500)
            return
        if not auth.in_archive and not self.policy.accept_unknown:
            await self._refuse(request, peer, device_id, "not_in_inventory", "Forbidden (device not in inventory)")
            return
        password = auth.password if auth.password is not None else self.policy.password
        if password is None:
            await self._refuse(request, peer, device_id, "no_password", "Forbidden (no password configured)")
            return
        verdict = self.challenger.verify(credentials, method="REGISTER", password=password, now=time.time())
        if verdict is Verdict.WRONG_PASSWORD:
            await self._refuse(request, peer, device_id, "bad_password", "Forbidden")
            return
        if verdict is Verdict.BAD_REQUEST:
            self.endpoint.respond(request, peer, 400)
            return
        if verdict is not Verdict.OK:
            self.endpoint.metrics[f"register_{verdict.name.lower()}"] += 1
            self._challenge(request, peer, stale=verdict is Verdict.STALE)
            return
        self._accept(request, peer, device_id)

    async def _refuse(self, request: Request, peer: Peer, device_id: str, reason: str, phrase: str) -> None:
        self.endpoint.metrics[f"register_refused_{reason}"] += 1
        self.endpoint.respond(request, peer, 403, reason=phrase)
        try:
            await asyncio.to_thread(self.store.record_rejection, device_id, peer.host, peer.port, reason, utcnow())
        except Exception:
            log.exception("could not record the refused registration of %s", device_id)

    def _requested_expires(self, request: Request) -> int:
        contact = request.contact
        if contact is not None:
            value = contact.param("expires")
            if value is not None and value.strip().isdigit():
                return int(value)
        expires = request.expires
        return DEFAULT_EXPIRES if expires is None else expires

    def _accept(self, request: Request, peer: Peer, device_id: str) -> None:
        asked = self._requested_expires(request)
        if asked == 0:
            self.endpoint.metrics["unregistered"] += 1
            self.presence.unregister(device_id)
            self.endpoint.respond(request, peer, 200, headers=(("Date", format_gb_date(_local_now())),))
            return
        if asked < self.policy.min_expires:
            self.endpoint.respond(request, peer, 423, headers=(("Min-Expires", str(self.policy.min_expires)),))
            return
        granted = min(asked, self.policy.max_expires)
        now = time.monotonic()
        edition = edition_from_header(request.header("X-GB-Ver"))
        contact = request.header("Contact")
        session = DeviceSession(
            device_id=device_id,
            peer=peer,
            edition=edition,
            expires_at=now + granted,
            last_seen=now,
            interval=self.policy.keepalive_interval,
            contact=contact,
        )
        previous = self.presence.get(device_id)
        if previous is not None:
            session.charset = previous.charset
        first = self.presence.register(session)
        headers: list[tuple[str, str]] = [("Date", format_gb_date(_local_now())), ("Expires", str(granted))]
        if contact:
            headers.append(("Contact", f"{contact.split(';expires=')[0]};expires={granted}"))
        self.endpoint.respond(request, peer, 200, headers=tuple(headers))
        self.endpoint.metrics["registered"] += 1
        registration = Registration(
            device_id=device_id,
            transport=peer.transport,
            host=peer.host,
            port=peer.port,
            contact=contact,
            expires=granted,
            edition=edition.value,
            user_agent=request.user_agent,
            at=utcnow(),
        )
        self.on_registered(session, first)
        self.pending_registrations.append(registration)

    def take_registrations(self) -> list[Registration]:
        taken, self.pending_registrations = self.pending_registrations, []
        return taken


def _local_now() -> dt.datetime:
    """The time devices are synchronised to: local wall-clock time, as Chinese platforms send it."""
    return dt.datetime.now()
