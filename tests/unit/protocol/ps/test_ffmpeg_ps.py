"""PS made by ffmpeg (``-f vob``: MPEG-2 packs of 2 kB with frames spread over packs and PES holding the end of
one frame and the start of the next; ``-f mpeg``: MPEG-1 packs), verified with ffprobe, split at random RTP
boundaries: the demuxer finds the same frames with ffprobe's timestamps, and they decode. ffmpeg writes no PSM,
so the codec is sniffed."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from xueliang.protocol.es import Codec
from xueliang.protocol.ps import PsDemuxer

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="no ffmpeg")

CASES = {
    "h264-vob": (["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "10"], "vob", Codec.H264),
    "h265-vob": (
        ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=0:keyint=10:log-level=error"],
        "vob",
        Codec.H265,
    ),
    "h264-mpeg1": (["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "10"], "mpeg", Codec.H264),
    "h264-bframes-vob": (["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "10"], "vob", Codec.H264),
}


def ffprobe_packets(path: Path) -> list[tuple[int | None, int | None, bool]]:
    """(pts, dts, keyframe) per video packet; None where the PES carried no timestamp for the frame."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,dts,flags", "-of", "json",
         str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    packets = json.loads(result.stdout)["packets"]
    return [(p.get("pts"), p.get("dts"), "K" in p["flags"]) for p in packets]


@pytest.mark.parametrize("case", list(CASES))
def test_ffmpeg_program_stream_split_at_random_rtp_boundaries(case: str, tmp_path: Path, decode) -> None:  # type: ignore[no-untyped-def]
    options, muxer, codec = CASES[case]
    path = tmp_path / f"{case}.ps"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-t", "1.2", *options, "-f", muxer, str(path)],
        check=True,
    )  # fmt: skip
    expected = ffprobe_packets(path)
    assert len(expected) == 30
    data = path.read_bytes()
    rng = random.Random(case)
    demuxer = PsDemuxer()
    got = []
    offset = 0
    while offset < len(data):
        size = rng.randint(1, 1400)
        got += demuxer.feed(data[offset : offset + size])
        offset += size
    got += demuxer.flush()
    assert len(got) == len(expected)
    assert [u.keyframe for u in got] == [key for _, _, key in expected]
    for index, (unit, (pts, dts, _)) in enumerate(zip(got, expected, strict=True)):
        if pts is not None:  # the PES where this frame starts has its timestamps
            assert (unit.pts, unit.dts) == (pts, dts)
        else:  # it started in a PES whose PTS belonged to an earlier frame: one frame interval on
            assert unit.dts == got[index - 1].dts + 3600
    assert sum(pts is None for pts, _, _ in expected) > 5  # the case the fallback is for did occur
    assert {u.codec for u in got} == {codec}
    assert demuxer.errors == 0
    assert decode(codec, got) == len(expected)
