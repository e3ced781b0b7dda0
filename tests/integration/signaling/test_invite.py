"""INVITE dialogs over real sockets: the real SignalingService and its GbSourceOpener against the simulator and
against a scripted device (486, 488, timeout with CANCEL, the caller giving up, device BYE, MediaStatus 121,
TCP active/passive SDP, an answered y= honoured, a TCP device INVITEd over its own connection).

The media node is another engineer's work: :class:`SocketReceivers` here is a small real one (UDP socket, TCP
listener, TCP connect) that counts the RTP packets that arrive and the SSRCs they carry. The simulator's media
sender is plugged through its ``sender_factory``: :class:`PacketSender` sends small RTP packets (RFC 4571 framed
over TCP), so these tests are about signalling and do not depend on the video encoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine

from xueliang.domain.streams import (
    DeviceOfflineError,
    DeviceRefusedError,
    MediaTransport,
    PlaySource,
    ReceiverAddress,
    ReceiverSpec,
    SourceKind,
    StreamLimitError,
)
from xueliang.protocol import manscdp
from xueliang.protocol.sdp import Direction, Sdp, Setup
from xueliang.protocol.sip import NameAddr, Request, Response, SipUri, make_response
from xueliang.signaling.service import SignalingService
from xueliang.sim.channels import channel
from xueliang.sim.config import SimConfig, Transport
from xueliang.sim.devices import DeviceSimulator
from xueliang.sim.invite import SenderLike

from .conftest import DOMAIN, PASSWORD, PLATFORM_ID, ScriptedDevice

pytestmark = pytest.mark.anyio

RTP_HEADER = struct.Struct("!BBHII")
DEVICE_ID = "34150200001320000001"
CHANNEL_ID = "34150200001310000001"


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: these tests are about signalling; the store's own tests run on both databases."""
    import shutil

    from xueliang.store.db import create_db_engine

    path = tmp_path / "xueliang.db"
    shutil.copyfile(sqlite_template, path)
    built = create_db_engine(f"sqlite:///{path}")
    yield built
    built.dispose()


# --- a small real media node ---------------------------------------------------------------------------------
class _Count(asyncio.DatagramProtocol):
    def __init__(self, owner: Receiver) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.owner.packet(data)


