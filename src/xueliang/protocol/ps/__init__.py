"""MPEG-2 program stream (ISO/IEC 13818-1) as GB/T 28181 carries it over RTP: a demuxer and a muxer, sans-IO."""

from __future__ import annotations

from xueliang.protocol.ps.demux import PsDemuxer
from xueliang.protocol.ps.errors import PsError
from xueliang.protocol.ps.mux import PsMuxer

__all__ = ["PsDemuxer", "PsError", "PsMuxer"]
