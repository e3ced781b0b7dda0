"""The vectors under tests/data/ps (see generate.py there), fed whole, byte by byte and with trailing data."""

from __future__ import annotations

from pathlib import Path

import pytest

from xueliang.protocol.es import Codec
from xueliang.protocol.ps import PsDemuxer

CODECS = {"h264": Codec.H264, "h265": Codec.H265}


def feed(data: bytes, size: int) -> tuple[PsDemuxer, list]:  # type: ignore[type-arg]
    demuxer = PsDemuxer()
    got = [u for i in range(0, len(data), size) for u in demuxer.feed(data[i : i + size])]
    return demuxer, got + demuxer.flush()


@pytest.mark.parametrize("name", ["h264", "h265"])
@pytest.mark.parametrize("size", [1 << 30, 1, 997], ids=["whole", "bytes", "chunks"])
def test_keyframe_vector(name: str, size: int, data_dir: Path, decode) -> None:  # type: ignore[no-untyped-def]
    data = (data_dir / f"ps_{name}_keyframe.bin").read_bytes()
    demuxer, got = feed(data, size)
    assert [(u.codec, u.pts, u.keyframe) for u in got] == [(CODECS[name], 90_000, True)]
    assert demuxer.stream_types == {0xE0: 0x1B if name == "h264" else 0x24}
    assert decode(CODECS[name], got) == 1
    assert (demuxer.errors, demuxer.resyncs) == (0, 0)


@pytest.mark.parametrize("name", ["h264", "h265"])
def test_keyframe_vector_with_trailing_partial_pack(name: str, data_dir: Path) -> None:
    data = (data_dir / f"ps_{name}_keyframe.bin").read_bytes()
    demuxer = PsDemuxer()
    got = demuxer.feed(data, 1) + demuxer.feed(data[:100], 2)  # the next pack's start: the timestamp ends the frame
    assert [u.keyframe for u in got] == [True]
    assert 0 < demuxer.buffered <= 100  # the incomplete element waits for more


@pytest.mark.parametrize("name", ["h264", "h265"])
def test_gop_vector(name: str, data_dir: Path, decode) -> None:  # type: ignore[no-untyped-def]
    demuxer, got = feed((data_dir / f"ps_{name}_gop.bin").read_bytes(), 1400)
    assert demuxer.errors == 0
    assert [u.pts for u in got] == [90_000 + 3600 * i for i in range(25)]
    assert [u.keyframe for u in got] == [True] + [False] * 24
    assert decode(CODECS[name], got) == 25


@pytest.mark.parametrize("name", ["h264", "h265"])
@pytest.mark.parametrize("size", [1 << 30, 1], ids=["whole", "bytes"])
def test_truncated_vector_yields_nothing_and_no_error(name: str, size: int, data_dir: Path) -> None:
    demuxer, got = feed((data_dir / f"ps_{name}_keyframe_truncated.bin").read_bytes(), size)
    assert got == []  # the PES is incomplete: nothing of it is delivered
    assert demuxer.buffered == 0  # flush dropped the incomplete element


@pytest.mark.parametrize("name", ["h264", "h265"])
@pytest.mark.parametrize("size", [1 << 30, 1, 1400], ids=["whole", "bytes", "rtp"])
def test_invalid_vector_counts_errors_and_recovers(name: str, size: int, data_dir: Path, decode) -> None:  # type: ignore[no-untyped-def]
    demuxer, got = feed((data_dir / f"ps_{name}_keyframe_invalid.bin").read_bytes(), size)
    assert demuxer.errors >= 1  # the PSM whose map overruns it
    assert demuxer.resyncs >= 2  # the garbage before the first pack and between the packs
    assert [u.keyframe for u in got] == [True, True]
    assert decode(CODECS[name], got) == 2