class Receiver:
    """One stream's receiver: counts RTP packets and their SSRCs."""

    def __init__(self, spec: ReceiverSpec) -> None:
        self.spec = spec
        self.ssrc = spec.ssrc
        self.packets = 0
        self.ssrcs: set[int] = set()
        self.closed = False
        self.udp: asyncio.DatagramTransport | None = None
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    def packet(self, data: bytes) -> None:
        if len(data) >= RTP_HEADER.size:
            self.packets += 1
            self.ssrcs.add(RTP_HEADER.unpack_from(data)[4])

    async def read_framed(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                self.packet(await reader.readexactly(length))

    async def close(self) -> None:
        self.closed = True
        if self.udp is not None:
            self.udp.close()
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()


class SocketReceivers:
    """``MediaReceivers`` over real loopback sockets (see the module docstring)."""

    def __init__(self) -> None:
        self.receivers: dict[str, Receiver] = {}
        self.calls: list[tuple[str, object]] = []

    async def open_receiver(self, spec: ReceiverSpec) -> ReceiverAddress:
        self.calls.append(("open", spec))
        receiver = self.receivers[spec.stream_id] = Receiver(spec)
        loop = asyncio.get_running_loop()
        if spec.transport is MediaTransport.UDP:
            receiver.udp, _ = await loop.create_datagram_endpoint(lambda: _Count(receiver), local_addr=("127.0.0.1", 0))
            return ReceiverAddress("127.0.0.1", receiver.udp.get_extra_info("sockname")[1])
        if spec.transport is MediaTransport.TCP_PASSIVE:
            receiver.server = await asyncio.start_server(receiver.read_framed, "127.0.0.1", 0)
            return ReceiverAddress("127.0.0.1", receiver.server.sockets[0].getsockname()[1])
        return ReceiverAddress("127.0.0.1", 9)  # TCP active: we connect; the offer's port is a placeholder

    async def set_ssrc(self, stream_id: str, ssrc: int) -> None:
        self.calls.append(("set_ssrc", ssrc))
        self.receivers[stream_id].ssrc = ssrc

    async def connect_active(self, stream_id: str, host: str, port: int) -> None:
        self.calls.append(("connect_active", (host, port)))
        receiver = self.receivers[stream_id]

        async def connect() -> None:
            for _attempt in range(50):
                try:
                    reader, writer = await asyncio.open_connection(host, port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                await receiver.read_framed(reader, writer)
                return

        receiver.tasks.append(asyncio.get_running_loop().create_task(connect()))

    async def close_receiver(self, stream_id: str) -> None:
        self.calls.append(("close", stream_id))
        receiver = self.receivers.get(stream_id)
        if receiver is not None:
            await receiver.close()


# --- a small media sender for the simulator --------------------------------------------------------------------
class PacketSender:
    """Sends an RTP packet every 20 ms with the negotiated SSRC; ``ended`` when the TCP peer goes away."""

    instances: ClassVar[list[PacketSender]] = []

    def __init__(self, transport: MediaTransport, ssrc: int, local_host: str, label: str = "") -> None:
        self.transport, self.ssrc, self.local_host, self.label = transport, ssrc, local_host, label
        self.ended = asyncio.Event()
        self.stopped = False
        self.sent = 0
        self.keyframes_requested = 0
        self.remote: tuple[str, int] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._accepted: asyncio.Future[asyncio.StreamWriter] | None = None
        self._task: asyncio.Task[None] | None = None
        PacketSender.instances.append(self)

    def request_keyframe(self) -> None:
        self.keyframes_requested += 1

    async def prepare(self) -> int:
        loop = asyncio.get_running_loop()
        if self.transport is MediaTransport.TCP_ACTIVE:
            self._accepted = loop.create_future()
            accepted = self._accepted

            async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if not accepted.done():
                    accepted.set_result(writer)

            self._server = await asyncio.start_server(accept, self.local_host, 0)
            return int(self._server.sockets[0].getsockname()[1])
        self._udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(self.local_host, 0))
        return int(self._udp.get_extra_info("sockname")[1])

    def packet(self, sequence: int) -> bytes:
        return RTP_HEADER.pack(0x80, 96, sequence & 0xFFFF, sequence * 3600, self.ssrc) + b"\x00" * 100

    async def start(self, remote_host: str, remote_port: int) -> None:
        self.remote = (remote_host, remote_port)
        self._task = asyncio.get_running_loop().create_task(self._run(remote_host, remote_port))

    async def _run(self, host: str, port: int) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            if self.transport is MediaTransport.TCP_PASSIVE:
                _reader, writer = await asyncio.open_connection(host, port)
            elif self.transport is MediaTransport.TCP_ACTIVE:
                assert self._accepted is not None
                writer = await self._accepted
            sequence = 0
            while not self.stopped:
                packet = self.packet(sequence)
                if writer is not None:
                    writer.write(struct.pack("!H", len(packet)) + packet)
                    await writer.drain()
                else:
                    assert self._udp is not None
                    self._udp.sendto(packet, (host, port))
                self.sent += 1
                sequence += 1
                await asyncio.sleep(0.02)
        except (OSError, ConnectionError):
            self.ended.set()

    def end(self) -> None:
        """The peer went away (what a closed TCP connection looks like to the real sender)."""
        self.ended.set()

    async def stop(self) -> None:
        self.stopped = True
        if self._task is not None:
            self._task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()


def packet_sender(transport: MediaTransport, ssrc: int, local_host: str, label: str) -> SenderLike:
    return PacketSender(transport, ssrc, local_host, label)


# --- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture
async def simulate() -> AsyncIterator[Callable[..., Any]]:
    running: list[DeviceSimulator] = []
    PacketSender.instances.clear()

    async def start(service: SignalingService, **fields: Any) -> DeviceSimulator:
        host, port = service.address
        config = SimConfig(server_host=host, server_port=port, server_id=PLATFORM_ID, password=PASSWORD, **fields)
        simulator = DeviceSimulator(config, sender_factory=packet_sender)
        await simulator.start()
        running.append(simulator)
        await simulator.wait_registered(timeout=15)
        return simulator

    yield start
    for simulator in running:
        await simulator.stop()


async def until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := check()):
            await asyncio.sleep(0.02)
        return result


def source_for(device_id: str, channel_id: str, transport: MediaTransport = MediaTransport.UDP, **kw: Any) -> Any:
    return PlaySource(
        camera_id="cam-1",
        kind=SourceKind.GB28181,
        device_id=device_id,
        channel_id=channel_id,
        transport=transport,
        **kw,
    )


