"""RTP over TCP: RFC 4571 framing (GB/T 28181) and RTSP interleaving (RFC 2326 section 10.12, ``$ ch len``).

Sans-IO readers: feed whatever the socket gave, get whole packets back; a partial frame is kept for the next
``feed``. Each buffer is bounded by one maximal frame plus the bytes of a single ``feed``. A length beyond
``max_packet`` means the framing is lost (there is no way to find the next frame in RFC 4571): the reader raises
:class:`~xueliang.protocol.rtp.RtpError` and the connection should be closed. The RTSP reader skips anything that
is not a ``$`` frame (an interleaved RTSP response, or garbage) up to the next ``$`` and counts the bytes.
"""

from __future__ import annotations

import struct

from xueliang.protocol.rtp import RtpError

RFC4571_HEADER = 2
INTERLEAVED_HEADER = 4
INTERLEAVED_MAGIC = 0x24  # "$"
MAX_FRAME = 0xFFFF

_LENGTH = struct.Struct("!H")
_INTERLEAVED = struct.Struct("!BBH")


def frame_rfc4571(packet: bytes) -> bytes:
    """Prefix a packet with its 2-byte big-endian length (RFC 4571)."""
    if len(packet) > MAX_FRAME:
        raise RtpError(f"packet of {len(packet)} bytes does not fit RFC 4571 framing (max 65535)")
    return _LENGTH.pack(len(packet)) + packet


def frame_interleaved(channel: int, packet: bytes) -> bytes:
    """Prefix a packet with ``$``, the channel and the length (RTSP interleaving)."""
    if not 0 <= channel <= 0xFF:
        raise RtpError(f"interleaved channel {channel} out of range 0..255")
    if len(packet) > MAX_FRAME:
        raise RtpError(f"packet of {len(packet)} bytes does not fit interleaved framing (max 65535)")
    return _INTERLEAVED.pack(INTERLEAVED_MAGIC, channel, len(packet)) + packet


class Rfc4571Reader:
    """Splits an RFC 4571 byte stream into packets. Zero-length frames are skipped and counted in ``empty``."""

    __slots__ = ("_buffer", "empty", "max_packet")

    def __init__(self, max_packet: int = MAX_FRAME) -> None:
        if not 1 <= max_packet <= MAX_FRAME:
            raise RtpError(f"max_packet must be in 1..65535, got {max_packet}")
        self.max_packet = max_packet
        self.empty = 0
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        self._buffer += data
        buffer = self._buffer
        packets: list[bytes] = []
        offset = 0
        while len(buffer) - offset >= RFC4571_HEADER:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > self.max_packet:
                self._buffer = bytearray()
                raise RtpError(f"RFC 4571 frame of {length} bytes exceeds the limit of {self.max_packet}")
            end = offset + RFC4571_HEADER + length
            if end > len(buffer):
                break
            if length:
                packets.append(bytes(buffer[offset + RFC4571_HEADER : end]))
            else:
                self.empty += 1
            offset = end
        del buffer[:offset]
        return packets


class InterleavedReader:
    """Splits an RTSP interleaved stream into ``(channel, packet)`` pairs; non-``$`` bytes are skipped and counted
    in ``skipped`` (an RTSP message between frames is the caller's business only if it reads the control channel
    elsewhere; here it is noise)."""

    __slots__ = ("_buffer", "max_packet", "skipped")

    def __init__(self, max_packet: int = MAX_FRAME) -> None:
        if not 1 <= max_packet <= MAX_FRAME:
            raise RtpError(f"max_packet must be in 1..65535, got {max_packet}")
        self.max_packet = max_packet
        self.skipped = 0
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        self._buffer += data
        buffer = self._buffer
        frames: list[tuple[int, bytes]] = []
        offset = 0
        while offset < len(buffer):
            if buffer[offset] != INTERLEAVED_MAGIC:
                found = buffer.find(b"$", offset)
                next_offset = len(buffer) if found < 0 else found
                self.skipped += next_offset - offset
                offset = next_offset
                continue
            if len(buffer) - offset < INTERLEAVED_HEADER:
                break
            _, channel, length = _INTERLEAVED.unpack_from(buffer, offset)
            if length > self.max_packet:
                # Not a frame after all (a "$" inside an RTSP message): skip the "$" and look again.
                self.skipped += 1
                offset += 1
                continue
            end = offset + INTERLEAVED_HEADER + length
            if end > len(buffer):
                break
            frames.append((channel, bytes(buffer[offset + INTERLEAVED_HEADER : end])))
            offset = end
        del buffer[:offset]
        return frames
