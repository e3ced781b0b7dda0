"""Interop: sipp plays a camera that answers the platform's live-video INVITE (SDP answer echoing y=), takes the
ACK and then the platform's BYE (tests/interop/invite_answer.xml).

The platform side runs in this process, not as ``xueliang serve``: nothing outside the process can start a
stream yet (``POST /api/v1/cameras/{id}/play`` comes with the play API, being written elsewhere), so the test
drives the real :class:`SignalingService`'s ``GbSourceOpener.open`` directly, with a small fake
``MediaReceivers`` (the media node is another engineer's work and sipp sends no RTP here). The device registers
from the UDP port sipp then answers on, with the digest computed by the protocol layer, because one sipp scenario
cannot both register as a UAC and answer an INVITE that arrives with a new Call-ID.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from xueliang.domain.streams import MediaTransport, PlaySource, ReceiverAddress, ReceiverSpec, SourceKind
from xueliang.protocol.sip import (
    NameAddr,
    Response,
    SipUri,
    Via,
    answer_challenge,
    challenges_in,
    make_request,
    new_branch,
    new_tag,
    parse_message,
)
from xueliang.signaling.service import SignalingConfig, SignalingService
from xueliang.store.crypto import FernetCipher
from xueliang.store.db import create_db_engine, make_session_factory
from xueliang.store.devices import DeviceStore

from .conftest import DOMAIN, HERE, PASSWORD, PLATFORM_ID, SIPP_TIMEOUT, free_port

pytestmark = pytest.mark.anyio

DEVICE_ID = "34150200001320000501"
CHANNEL_ID = "34150200001310000501"


class NullSink:
    """No catalog work here: the service does not sync catalogs in this test."""

    async def merge(self, device_id: str, items: list[Any], complete: bool) -> object:
        return None

    async def apply_events(self, device_id: str, events: list[Any]) -> object:
        return None


class FakeReceivers:
    """Records what the opener asks of the media node; sipp sends no RTP, so no socket is needed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def open_receiver(self, spec: ReceiverSpec) -> ReceiverAddress:
        self.calls.append(("open", spec))
        return ReceiverAddress("127.0.0.1", 30000)

    async def set_ssrc(self, stream_id: str, ssrc: int) -> None:
        self.calls.append(("set_ssrc", ssrc))

    async def connect_active(self, stream_id: str, host: str, port: int) -> None:
        self.calls.append(("connect_active", (host, port)))

    async def close_receiver(self, stream_id: str) -> None:
        self.calls.append(("close", stream_id))


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "xueliang.db"
    shutil.copyfile(sqlite_template, path)
    built = create_db_engine(f"sqlite:///{path}")
    yield built
    built.dispose()


@pytest.fixture
async def service(engine: Engine) -> AsyncIterator[SignalingService]:
    store = DeviceStore(make_session_factory(engine), FernetCipher(Fernet.generate_key()))
    config = SignalingConfig(
        local_id=PLATFORM_ID,
        domain=DOMAIN,
        host="127.0.0.1",
        port=0,
        password=PASSWORD,
        accept_unknown=True,
        sync_on_register=False,
        nonce_secret=b"s" * 32,
    )
    running = SignalingService(config, store, NullSink())
    await running.start()
    yield running
    await running.stop()


async def register_from(port: int, server: tuple[str, int]) -> None:
    """REGISTER ``DEVICE_ID`` from 127.0.0.1:``port`` over UDP, answering the digest challenge."""
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[Response] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            message = parse_message(data)
            if isinstance(message, Response):
                answers.put_nowait(message)

    transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", port))
    call_id, tag = f"{new_tag()}@127.0.0.1", new_tag()
    try:
        authorization: tuple[tuple[str, str], ...] = ()
        for cseq in (1, 2):
            request = make_request(
                "REGISTER",
                SipUri(host=DOMAIN, user=PLATFORM_ID),
                via=Via(
                    transport="UDP", host="127.0.0.1", port=port, params=(("rport", None), ("branch", new_branch()))
                ),
                from_=NameAddr(uri=SipUri(host=DOMAIN, user=DEVICE_ID)).with_tag(tag),
                to=NameAddr(uri=SipUri(host=DOMAIN, user=DEVICE_ID)),
                call_id=call_id,
                cseq=cseq,
                contact=NameAddr(uri=SipUri(host="127.0.0.1", user=DEVICE_ID, port=port)),
                headers=(("Expires", "3600"), *authorization),
            )
            transport.sendto(bytes(request), server)
            response = await asyncio.wait_for(answers.get(), 5)
            if response.status_code == 200:
                return
            assert response.status_code == 401, response
            credentials = answer_challenge(
                challenges_in(response)[0],
                username=DEVICE_ID,
                password=PASSWORD,
                method="REGISTER",
                uri=str(request.uri),
            )
            authorization = (("Authorization", str(credentials)),)
        raise AssertionError("not registered")
    finally:
        transport.close()