# --- against the simulator -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("link", "media"),
    [
        (Transport.UDP, MediaTransport.UDP),
        (Transport.UDP, MediaTransport.TCP_PASSIVE),
        (Transport.TCP, MediaTransport.TCP_ACTIVE),
        (Transport.TCP, MediaTransport.UDP),
    ],
)
async def test_play_and_stop_against_the_simulator(
    start_service: Callable[..., Any], simulate: Callable[..., Any], link: Transport, media: MediaTransport
) -> None:
    service: SignalingService = await start_service()
    simulator = await simulate(service, transport=link)
    device_id = simulator.device_ids[0]
    channel_id = simulator.devices[device_id].channel_ids()[0]
    session = service.presence.get(device_id)
    assert session is not None and session.peer.transport == link.value  # a TCP device is INVITEd on its link
    receivers = SocketReceivers()
    ended: list[str] = []
    opener = service.source_opener()

    handle = await opener.open(source_for(device_id, channel_id, media), receivers, ended.append)

    receiver = receivers.receivers["cam-1-0"]
    allocated = receiver.spec.ssrc
    assert allocated is not None and f"{allocated:010d}".startswith("0" + DOMAIN[3:8])
    assert not receiver.spec.dedicated_port
    await until(lambda: receiver.packets >= 5)
    assert receiver.ssrcs == {allocated}  # the device echoed our y=
    assert ("set_ssrc", allocated) not in receivers.calls
    assert service.ssrcs.in_use() == 1
    sender = PacketSender.instances[-1]
    assert sender.transport is media
    await until(lambda: sender.keyframes_requested == 1)  # the IFameCmd after the ACK reached the stream
    assert service.metrics["play_keyframe_requests"] == 1
    catalog_name = channel(simulator.devices[device_id], channel_id)
    assert catalog_name is not None and sender.label == catalog_name.name  # burnt into the channel's video
    if media is MediaTransport.TCP_ACTIVE:
        assert receivers.calls[1][0] == "connect_active"

    await handle.close()
    await handle.close()  # idempotent

    await until(lambda: not simulator.invites.calls and sender.stopped)
    assert simulator.invites.stats["byes_in"] == 1
    assert receiver.closed and service.ssrcs.in_use() == 0 and service.ssrcs.held() == 1
    assert ended == []
    assert service.metrics["byes_out"] == 1 and service.metrics["invites_answered"] == 1


async def test_device_bye_ends_the_stream(start_service: Callable[..., Any], simulate: Callable[..., Any]) -> None:
    service: SignalingService = await start_service()
    simulator = await simulate(service)
    device_id = simulator.device_ids[0]
    channel_id = simulator.devices[device_id].channel_ids()[0]
    receivers = SocketReceivers()
    ended: list[str] = []
    handle = await service.source_opener().open(source_for(device_id, channel_id), receivers, ended.append)
    await until(lambda: receivers.receivers["cam-1-0"].packets > 0)

    PacketSender.instances[-1].end()  # the sender's peer went away: the device hangs up

    await until(lambda: ended)
    assert "device ended the stream" in ended[0]
    assert service.metrics["byes_in"] == 1 and not service.invites.dialogs
    await handle.close()  # the manager closes the handle: no BYE to a dialog the device ended
    assert service.metrics["byes_out"] == 0
    assert receivers.receivers["cam-1-0"].closed and service.ssrcs.in_use() == 0


async def test_simulator_refusals_and_stream_limits(
    start_service: Callable[..., Any], simulate: Callable[..., Any]
) -> None:
    service: SignalingService = await start_service()
    busy = await simulate(service, max_streams=1, channels=2, first_serial=1)
    refusing = await simulate(service, refuse_invite=403, first_serial=50)
    opener = service.source_opener()
    receivers = SocketReceivers()
    device_id = busy.device_ids[0]
    first, second = busy.devices[device_id].channel_ids()[:2]
    handle = await opener.open(source_for(device_id, first), receivers, lambda reason: None)
    with pytest.raises(DeviceRefusedError) as refused:
        await opener.open(source_for(device_id, second), receivers, lambda reason: None)
    assert refused.value.sip_status == 486 and "busy" in refused.value.reason
    with pytest.raises(DeviceRefusedError) as refused:
        await opener.open(source_for(device_id, CHANNEL_ID[:-1] + "9"), receivers, lambda reason: None)
    assert refused.value.sip_status == 404
    other = refusing.device_ids[0]
    with pytest.raises(DeviceRefusedError) as refused:
        await opener.open(source_for(other, refusing.devices[other].channel_ids()[0]), receivers, lambda r: None)
    assert refused.value.sip_status == 403
    # the platform's own per-device limit, before any INVITE
    with pytest.raises(StreamLimitError):
        await opener.open(source_for(device_id, second, max_streams=1), receivers, lambda reason: None)
    await handle.close()
    assert service.ssrcs.in_use() == 0
    assert all(receiver.closed for receiver in receivers.receivers.values())


