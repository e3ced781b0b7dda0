"""RTP packets: round trips, every length check with its exact message, sequence wrap-around, the reorder
buffer with loss, reordering, duplicates and a restarted sender, and the packetizer."""

from __future__ import annotations

import random
import struct

import pytest

from xueliang.protocol.rtp import (
    ReorderBuffer,
    RtpError,
    RtpPacket,
    RtpPacketizer,
    SequenceUnwrapper,
    Unwrapper,
    packetize,
)

PACKETS = [
    RtpPacket(96, 0, 0, 0),
    RtpPacket(96, 65535, 2**32 - 1, 2**32 - 1, marker=True, payload=b"\x00\x00\x01\xba" + bytes(100)),
    RtpPacket(8, 1234, 5678, 0x3B9ACA01, payload=b"abc", csrcs=(1, 2, 3)),
    RtpPacket(100, 7, 9, 11, payload=b"x", extension=b"\xbe\xde" + bytes(8)),
    RtpPacket(127, 7, 9, 11, marker=True, csrcs=tuple(range(15)), extension=b"\x10\x00"),
]


@pytest.mark.parametrize("packet", PACKETS)
def test_round_trip(packet: RtpPacket) -> None:
    data = bytes(packet)
    assert RtpPacket.parse(data) == packet
    assert RtpPacket.parse(memoryview(data)) == packet
    assert bytes(RtpPacket.parse(data)) == data


def test_known_bytes() -> None:
    data = bytes.fromhex("80e0 0102 00000064 3b9aca01") + b"PS"
    packet = RtpPacket.parse(data)
    assert packet == RtpPacket(96, 0x0102, 100, 0x3B9ACA01, marker=True, payload=b"PS")


def test_padding_is_removed() -> None:
    data = bytes.fromhex("a060 0001 00000002 00000003") + b"pay" + b"\x00\x00\x03"
    assert RtpPacket.parse(data).payload == b"pay"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet too short: 0 bytes, header needs 12"),
        (bytes.fromhex("8060 0001 00000002 000000"), "RTP packet too short: 11 bytes, header needs 12"),
        (bytes.fromhex("4060 0001 00000002 00000003"), "RTP version 1, expected 2"),
        (bytes.fromhex("8260 0001 00000002 00000003 00000001"), "RTP packet too short for 2 CSRCs: 16 bytes"),
        (bytes.fromhex("9060 0001 00000002 00000003 bede"), "RTP packet too short for its extension header: 14 bytes"),
        (
            bytes.fromhex("9060 0001 00000002 00000003 bede0002 00000000"),
            "RTP extension of 8 bytes overruns the packet (20 bytes)",
        ),
        (bytes.fromhex("a060 0001 00000002 00000003"), "RTP padding bit set but no padding length byte"),
        (
            bytes.fromhex("a060 0001 00000002 00000003 0000 05"),
            "RTP padding of 5 bytes invalid for 3 bytes after the header",
        ),
        (
            bytes.fromhex("a060 0001 00000002 00000003 00"),
            "RTP padding of 0 bytes invalid for 1 bytes after the header",
        ),
    ],
)
def test_length_checks(data: bytes, message: str) -> None:
    with pytest.raises(RtpError) as caught:
        RtpPacket.parse(data)
    assert str(caught.value) == message


def test_every_truncation_of_a_packet_with_csrcs_and_extension_raises_rtp_error() -> None:
    data = bytes(PACKETS[4])  # header, 15 CSRCs, an empty extension: every shorter prefix is incomplete
    for end in range(len(data)):
        with pytest.raises(RtpError):
            RtpPacket.parse(data[:end])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"payload_type": 128}, "payload type 128 out of range 0..127"),
        ({"sequence": 65536}, "sequence 65536 out of range 0..65535"),
        ({"timestamp": -1}, "timestamp -1 out of range 0..2**32-1"),
        ({"ssrc": 2**32}, "ssrc 4294967296 out of range 0..2**32-1"),
        ({"csrcs": tuple(range(16))}, "16 CSRCs, at most 15"),
        ({"extension": b"\x00\x00\x01"}, "extension must be a 2-byte profile id and a multiple of 4 bytes of data"),
    ],
)
def test_invalid_packets_cannot_be_built(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"payload_type": 96, "sequence": 0, "timestamp": 0, "ssrc": 0}
    with pytest.raises(RtpError) as caught:
        RtpPacket(**{**base, **fields})  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_sequence_unwrapper_crosses_the_wrap_both_ways() -> None:
    unwrapper = SequenceUnwrapper()
    values = [65533, 65534, 65535, 0, 1, 65535, 2, 3]
    assert [unwrapper.unwrap(v) for v in values] == [65533, 65534, 65535, 65536, 65537, 65535, 65538, 65539]
    many = SequenceUnwrapper()
    assert [many.unwrap(i % 65536) for i in range(0, 300_000, 1000)] == list(range(0, 300_000, 1000))


