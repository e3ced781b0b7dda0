"""One stream's RTP input, without sockets: SSRC check, counters, reordering, PS demux, into the hub.

The socket code (:mod:`xueliang.media.receivers`) hands every RTP packet of a stream to its :class:`RtpIngest`,
whatever the transport. Bad input costs a counter and a debug line: truncated or garbage RTP (``bad_packets``), a
packet from another SSRC (``wrong_ssrc``), PS the demuxer cannot use (its own ``errors``/``resyncs``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.media.hub import StreamHub
from xueliang.protocol.ps import PsDemuxer
from xueliang.protocol.rtp import ReorderBuffer, RtpError, RtpPacket

logger = logging.getLogger(__name__)

#: RTP packets held back to put reordered UDP packets right (about 40 ms of a 4 Mbit/s stream).
REORDER_CAPACITY = 32


@dataclass(frozen=True, slots=True)
class IngestStats:
    packets: int
    bytes: int
    bad_packets: int
    wrong_ssrc: int
    demux_errors: int
    demux_resyncs: int
    units: int
    last_ssrc: int | None


class RtpIngest:
    """RTP packets in, access units pushed to the stream's hub.

    ``ssrc``: the expected SSRC; ``check_ssrc`` off accepts any (devices that ignore the negotiated ``y=``).
    ``hub_for`` looks the hub up by stream id, so packets that arrive before the hub exists are not lost for good
    (the next packet finds it).
    """

    def __init__(
        self,
        stream_id: str,
        ssrc: int | None,
        *,
        check_ssrc: bool,
        hub_for: Callable[[str], StreamHub | None],
    ) -> None:
        self.stream_id = stream_id
        self.ssrc = ssrc
        self.check_ssrc = check_ssrc
        self._hub_for = hub_for
        self._reorder = ReorderBuffer(capacity=REORDER_CAPACITY)
        self._demuxer = PsDemuxer()
        self.packets = 0
        self.bytes = 0
        self.bad_packets = 0
        self.wrong_ssrc = 0
        self.units = 0
        self.no_hub = 0
        self.last_ssrc: int | None = None

    def feed(self, data: bytes) -> None:
        """One RTP packet as it came off the wire."""
        try:
            packet = RtpPacket.parse(data)
        except RtpError as exc:
            self.bad_packets += 1
            logger.debug("stream %s: bad RTP packet dropped: %s", self.stream_id, exc)
            return
        self.feed_packet(packet, len(data))

    def feed_packet(self, packet: RtpPacket, size: int) -> None:
        if self.check_ssrc and self.ssrc is not None and packet.ssrc != self.ssrc:
            self.wrong_ssrc += 1
            return
        self.packets += 1
        self.bytes += size
        self.last_ssrc = packet.ssrc
        for ordered in self._reorder.push(packet):
            self._demux(ordered.payload, ordered.timestamp, ordered.marker)

    def _demux(self, payload: bytes, timestamp: int, marker: bool) -> None:
        try:
            units = self._demuxer.feed(payload, timestamp, marker=marker)
        except ValueError as exc:  # the demuxer counts its own errors; this is a last line of defence
            self.bad_packets += 1
            logger.debug("stream %s: PS payload dropped: %s", self.stream_id, exc)
            return
        if not units:
            return
        hub = self._hub_for(self.stream_id)
        if hub is None:
            self.no_hub += len(units)
            return
        for unit in units:
            self.units += 1
            hub.push(unit)

    def stats(self) -> IngestStats:
        return IngestStats(
            packets=self.packets,
            bytes=self.bytes,
            bad_packets=self.bad_packets,
            wrong_ssrc=self.wrong_ssrc,
            demux_errors=self._demuxer.errors,
            demux_resyncs=self._demuxer.resyncs,
            units=self.units,
            last_ssrc=self.last_ssrc,
        )
