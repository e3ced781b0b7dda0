"""Live HLS playlist text, and a playlist of real fMP4 segments read back by ffprobe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import xueliang_test_clips as clips

from xueliang.protocol.es import Codec
from xueliang.protocol.fmp4 import SegmentBuilder
from xueliang.protocol.hls import PlaylistEntry, live_playlist


def test_live_playlist_text() -> None:
    entries = [
        PlaylistEntry(12, 2.0, "seg12.m4s", "init0.mp4"),
        PlaylistEntry(13, 2.44, "seg13.m4s", "init0.mp4"),
        PlaylistEntry(14, 1.2, "seg14.m4s", "init1.mp4"),
    ]
    assert live_playlist(entries, discontinuity_sequence=2) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:3\n"
        "#EXT-X-MEDIA-SEQUENCE:12\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-MAP:URI="init0.mp4"\n'
        "#EXTINF:2.000,\n"
        "seg12.m4s\n"
        "#EXTINF:2.440,\n"
        "seg13.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        '#EXT-X-MAP:URI="init1.mp4"\n'
        "#EXTINF:1.200,\n"
        "seg14.m4s\n"
    )


def test_empty_and_ended_playlists() -> None:
    empty = live_playlist([])
    assert "#EXT-X-TARGETDURATION:1\n" in empty and "#EXT-X-MEDIA-SEQUENCE:0\n" in empty and "#EXTINF" not in empty
    ended = live_playlist([PlaylistEntry(0, 0.5, "a.m4s")], ended=True)
    assert ended.endswith('#EXT-X-MAP:URI="init.mp4"\n#EXTINF:0.500,\na.m4s\n#EXT-X-ENDLIST\n')


@pytest.mark.parametrize("uri", ["", 'a"b', "a\nb"])
def test_unwritable_uris_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        PlaylistEntry(0, 1.0, uri)
    with pytest.raises(ValueError):
        PlaylistEntry(-1, 1.0, "a.m4s")


def test_playlist_of_real_segments_plays_in_ffprobe(tmp_path: Path) -> None:
    clip = clips.encode(Codec.H264, 320, 240, 75)
    builder = SegmentBuilder(1.0)
    segments = [segment for unit in clip.units if (segment := builder.push(unit))]
    (tmp_path / "init.mp4").write_bytes(builder.init_segment())
    entries = []
    for segment in segments:
        (tmp_path / f"{segment.sequence}.m4s").write_bytes(segment.data)
        entries.append(PlaylistEntry(segment.sequence, segment.duration_s, f"{segment.sequence}.m4s"))
    (tmp_path / "live.m3u8").write_text(live_playlist(entries, ended=True))
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", str(tmp_path / "live.m3u8")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    (stream,) = json.loads(result.stdout)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert int(stream["nb_read_frames"]) == 50  # two finished segments; the third is still open