SIPP_START_ATTEMPTS = 3


async def start_sipp(sipp: str, port: int, messages: Path, workdir: Path) -> asyncio.subprocess.Process:
    """sipp as the camera on ``port``, up once it has bound its ports: a sipp that exits at once (a media port
    taken between our probe and its bind) is started again with another media port, and its output kept."""
    said = ""
    for _ in range(SIPP_START_ATTEMPTS):
        process = await asyncio.create_subprocess_exec(
            sipp,
            "-sf", str(HERE / "invite_answer.xml"),
            "-s", CHANNEL_ID,
            "-i", "127.0.0.1",
            "-p", str(port),
            "-mp", str(free_port()),
            "-t", "u1",
            "-m", "1",
            "-timeout", str(SIPP_TIMEOUT),
            "-timeout_error",
            "-nostdin",
            "-trace_msg", "-message_file", str(messages),
            "-trace_err", "-error_file", str(workdir / "errors.log"),
            cwd=workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        await asyncio.sleep(0.5)  # sipp binds its port (a late bind only costs an INVITE retransmission)
        if process.returncode is None:
            return process
        output, _ = await process.communicate()
        said = output.decode(errors="replace")[-3000:]
    raise AssertionError(f"sipp exited at start {SIPP_START_ATTEMPTS} times; it said:\n{said}")


async def test_sipp_answers_invite_and_takes_bye(sipp: str, service: SignalingService, tmp_path: Path) -> None:
    port = free_port()
    await register_from(port, service.address)
    assert service.is_online(DEVICE_ID)

    messages = tmp_path / "messages.log"
    process = await start_sipp(sipp, port, messages, tmp_path)
    try:
        receivers = FakeReceivers()
        ended: list[str] = []
        source = PlaySource(
            camera_id=CHANNEL_ID,
            kind=SourceKind.GB28181,
            device_id=DEVICE_ID,
            channel_id=CHANNEL_ID,
            transport=MediaTransport.UDP,
        )
        try:
            handle = await service.source_opener().open(source, receivers, ended.append)
        except Exception as exc:
            if process.returncode is None:
                process.kill()
            output, _ = await process.communicate()
            said = output.decode(errors="replace")[-3000:]
            raise AssertionError(f"INVITE failed ({exc}); sipp said:\n{said}") from exc
        spec = receivers.calls[0][1]
        assert isinstance(spec, ReceiverSpec) and spec.ssrc is not None
        assert [call[0] for call in receivers.calls] == ["open"]  # sipp echoed our y=: no set_ssrc
        assert service.metrics["invites_answered"] == 1

        await handle.close()
        output, _ = await asyncio.wait_for(process.communicate(), SIPP_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    trace = messages.read_bytes().decode("utf-8", "replace") if messages.exists() else ""
    assert process.returncode == 0, f"{output.decode(errors='replace')[-3000:]}\n{trace[-4000:]}"
    assert f"y={spec.ssrc:010d}" in trace  # the answer echoed the offered SSRC
    assert "BYE sip:" in trace and "ACK sip:" in trace
    assert ended == [] and service.metrics["byes_out"] == 1 and service.metrics["bye_timeouts"] == 0
    assert receivers.calls[-1] == ("close", f"{CHANNEL_ID}-0") and service.ssrcs.in_use() == 0
