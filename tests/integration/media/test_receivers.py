"""RTP receivers over real loopback sockets: PS over RTP from PyAV-encoded H.264, out as FLV that PyAV decodes.

UDP on the shared SSRC-keyed port (wrong SSRC and garbage dropped and counted), UDP on a dedicated port, TCP
passive (we listen) and TCP active (we connect, retrying until the device listens).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from pathlib import Path
from typing import Any

import pytest

from xueliang.domain.streams import MediaTransport, ReceiverSpec
from xueliang.media.hub import HubRegistry, StreamHub
from xueliang.media.receivers import ReceiverConfig, RtpReceivers
from xueliang.media.viewers import flv_stream
from xueliang.protocol.es import AccessUnit
from xueliang.protocol.rtp_tcp import frame_interleaved

pytestmark = pytest.mark.anyio

SSRC = 100000001
STREAM = "cam-0"


def _setup() -> tuple[RtpReceivers, StreamHub]:
    registry = HubRegistry()
    hub = StreamHub(STREAM, gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    registry.add(hub)
    config = ReceiverConfig(bind_host="127.0.0.1", port_min=41000, port_max=41999, mux_port=0)
    return RtpReceivers(config, registry), hub


async def _collect_flv(hub: StreamHub) -> tuple[asyncio.Task[bytes], asyncio.Event]:
    started = asyncio.Event()

    async def run() -> bytes:
        out = bytearray()
        async for chunk in flv_stream(hub):
            out += chunk
            started.set()
        return bytes(out)

    task = asyncio.create_task(run())
    await asyncio.wait_for(started.wait(), 2)  # the header is out: the viewer is registered
    return task, started


async def _wait_units(hub: StreamHub, count: int, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while hub.units_in < count:
            await asyncio.sleep(0.02)


async def _flv_frames(kit: Any, hub: StreamHub, task: asyncio.Task[bytes], tmp_path: Path) -> list[Any]:
    hub.end("test over")
    data = await asyncio.wait_for(task, 5)
    path = tmp_path / "out.flv"
    path.write_bytes(data)
    frames: list[tuple[int, int, float]] = kit.decode_file(path)
    return frames


def _assert_decodes(frames: list[tuple[int, int, float]], units: list[AccessUnit]) -> None:
    assert len(frames) >= len(units) - 1
    assert {(w, h) for w, h, _ in frames} == {(320, 240)}
    times = [t for _, _, t in frames]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] == pytest.approx((len(frames) - 1) / 25, abs=0.05)


async def test_udp_shared_port_routes_by_ssrc_and_drops_strangers(
    kit: Any, h264_units: list[AccessUnit], tmp_path: Path
) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.UDP, SSRC))
    assert address.host == "127.0.0.1" and address.port == receivers.mux_port
    task, _ = await _collect_flv(hub)
    stranger = kit.rtp_packets(h264_units[:10], ssrc=SSRC + 1)
    garbage = [[b"\x80\x60\x00", b"\xff" * 40, b"\x40\x60\x00\x01" + b"\x00" * 4 + SSRC.to_bytes(4, "big")]]
    await kit.send_udp(address.port, stranger + garbage)
    await kit.send_udp(address.port, kit.rtp_packets(h264_units, ssrc=SSRC))
    await _wait_units(hub, len(h264_units) - 1)
    assert receivers.unknown_ssrc == sum(len(p) for p in stranger) + 1  # 0x00ff.. routes nowhere either
    assert receivers.bad_packets == 1  # shorter than an RTP header
    ingest = receivers.ingest(STREAM)
    assert ingest is not None and ingest.bad_packets == 1  # right SSRC, broken header
    stats = ingest.stats()
    assert stats.last_ssrc == SSRC and stats.packets > len(h264_units)
    _assert_decodes(await _flv_frames(kit, hub, task, tmp_path), h264_units)
    await receivers.close_receiver(STREAM)
    await receivers.close_receiver(STREAM)  # idempotent
    await receivers.close()


async def test_udp_dedicated_port_takes_any_ssrc_unless_checked(
    kit: Any, h264_units: list[AccessUnit], tmp_path: Path
) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.UDP, SSRC, dedicated_port=True))
    assert 41000 <= address.port <= 41999 and address.port != receivers.mux_port
    task, _ = await _collect_flv(hub)
    await kit.send_udp(address.port, kit.rtp_packets(h264_units, ssrc=SSRC + 7))  # a device ignoring y=
    await _wait_units(hub, len(h264_units) - 1)
    _assert_decodes(await _flv_frames(kit, hub, task, tmp_path), h264_units)
    receivers.set_ssrc_check(STREAM, True)
    await kit.send_udp(address.port, kit.rtp_packets(h264_units[:5], ssrc=SSRC + 7))
    ingest = receivers.ingest(STREAM)
    assert ingest is not None
    async with asyncio.timeout(2):
        while ingest.wrong_ssrc < 5:
            await asyncio.sleep(0.02)
    await receivers.close()


async def test_set_ssrc_moves_the_shared_port_route(kit: Any, h264_units: list[AccessUnit]) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.UDP, SSRC))
    await receivers.set_ssrc(STREAM, SSRC + 5)  # the device answered another y=
    await kit.send_udp(address.port, kit.rtp_packets(h264_units[:10], ssrc=SSRC + 5))
    await _wait_units(hub, 9)
    await receivers.close()


async def test_tcp_passive_rfc4571(kit: Any, h264_units: list[AccessUnit], tmp_path: Path) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.TCP_PASSIVE, SSRC))
    task, _ = await _collect_flv(hub)
    _reader, writer = await asyncio.open_connection(address.host, address.port)
    await kit.send_tcp(writer, kit.rtp_packets(h264_units, ssrc=SSRC))
    await _wait_units(hub, len(h264_units) - 1)
    writer.close()
    _assert_decodes(await _flv_frames(kit, hub, task, tmp_path), h264_units)
    await receivers.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(address.host, address.port)  # closed receiver: nobody listens


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_tcp_active_connects_and_retries_until_the_device_listens(
    kit: Any, h264_units: list[AccessUnit], tmp_path: Path
) -> None:
    receivers, hub = _setup()
    await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.TCP_ACTIVE, SSRC))
    task, _ = await _collect_flv(hub)
    port = _free_port()
    connections = 0

    async def device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await kit.send_tcp(writer, kit.rtp_packets(h264_units, ssrc=SSRC))
        await reader.read()  # until the platform hangs up
        writer.close()

    loop = asyncio.get_running_loop()
    started = loop.time()
    await receivers.connect_active(STREAM, "127.0.0.1", port)  # nobody listens yet: refused, retried
    await asyncio.sleep(0.3)
    server = await asyncio.start_server(device, "127.0.0.1", port)
    await _wait_units(hub, len(h264_units) - 1)
    assert loop.time() - started >= 1.0  # the retry waited its second
    assert connections == 1
    _assert_decodes(await _flv_frames(kit, hub, task, tmp_path), h264_units)
    await receivers.close()
    server.close()


async def test_tcp_passive_rtsp_interleaving_and_one_connection_at_a_time(
    kit: Any, h264_units: list[AccessUnit], tmp_path: Path
) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.TCP_PASSIVE, SSRC))
    task, _ = await _collect_flv(hub)
    _, writer = await asyncio.open_connection(address.host, address.port)
    frames = kit.rtp_packets(h264_units, ssrc=SSRC)
    for packets in frames:
        rtcp = frame_interleaved(1, b"\x80\xc8\x00\x06" + b"\x00" * 24)  # RTCP on channel 1: ignored
        writer.write(b"".join(frame_interleaved(0, p) for p in packets) + rtcp)
        await writer.drain()
        if packets is frames[0]:
            intruder_reader, intruder = await asyncio.open_connection(address.host, address.port)
            assert await asyncio.wait_for(intruder_reader.read(), 2) == b""  # refused: the first one holds it
            intruder.close()
    await _wait_units(hub, len(h264_units) - 1)
    writer.close()
    _assert_decodes(await _flv_frames(kit, hub, task, tmp_path), h264_units)
    await receivers.close()


async def test_garbage_on_tcp_is_counted_and_the_device_can_reconnect(kit: Any, h264_units: list[AccessUnit]) -> None:
    receivers, hub = _setup()
    address = await receivers.open_receiver(ReceiverSpec(STREAM, MediaTransport.TCP_PASSIVE, SSRC))
    _, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(b"\x00\x05abc")  # a 5-byte "RTP packet" ...
    writer.write(b"\x00\x00" * 8)  # ... completed by two zeros, then empty frames
    await writer.drain()
    writer.close()
    _, writer = await asyncio.open_connection(address.host, address.port)  # the device reconnects
    await kit.send_tcp(writer, kit.rtp_packets(h264_units[:10], ssrc=SSRC))
    await _wait_units(hub, 9)
    ingest = receivers.ingest(STREAM)
    assert ingest is not None and ingest.bad_packets == 1
    writer.close()
    await receivers.close()


def test_advertised_host_prefers_config_then_bind_host_then_the_route() -> None:
    registry = HubRegistry()
    assert RtpReceivers(ReceiverConfig(advertise_host="203.0.113.9"), registry).advertised_host() == "203.0.113.9"
    assert RtpReceivers(ReceiverConfig(bind_host="127.0.0.1"), registry).advertised_host("10.1.1.1") == "127.0.0.1"
    wildcard = RtpReceivers(ReceiverConfig(bind_host="0.0.0.0"), registry)
    assert wildcard.advertised_host() == "127.0.0.1"  # facing 127.0.0.1: loopback
    assert wildcard.advertised_host("127.0.0.2") == "127.0.0.1"


async def test_flv_stream_ends_when_its_viewer_is_closed(h264_units: list[AccessUnit]) -> None:
    hub = StreamHub(STREAM, gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    for unit in h264_units[:5]:
        hub.push(unit)
    viewer = hub.add_viewer()
    chunks = flv_stream(hub, viewer=viewer)
    header = await chunks.__anext__()
    assert header.startswith(b"FLV")
    body = await chunks.__anext__()  # metadata, sequence header and the cached GOP
    assert len(body) > sum(len(u.data) for u in h264_units[:5]) // 2
    viewer.close("session ended")  # what the API's session closer does
    rest = [chunk async for chunk in chunks]
    assert len(b"".join(rest)) < 100  # at most the end-of-sequence tag
    assert hub.viewer_count == 0
