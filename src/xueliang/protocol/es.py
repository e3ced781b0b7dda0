"""Elementary-stream units: what the PS and RTSP inputs produce and the FLV, fMP4 and transcoding outputs consume.

An :class:`AccessUnit` is one coded picture (video, as an Annex B byte stream with start codes, parameter sets
included where the source sent them) or one audio frame, with 90 kHz timestamps. Everything between the media
node's receivers and its outputs speaks this type; nothing else crosses that seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: Every timestamp in this layer is in 90 kHz ticks (the RTP and PS clock), unwrapped to a monotonically growing
#: integer by the demuxer (33-bit PS timestamps wrap every 26.5 hours).
CLOCK_RATE = 90_000


class Codec(StrEnum):
    """Codecs the platform carries. Video codecs first; the values appear in the API (``GET /api/v1/streams``)."""

    H264 = "h264"
    H265 = "h265"
    G711A = "g711a"
    G711U = "g711u"
    AAC = "aac"

    @property
    def is_video(self) -> bool:
        return self in (Codec.H264, Codec.H265)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture or audio frame.

    ``data`` is Annex B (``00 00 00 01`` or ``00 00 01`` before each NAL unit) for video and the raw frame for
    audio (ADTS for AAC, A-law/µ-law bytes for G.711). ``keyframe`` is true for an IDR/IRAP picture; the demuxer
    sets it from the NAL unit types, not from the PS framing.
    """

    codec: Codec
    pts: int
    dts: int
    data: bytes
    keyframe: bool = False

    def __post_init__(self) -> None:
        if self.pts < 0 or self.dts < 0:
            raise ValueError(f"timestamps must be non-negative, got pts={self.pts} dts={self.dts}")
