"""A stream's RTP input without sockets: counters for bad input, SSRC check, reordering, never a crash."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from xueliang.media.hub import HubRegistry, StreamHub
from xueliang.media.ingest import RtpIngest
from xueliang.protocol.es import AccessUnit
from xueliang.protocol.h26x import iter_nal_units
from xueliang.protocol.ps import PsMuxer
from xueliang.protocol.rtp import RtpPacketizer

SSRC = 100000001


def _ingest(check: bool = True) -> tuple[RtpIngest, StreamHub]:
    registry = HubRegistry()
    hub = StreamHub("cam-0", gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    registry.add(hub)
    return RtpIngest("cam-0", SSRC, check_ssrc=check, hub_for=registry.get), hub


def _nals(unit: AccessUnit) -> list[bytes]:
    """The NAL units of a unit (the demuxer may write start codes differently from the encoder)."""
    return [bytes(nal) for nal in iter_nal_units(unit.data)]


def _packets(units: list[AccessUnit], ssrc: int = SSRC) -> list[bytes]:
    muxer, packetizer = PsMuxer(), RtpPacketizer(ssrc)
    return [p for unit in units for p in packetizer.packets(muxer.mux(unit), unit.pts)]


def test_units_reach_the_hub_even_when_packets_come_out_of_order(h264_units: list[AccessUnit]) -> None:
    ingest, hub = _ingest()
    packets = _packets(h264_units[:20])
    rng = random.Random(4)
    shuffled: list[bytes] = packets[:4]  # the buffer starts at the first packet it sees
    for start in range(4, len(packets), 4):  # then local reordering, as UDP does it
        window = packets[start : start + 4]
        rng.shuffle(window)
        shuffled += window
    viewer = hub.add_viewer()
    for packet in shuffled:
        ingest.feed(packet)
    got = []
    while (unit := viewer.get_nowait()) is not None:
        got.append(unit)
    assert len(got) >= 19  # the last one may wait for the next to start
    assert [(u.pts, _nals(u)) for u in got] == [(u.pts, _nals(u)) for u in h264_units[: len(got)]]


def test_wrong_ssrc_is_counted_unless_the_check_is_off(h264_units: list[AccessUnit]) -> None:
    ingest, hub = _ingest()
    for packet in _packets(h264_units[:5], ssrc=SSRC + 1):
        ingest.feed(packet)
    assert ingest.wrong_ssrc > 0 and ingest.packets == 0 and hub.units_in == 0
    relaxed, hub = _ingest(check=False)
    for packet in _packets(h264_units[:5], ssrc=SSRC + 1):
        relaxed.feed(packet)
    assert relaxed.wrong_ssrc == 0 and hub.units_in == 5  # the marker bit ends each frame


def test_no_hub_yet_is_counted(h264_units: list[AccessUnit]) -> None:
    ingest = RtpIngest("cam-0", SSRC, check_ssrc=True, hub_for=lambda _: None)
    for packet in _packets(h264_units[:5]):
        ingest.feed(packet)
    assert ingest.no_hub == 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=1500), max_size=30))
def test_garbage_never_crashes(datagrams: list[bytes]) -> None:
    ingest, _ = _ingest(check=False)
    for data in datagrams:
        ingest.feed(data)
    header = b"\x80\x60\x00\x01" + b"\x00" * 4 + SSRC.to_bytes(4, "big")
    for data in datagrams:  # valid RTP around garbage PS
        ingest.feed(header + data)
    stats = ingest.stats()
    assert stats.packets + stats.bad_packets + stats.wrong_ssrc >= len(datagrams)
