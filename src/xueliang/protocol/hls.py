"""HLS media playlists (RFC 8216) for live fMP4 streams: a pure function from segment entries to m3u8 text.

Version 7 because fMP4 segments need ``EXT-X-MAP`` in a media playlist without I-frames-only (RFC 8216 7).
The caller keeps the sliding window of segments; this module only writes it. A segment whose init segment differs
from the one before (the camera changed resolution) gets ``EXT-X-DISCONTINUITY`` and a new ``EXT-X-MAP``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PLAYLIST_VERSION", "PlaylistEntry", "live_playlist"]

PLAYLIST_VERSION = 7


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """One media segment as the playlist lists it; ``init_uri`` is the EXT-X-MAP it decodes with."""

    sequence: int
    duration_s: float
    uri: str
    init_uri: str = "init.mp4"

    def __post_init__(self) -> None:
        if self.sequence < 0 or self.duration_s < 0:
            raise ValueError(f"bad segment entry {self.sequence} / {self.duration_s}")
        for text in (self.uri, self.init_uri):
            if not text or any(char in text for char in '"\r\n'):
                raise ValueError(f"URI {text!r} cannot go in a playlist")


def live_playlist(entries: Sequence[PlaylistEntry], *, discontinuity_sequence: int = 0, ended: bool = False) -> str:
    """The playlist text for ``entries`` (consecutive sequence numbers, oldest first).

    EXT-X-TARGETDURATION is the longest segment rounded up (RFC 8216 4.3.3.1 demands that none exceed it);
    EXT-X-MEDIA-SEQUENCE is the first entry's sequence. ``discontinuity_sequence`` is the number of
    discontinuities that have slid out of the window (4.3.3.3); ``ended`` adds EXT-X-ENDLIST.
    """
    target = max((math.ceil(entry.duration_s) for entry in entries), default=1)
    first_sequence = entries[0].sequence if entries else 0
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{PLAYLIST_VERSION}",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        f"#EXT-X-MEDIA-SEQUENCE:{first_sequence}",
    ]
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    current_map: str | None = None
    for entry in entries:
        if entry.init_uri != current_map:
            if current_map is not None:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f'#EXT-X-MAP:URI="{entry.init_uri}"')
            current_map = entry.init_uri
        lines.append(f"#EXTINF:{entry.duration_s:.3f},")
        lines.append(entry.uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
