"""Requests the platform sends to devices, and the matching of their answers.

A MANSCDP query is a MESSAGE answered at once with 200 OK; the real answer is a later MESSAGE from the device
carrying the same SN (GB/T 28181 section 2). :class:`Commands` sends queries to where the device was last
heard from (its :class:`~xueliang.signaling.presence.DeviceSession` peer: NAT-safe, over its TCP connection
when it registered over TCP), in the charset and edition it uses, and waits for the answer with that SN.
Fragmented answers (Catalog, RecordInfo) go through the sans-IO assemblers: the result says ``complete`` or
``partial`` with the counts, never silently partial.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import TypeVar

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import Assembly, CatalogItem, RecordItem, WireMessage
from xueliang.protocol.sip import NameAddr, Request, Response, SipUri, Via, make_request, new_branch, new_call_id
from xueliang.protocol.sip import new_tag as new_sip_tag
from xueliang.signaling.endpoint import SipEndpoint, SipTimeoutError
from xueliang.signaling.presence import DeviceSession
from xueliang.signaling.transport import Peer

MANSCDP_TYPE = "Application/MANSCDP+xml"
USER_AGENT = "xueliang"

A = TypeVar("A", bound=WireMessage)


class DeviceUnavailableError(Exception):
    """The device is not registered, or did not answer in time, or refused the request."""

    def __init__(self, device_id: str, reason: str) -> None:
        super().__init__(f"{device_id}: {reason}")
        self.device_id = device_id
        self.reason = reason  # not_registered | timeout | refused


class Commands:
    """Builds and sends our requests; matches answers by (device, SN)."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        *,
        local_id: str,
        domain: str,
        via_host: Callable[[Peer], str],
        assembly_timeout: float,
        answer_timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.local_id = local_id
        self.domain = domain
        self.via_host = via_host
        self.answer_timeout = answer_timeout
        self._sn = secrets.randbelow(1_000_000) + 1
        self._answers: dict[tuple[str, int], asyncio.Future[WireMessage]] = {}
        self._assemblies: dict[tuple[str, str, int], asyncio.Future[Assembly[object]]] = {}
        # catalogs handed over in parts while they arrive: (device, SN) -> (part size, taker)
        self._catalog_takers: dict[tuple[str, int], tuple[int, Callable[[list[CatalogItem]], None]]] = {}
        self.catalogs = manscdp.CatalogAssembler(timeout=assembly_timeout)
        self.records = manscdp.RecordAssembler(timeout=assembly_timeout)

    def next_sn(self) -> int:
        self._sn = self._sn % 999_999_999 + 1
        return self._sn

    # --- building --------------------------------------------------------------------------------------------
    def build(
        self,
        session: DeviceSession,
        method: str,
        target_id: str,
        *,
        body: bytes = b"",
        content_type: str | None = MANSCDP_TYPE,
        headers: tuple[tuple[str, str], ...] = (),
        call_id: str | None = None,
        from_tag: str | None = None,
        to_tag: str | None = None,
    ) -> Request:
        """A request to ``target_id`` (the device or one of its channels) on ``session``'s path."""
        peer = session.peer
        port = self.endpoint.transport.address[1]
        via = Via(
            transport=peer.transport.upper(),
            host=self.via_host(peer),
            port=port,
            params=(("rport", None), ("branch", new_branch())),
        )
        target_domain = target_id[:10] if len(target_id) >= 10 else self.domain
        extra: list[tuple[str, str]] = []
        if content_type and body:
            extra.append(("Content-Type", content_type))
        if session.edition is manscdp.Edition.GB2022:
            extra.append(("X-GB-Ver", manscdp.header_for_edition(session.edition)))
        extra.append(("User-Agent", USER_AGENT))
        extra.extend(headers)
        to = NameAddr(uri=SipUri(host=target_domain, user=target_id))
        return make_request(
            method,
            SipUri(host=target_domain, user=target_id),
            via=via,
            from_=NameAddr(uri=SipUri(host=self.domain, user=self.local_id)).with_tag(from_tag or new_sip_tag()),
            to=to.with_tag(to_tag) if to_tag else to,
            call_id=call_id or new_call_id(via.host),
            cseq=session.next_cseq(),
            contact=NameAddr(uri=SipUri(host=via.host, user=self.local_id, port=port)),
            headers=extra,
            body=body,
        )

    async def send(self, session: DeviceSession, request: Request) -> Response:
        """Send ``request`` on ``session``'s path; its final response (a timeout raises DeviceUnavailableError)."""
        try:
            return await self.endpoint.request(session.peer, request)
        except SipTimeoutError as exc:
            raise DeviceUnavailableError(session.device_id, "timeout") from exc

    async def message(self, session: DeviceSession, target_id: str, body: WireMessage) -> Response:
        """A MANSCDP MESSAGE; raises DeviceUnavailableError unless it is answered 2xx."""
        request = self.build(session, "MESSAGE", target_id, body=body.encode(session.edition, session.charset))
        response = await self.send(session, request)
        if not response.success:
            raise DeviceUnavailableError(session.device_id, f"refused ({response.status_code})")
        return response

    # --- queries ---------------------------------------------------------------------------------------------
    async def query(self, session: DeviceSession, target_id: str, query: WireMessage, answer: type[A]) -> A:
        """Send ``query`` and wait for the device's answer of type ``answer`` with the same SN."""
        key = (target_id, query.sn)
        future: asyncio.Future[WireMessage] = asyncio.get_running_loop().create_future()
        self._answers[key] = future
        try:
            await self.message(session, target_id, query)
            result = await asyncio.wait_for(future, self.answer_timeout)
        except TimeoutError as exc:
            raise DeviceUnavailableError(session.device_id, "timeout") from exc
        finally:
            self._answers.pop(key, None)
        if not isinstance(result, answer):
            raise DeviceUnavailableError(session.device_id, f"answered {type(result).__name__}")
        return result

    async def catalog(
        self,
        session: DeviceSession,
        take: Callable[[list[CatalogItem]], None] | None = None,
        *,
        part_items: int = 1,
    ) -> Assembly[CatalogItem]:
        """The device's catalog, assembled. ``take``: called (on the event loop, from the fragment's handler)
        with every ``part_items`` new items while the fragments still arrive; the items of the finished
        assembly after those taken are left for the caller."""
        sn = self.next_sn()
        query = manscdp.CatalogQuery(sn=sn, device_id=session.device_id)
        key = (session.device_id, sn)
        if take is not None:
            self._catalog_takers[key] = (part_items, take)
        try:
            return await self._assembled("catalog", session, session.device_id, query)  # type: ignore[return-value]
        finally:
            self._catalog_takers.pop(key, None)

    async def record_info(self, session: DeviceSession, query: manscdp.RecordInfoQuery) -> Assembly[RecordItem]:
        return await self._assembled("records", session, query.device_id, query)  # type: ignore[return-value]

    async def _assembled(
        self, kind: str, session: DeviceSession, target_id: str, query: WireMessage
    ) -> Assembly[object]:
        assembler = self.catalogs if kind == "catalog" else self.records
        key = (kind, target_id, query.sn)
        future: asyncio.Future[Assembly[object]] = asyncio.get_running_loop().create_future()
        self._assemblies[key] = future
        assembler.expect(target_id, query.sn, time.monotonic())
        try:
            await self.message(session, target_id, query)
            return await future
        finally:
            self._assemblies.pop(key, None)

    # --- answers ---------------------------------------------------------------------------------------------
    def on_answer(self, message: WireMessage) -> bool:
        """A MANSCDP Response from a device: True when it answered one of our queries."""
        now = time.monotonic()
        if isinstance(message, manscdp.CatalogResponse):
            done = self.catalogs.feed(message, now)
            if done is not None:
                self._finish("catalog", done)
            elif (taker := self._catalog_takers.get((message.device_id, message.sn))) is not None:
                part_items, take = taker
                items = self.catalogs.claim(message.device_id, message.sn, part_items)
                if items:
                    take(items)
            return True
        if isinstance(message, manscdp.RecordInfoResponse):
            finished = self.records.feed(message, now)
            if finished is not None:
                self._finish("records", finished)
            return True
        future = self._answers.get((message.device_id, message.sn))
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def _finish(self, kind: str, assembly: Assembly[CatalogItem] | Assembly[RecordItem]) -> None:
        future = self._assemblies.get((kind, assembly.device_id, assembly.sn))
        if future is not None and not future.done():
            future.set_result(assembly)  # type: ignore[arg-type]

    def expire(self, now: float) -> None:
        """Hand back answers that stopped short, as partial (called every second)."""
        for catalog in self.catalogs.expire(now):
            self._finish("catalog", catalog)
        for records in self.records.expire(now):
            self._finish("records", records)
