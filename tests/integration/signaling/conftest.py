"""A running signaling service on loopback, and a scripted SIP device that talks to it over real sockets.

``signaling`` starts a :class:`SignalingService` on a free UDP+TCP port with the real :class:`DeviceStore` on the
test database (SQLite and PostgreSQL) and a catalog sink that merges in a thread (the worker-process sink is
exercised through ``build_platform`` in test_platform.py). ``ScriptedDevice`` is one device written with the
protocol layer: it sends exactly what a test says (including garbage) and records what comes back, so error
paths can be driven byte by byte; the simulator (xueliang.sim) is what the happy-path tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from xueliang.catalog import device_catalog
from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.protocol.sip import (
    NEED_DATA,
    Message,
    NameAddr,
    Request,
    Response,
    SipUri,
    StreamReader,
    Via,
    answer_challenge,
    challenges_in,
    make_request,
    make_response,
    new_branch,
    new_tag,
    parse_message,
)
from xueliang.signaling.service import SignalingConfig, SignalingService
from xueliang.store.crypto import FernetCipher
from xueliang.store.db import make_session_factory
from xueliang.store.devices import DeviceStore
from xueliang.store.models import utcnow

PLATFORM_ID = "34150000002000000001"
DOMAIN = "3415000000"
PASSWORD = "secret-12345"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": True})  # as in production (uvicorn picks uvloop)


class ThreadSink:
    """Merges catalogs in a thread on the test database (the platform uses a worker process)."""

    def __init__(self, store: DeviceStore) -> None:
        self.store = store
        self.merged: list[object] = []

    async def merge(self, device_id: str, items: list[CatalogItem], complete: bool) -> object:
        summary = await asyncio.to_thread(
            device_catalog.merge_catalog, self.store.sessions, device_id, items, complete=complete, at=utcnow()
        )
        self.merged.append(summary)
        return summary

    async def apply_events(self, device_id: str, events: list[tuple[CatalogEvent | None, CatalogItem]]) -> object:
        return await asyncio.to_thread(
            device_catalog.apply_catalog_events, self.store.sessions, device_id, events, utcnow()
        )


@pytest.fixture
def device_store(engine: Engine) -> DeviceStore:
    return DeviceStore(make_session_factory(engine), FernetCipher(Fernet.generate_key()))


def make_config(**overrides: Any) -> SignalingConfig:
    base = SignalingConfig(
        local_id=PLATFORM_ID,
        domain=DOMAIN,
        host="127.0.0.1",
        port=0,
        password=PASSWORD,
        accept_unknown=True,
        keepalive_interval=60.0,
        catalog_timeout=3.0,
        nonce_secret=b"n" * 32,
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
async def start_service(device_store: DeviceStore) -> AsyncIterator[Callable[..., Any]]:
    """``await start_service(**config overrides)`` -> a running service; all are stopped at the end."""
    started: list[SignalingService] = []

    async def start(**overrides: Any) -> SignalingService:
        service = SignalingService(make_config(**overrides), device_store, ThreadSink(device_store))
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


class ScriptedDevice:
    """One device over a real UDP socket or TCP connection, driven step by step by a test."""

    def __init__(self, device_id: str, server: tuple[str, int], transport: str = "udp") -> None:
        self.device_id = device_id
        self.server = server
        self.transport = transport
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.cseq = 0
        self.call_id = f"{new_tag()}@127.0.0.1"
        self.tag = new_tag()
        self.local: tuple[str, int] = ("127.0.0.1", 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def open(self) -> ScriptedDevice:
        loop = asyncio.get_running_loop()
        if self.transport == "udp":
            inbox = self.inbox

            class Protocol(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                    inbox.put_nowait(parse_message(data))

            transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
            self._udp = transport
            self.local = transport.get_extra_info("sockname")[:2]
        else:
            reader, writer = await asyncio.open_connection(*self.server)
            self._writer = writer
            self.local = writer.get_extra_info("sockname")[:2]
            self._reader_task = loop.create_task(self._read_stream(reader))
        return self

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        framer = StreamReader()
        while data := await reader.read(65536):
            framer.receive_data(data)
            while (message := framer.next_message()) is not NEED_DATA:
                assert isinstance(message, Message)
                self.inbox.put_nowait(message)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()

    def send_bytes(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data, self.server)
        else:
            assert self._writer is not None
            self._writer.write(data)

    def request(
        self, method: str, *, body: bytes = b"", headers: tuple[tuple[str, str], ...] = (), new_call: bool = False
    ) -> Request:
        self.cseq += 1
        host, port = self.local
        content = (("Content-Type", "Application/MANSCDP+xml"),) if body else ()
        return make_request(
            method,
            SipUri(host=DOMAIN, user=PLATFORM_ID),
            via=Via(
                transport=self.transport.upper(),
                host=host,
                port=port,
                params=(("rport", None), ("branch", new_branch())),
            ),
            from_=NameAddr(uri=SipUri(host=DOMAIN, user=self.device_id)).with_tag(self.tag),
            to=NameAddr(uri=SipUri(host=DOMAIN, user=self.device_id if method == "REGISTER" else PLATFORM_ID)),
            call_id=f"{new_tag()}@{host}" if new_call else self.call_id,
            cseq=self.cseq,
            contact=NameAddr(uri=SipUri(host=host, user=self.device_id, port=port)),
            headers=(*content, *headers),
            body=body,
        )

    async def receive(self, timeout: float = 5.0) -> Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def response_to(self, request: Request, timeout: float = 5.0) -> Response:
        """Send ``request``; its final response (requests the platform sends meanwhile are kept for later)."""
        self.send_bytes(bytes(request))
        kept: list[Message] = []
        try:
            while True:
                message = await self.receive(timeout)
                if isinstance(message, Response) and message.cseq == request.cseq and message.status_code >= 200:
                    return message
                if isinstance(message, Request):
                    kept.append(message)
        finally:
            for message in kept:
                self.inbox.put_nowait(message)

    async def next_request(self, method: str | None = None, timeout: float = 5.0) -> Request:
        while True:
            message = await self.receive(timeout)
            if isinstance(message, Request) and (method is None or message.method == method):
                return message

    def answer(self, request: Request, status: int = 200, **kwargs: Any) -> None:
        self.send_bytes(bytes(make_response(request, status, **kwargs)))

    async def register(
        self, password: str = PASSWORD, *, expires: int = 3600, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        """REGISTER, answer the challenge, return the final answer."""
        first = self.request("REGISTER", headers=(("Expires", str(expires)), *headers))
        response = await self.response_to(first)
        if response.status_code != 401:
            return response
        challenge = challenges_in(response)[0]
        credentials = answer_challenge(
            challenge,
            username=self.device_id,
            password=password,
            method="REGISTER",
            uri=f"sip:{PLATFORM_ID}@{DOMAIN}",
        )
        second = self.request(
            "REGISTER", headers=(("Expires", str(expires)), ("Authorization", str(credentials)), *headers)
        )
        return await self.response_to(second)

    async def keepalive(self, sn: int = 1) -> Response:
        body = manscdp.Keepalive(sn=sn, device_id=self.device_id).encode()
        return await self.response_to(self.request("MESSAGE", body=body))


@pytest.fixture
async def devices() -> AsyncIterator[Callable[..., Any]]:
    """``await devices(device_id, server_address, transport)`` -> an open ScriptedDevice, closed at the end."""
    opened: list[ScriptedDevice] = []

    async def open_device(device_id: str, server: tuple[str, int], transport: str = "udp") -> ScriptedDevice:
        device = await ScriptedDevice(device_id, server, transport).open()
        opened.append(device)
        return device

    yield open_device
    for device in opened:
        await device.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