async def test_offline_device(start_service: Callable[..., Any]) -> None:
    service: SignalingService = await start_service()
    receivers = SocketReceivers()
    with pytest.raises(DeviceOfflineError) as offline:
        await service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, lambda reason: None)
    assert "device offline" in offline.value.reason and receivers.calls == []


# --- against a scripted device -------------------------------------------------------------------------------
async def scripted(start_service: Callable[..., Any], devices: Callable[..., Any], transport: str = "udp", **kw: Any):  # type: ignore[no-untyped-def]
    service: SignalingService = await start_service(**kw)
    device: ScriptedDevice = await devices(DEVICE_ID, service.address, transport)
    assert (await device.register()).status_code == 200
    return service, device


def answer_sdp(offer: Sdp, *, port: int = 40000, ssrc: int | None = None, setup: Setup | None = None) -> bytes:
    answer = Sdp(
        origin_user=CHANNEL_ID,
        origin_host="127.0.0.1",
        connection_host="127.0.0.1",
        port=port,
        protocol=offer.protocol,
        direction=Direction.SENDONLY,
        setup=setup,
        ssrc=offer.ssrc if ssrc is None else ssrc,
        media_description="",
    )
    return bytes(answer)


def ok(invite: Request, body: bytes, tag: str = "devtag") -> bytes:
    contact = NameAddr(uri=SipUri(host="127.0.0.1", user=CHANNEL_ID, port=5099))
    response = make_response(
        invite, 200, to_tag=tag, headers=(("Contact", str(contact)), ("Content-Type", "application/sdp")), body=body
    )
    return bytes(response)


async def test_scripted_answer_with_another_ssrc_and_tcp_active(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service, device = await scripted(start_service, devices, "tcp")
    receivers = SocketReceivers()
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    task = asyncio.create_task(
        service.source_opener().open(
            source_for(DEVICE_ID, CHANNEL_ID, MediaTransport.TCP_ACTIVE, ssrc_check=False), receivers, lambda r: None
        )
    )
    invite = await device.next_request("INVITE")
    assert str(invite.uri) == f"sip:{CHANNEL_ID}@{CHANNEL_ID[:10]}"
    assert invite.subject == f"{CHANNEL_ID}:0,{PLATFORM_ID}:0"
    assert invite.media_type == "application/sdp"
    offer = Sdp.parse(invite.body)
    assert offer.tcp and offer.setup is Setup.ACTIVE and offer.direction is Direction.RECVONLY
    device.answer(invite, 100)
    device.answer(invite, 180)
    device.send_bytes(ok(invite, answer_sdp(offer, port=port, ssrc=1234567890, setup=Setup.PASSIVE)))
    ack = await device.next_request("ACK")
    assert ack.call_id == invite.call_id and ack.to.tag == "devtag" and ack.cseq.number == invite.cseq.number
    assert ack.uri.port == 5099  # to the Contact of the 200
    handle = await task
    assert ("set_ssrc", 1234567890) in receivers.calls
    assert ("connect_active", ("127.0.0.1", port)) in receivers.calls
    assert receivers.receivers["cam-1-0"].spec.dedicated_port  # SSRC check off: a port of its own
    assert service.metrics["invite_180"] == 1
    closing = asyncio.create_task(handle.close())
    bye = await device.next_request("BYE")
    assert bye.call_id == invite.call_id and bye.from_.tag == invite.from_.tag and bye.to.tag == "devtag"
    assert bye.cseq.number == invite.cseq.number + 1
    device.answer(bye, 200)
    await closing
    listener.close()


@pytest.mark.parametrize(("status", "words"), [(486, "busy"), (488, "Not Acceptable"), (500, "500")])
async def test_scripted_refusals(
    start_service: Callable[..., Any], devices: Callable[..., Any], status: int, words: str
) -> None:
    service, device = await scripted(start_service, devices)
    receivers = SocketReceivers()
    task = asyncio.create_task(service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, print))
    invite = await device.next_request("INVITE")
    device.answer(invite, status, to_tag="x")
    with pytest.raises(DeviceRefusedError) as refused:
        await task
    assert refused.value.sip_status == status and words in refused.value.reason
    ack = await device.next_request("ACK")  # the transaction ACKs a 3xx-6xx
    assert ack.via.branch == invite.via.branch
    assert receivers.receivers["cam-1-0"].closed and service.ssrcs.in_use() == 0