def test_unwrapper_33_bits() -> None:
    unwrapper = Unwrapper(33)
    assert unwrapper.unwrap(2**33 - 3600) == 2**33 - 3600
    assert unwrapper.unwrap(0) == 2**33
    assert unwrapper.unwrap(3600) == 2**33 + 3600


def packet(sequence: int) -> RtpPacket:
    return RtpPacket(96, sequence % 65536, 0, 1, payload=struct.pack("!I", sequence))


def numbers(packets: list[RtpPacket]) -> list[int]:
    return [struct.unpack("!I", p.payload)[0] for p in packets]


def test_reorder_buffer_in_order_passes_straight_through() -> None:
    buffer = ReorderBuffer(4)
    for seq in range(65530, 65545):
        assert numbers(buffer.push(packet(seq))) == [seq]
    assert (buffer.lost, buffer.late, buffer.duplicates) == (0, 0, 0)


def test_reorder_buffer_restores_order_across_the_wrap() -> None:
    buffer = ReorderBuffer(8)
    order = [65534, 65535, 1, 0, 3, 2, 4]
    released = [n for seq in order for n in numbers(buffer.push(packet(seq)))]
    assert released == [65534, 65535, 0, 1, 2, 3, 4]
    assert buffer.lost == 0


def test_reorder_buffer_skips_a_gap_after_capacity_packets() -> None:
    buffer = ReorderBuffer(3)
    assert numbers(buffer.push(packet(10))) == [10]
    assert buffer.push(packet(12)) == []
    assert buffer.push(packet(13)) == []
    assert numbers(buffer.push(packet(14))) == [12, 13, 14]
    assert buffer.lost == 1
    assert buffer.push(packet(11)) == []  # too late now
    assert buffer.late == 1
    assert numbers(buffer.push(packet(15))) == [15]


def test_reorder_buffer_duplicates_and_flush() -> None:
    buffer = ReorderBuffer(10)
    buffer.push(packet(1))
    assert buffer.push(packet(1)) == []  # behind: late
    buffer.push(packet(3))
    assert buffer.push(packet(3)) == []
    assert buffer.duplicates == 1
    buffer.push(packet(6))
    assert numbers(buffer.flush()) == [3, 6]
    assert buffer.lost == 3


def test_reorder_buffer_follows_a_sender_that_restarted_its_sequence() -> None:
    buffer = ReorderBuffer(4)
    for seq in range(40000, 40010):
        buffer.push(packet(seq))
    # 30000 is 10000 behind: late, late, ... until capacity late packets in a row say the sender restarted
    released = [n for seq in range(30000, 30020) for n in numbers(buffer.push(packet(seq)))]
    assert buffer.resets == 1
    assert released == list(range(30004, 30020))


def test_reorder_buffer_random_shuffle_within_capacity_loses_nothing() -> None:
    rng = random.Random(4)
    sequence = list(range(60000, 60000 + 2000))
    shuffled: list[int] = []
    for start in range(0, len(sequence), 8):  # the first packet must come first: it sets where the stream starts
        window = sequence[start : start + 8]
        if start:
            rng.shuffle(window)
        shuffled.extend(window)
    buffer = ReorderBuffer(16)
    released = [n for seq in shuffled for n in numbers(buffer.push(packet(seq)))]
    assert released == sequence
    assert buffer.lost == 0


def test_reorder_capacity_must_be_positive() -> None:
    with pytest.raises(RtpError, match="reorder capacity must be at least 1, got 0"):
        ReorderBuffer(0)


def test_packetizer_splits_a_frame_with_one_timestamp_and_the_marker_on_the_last() -> None:
    packetizer = RtpPacketizer(0x3B9ACA01, max_payload=100, sequence=65534)
    frame = bytes(range(256)) * 2
    packets = [RtpPacket.parse(p) for p in packetizer.packets(frame, 2**32 + 5)]
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2, 3]
    assert {p.timestamp for p in packets} == {5}
    assert [p.marker for p in packets] == [False] * 5 + [True]
    assert b"".join(p.payload for p in packets) == frame
    assert all(len(p.payload) <= 100 for p in packets)
    assert packetizer.sequence == 4
    following = RtpPacket.parse(packetizer.packets(b"next", 6)[0])
    assert (following.sequence, following.marker) == (4, True)


def test_packetize_function_and_empty_frame() -> None:
    packets = packetize(b"", ssrc=1, sequence=9, timestamp=0, payload_type=98)
    assert [RtpPacket.parse(p) for p in packets] == [RtpPacket(98, 9, 0, 1, marker=True)]
    with pytest.raises(RtpError, match="max_payload must be positive"):
        packetize(b"x", ssrc=1, sequence=0, timestamp=0, max_payload=0)