async def test_timeout_cancels(start_service: Callable[..., Any], devices: Callable[..., Any]) -> None:
    service, device = await scripted(start_service, devices, invite_timeout=0.5)
    receivers = SocketReceivers()
    task = asyncio.create_task(service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, print))
    invite = await device.next_request("INVITE")
    device.answer(invite, 100)
    with pytest.raises(DeviceRefusedError) as refused:
        await task
    assert refused.value.sip_status == 408 and "did not answer" in refused.value.reason
    cancel = await device.next_request("CANCEL")
    assert cancel.via.branch == invite.via.branch and cancel.cseq.number == invite.cseq.number
    device.answer(cancel, 200)
    device.answer(invite, 487, to_tag="x")
    await device.next_request("ACK")
    assert receivers.receivers["cam-1-0"].closed and service.ssrcs.in_use() == 0


async def test_caller_gives_up_and_a_late_200_is_ended(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service, device = await scripted(start_service, devices)
    receivers = SocketReceivers()
    task = asyncio.create_task(service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, print))
    invite = await device.next_request("INVITE")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel = await device.next_request("CANCEL")
    device.answer(cancel, 200)
    device.send_bytes(ok(invite, answer_sdp(Sdp.parse(invite.body))))  # the 200 crossed the CANCEL
    await device.next_request("ACK")
    bye = await device.next_request("BYE")
    device.answer(bye, 200)
    assert service.metrics["late_2xx_ended"] == 1
    assert receivers.receivers["cam-1-0"].closed and service.ssrcs.in_use() == 0


async def test_unreadable_answer_is_acked_and_ended(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service, device = await scripted(start_service, devices)
    receivers = SocketReceivers()
    task = asyncio.create_task(service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, print))
    invite = await device.next_request("INVITE")
    device.send_bytes(ok(invite, b"v=0\r\nm=video banana RTP/AVP 96\r\n"))
    await device.next_request("ACK")
    bye = await device.next_request("BYE")
    device.answer(bye, 200)
    with pytest.raises(DeviceRefusedError, match="unreadable SDP"):
        await task


async def test_retransmitted_200_is_acked_again_and_media_status_ends(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service, device = await scripted(start_service, devices)
    receivers = SocketReceivers()
    ended: list[str] = []
    task = asyncio.create_task(service.source_opener().open(source_for(DEVICE_ID, CHANNEL_ID), receivers, ended.append))
    invite = await device.next_request("INVITE")
    answer = ok(invite, answer_sdp(Sdp.parse(invite.body)))
    device.send_bytes(answer)
    first = await device.next_request("ACK")
    handle = await task
    device.send_bytes(answer)  # our ACK was "lost"
    second = await device.next_request("ACK")
    assert second.call_id == first.call_id and second.cseq == first.cseq
    # MediaStatus 121 in the dialog: 200, then our BYE
    body = manscdp.MediaStatus(sn=7, device_id=CHANNEL_ID).encode()
    status = device.request("MESSAGE", body=body)
    in_dialog = Request(
        method="MESSAGE",
        uri=status.uri,
        headers=status.headers.set("Call-ID", invite.call_id)
        .set("From", str(Response.parse(answer).to))
        .set("To", str(invite.from_)),
        body=body,
    )
    assert (await device.response_to(in_dialog)).status_code == 200
    bye = await device.next_request("BYE")
    device.answer(bye, 200)
    await until(lambda: ended)
    assert "MediaStatus 121" in ended[0]
    await handle.close()
    assert service.metrics["byes_out"] == 1 and service.ssrcs.in_use() == 0


async def test_unknown_bye_is_481(start_service: Callable[..., Any], devices: Callable[..., Any]) -> None:
    _service, device = await scripted(start_service, devices)
    assert (await device.response_to(device.request("BYE", new_call=True))).status_code == 481


@pytest.mark.parametrize(
    "media",
    [MediaTransport.UDP, MediaTransport.TCP_PASSIVE],
)
async def test_the_real_video_sender(start_service: Callable[..., Any], media: MediaTransport) -> None:
    """The simulator's own sender (PS over RTP of a PyAV-encoded H.264 loop): packets with our SSRC arrive."""
    service: SignalingService = await start_service()
    host, port = service.address
    config = SimConfig(
        server_host=host, server_port=port, server_id=PLATFORM_ID, password=PASSWORD, video_size=(320, 240)
    )
    async with DeviceSimulator(config) as simulator:
        await simulator.wait_registered(timeout=15)
        device_id = simulator.device_ids[0]
        channel_id = simulator.devices[device_id].channel_ids()[0]
        receivers = SocketReceivers()
        handle = await service.source_opener().open(source_for(device_id, channel_id, media), receivers, print)
        receiver = receivers.receivers["cam-1-0"]
        await until(lambda: receiver.packets >= 50, timeout=10)
        assert receiver.ssrcs == {receiver.spec.ssrc}
        await handle.close()
        await until(lambda: not simulator.invites.calls)
