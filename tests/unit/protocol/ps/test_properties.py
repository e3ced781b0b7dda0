"""Property tests: no input, however broken, makes the demuxer raise, and its buffers stay bounded. Inputs are
random bytes, and the vectors mutated (bytes flipped, ranges deleted or duplicated, garbage inserted), fed in
random chunks with random RTP hints. The atheris target in fuzz_ps.py goes further."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xueliang.protocol.ps import PsDemuxer

DATA = Path(__file__).resolve().parents[3] / "data" / "ps"
# the keyframe vectors and the first 12 kB of the GOP ones keep examples fast even when fed byte by byte
VECTORS = [path.read_bytes()[:12_000] for path in sorted(DATA.glob("*.bin"))]
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_FRAME = 64 * 1024
MAX_ELEMENT = 6 + 0xFFFF


def bound(chunk: int) -> int:
    """What the demuxer may hold: one incomplete element plus one feed, and per video stream one frame."""
    return MAX_ELEMENT + chunk + 16 * (MAX_FRAME + 4096)


def run(data: bytes, sizes: list[int], hints: list[tuple[int, bool]]) -> PsDemuxer:
    demuxer = PsDemuxer(max_frame_bytes=MAX_FRAME)
    offset = index = 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        timestamp, marker = hints[index % len(hints)]
        chunk = data[offset : offset + size]
        units = demuxer.feed(chunk, timestamp if timestamp >= 0 else None, marker=marker)
        assert all(u.pts >= 0 and u.dts >= 0 for u in units)
        assert all(len(u.data) <= MAX_FRAME + 4096 for u in units)
        assert demuxer.buffered <= bound(len(chunk))
        offset += size
        index += 1
    demuxer.flush()
    assert demuxer.buffered == 0
    return demuxer


sizes = st.lists(st.integers(1, 3000) | st.integers(1, 20), min_size=1, max_size=8)
hints = st.lists(st.tuples(st.integers(-1, 2**32 - 1), st.booleans()), min_size=1, max_size=4)


@FAST
@given(data=st.binary(max_size=20_000), sizes=sizes, hints=hints)
def test_random_bytes(data: bytes, sizes: list[int], hints: list[tuple[int, bool]]) -> None:
    run(data, sizes, hints)


@FAST
@given(
    vector=st.sampled_from(VECTORS),
    edits=st.lists(
        st.tuples(st.sampled_from(["flip", "delete", "duplicate", "insert"]), st.floats(0, 1), st.integers(1, 400)),
        max_size=6,
    ),
    sizes=sizes,
    hints=hints,
)
def test_mutated_vectors(
    vector: bytes, edits: list[tuple[str, float, int]], sizes: list[int], hints: list[tuple[int, bool]]
) -> None:
    data = bytearray(vector)
    for kind, where, length in edits:
        at = int(where * len(data))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 + length % 255
        elif kind == "delete":
            del data[at : at + length]
        elif kind == "duplicate":
            data[at:at] = data[at : at + length]
        else:
            data[at:at] = bytes((length * 7 + i) % 256 for i in range(length))
    run(bytes(data), sizes, hints)


def test_endless_garbage_inside_valid_pes_framing_stays_bounded() -> None:
    """PES packets of a video stream whose payload never completes a frame: the frame limit drops it."""
    demuxer = PsDemuxer(max_frame_bytes=MAX_FRAME)
    pes = b"\x00\x00\x01\xe0\xff\xf0\x80\x00\x00" + b"\x00\x00\x01\x67\x42" + bytes(range(1, 256)) * 256
    pes = pes[: 6 + 0xFFF0]
    pack = b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01\xff\xff\xff\xf8"
    for _ in range(200):
        assert demuxer.feed(pack + pes) == []
        assert demuxer.buffered <= MAX_FRAME + MAX_ELEMENT
    assert demuxer.errors > 0


def test_endless_random_garbage_stays_bounded() -> None:
    rng = random.Random(3)
    demuxer = PsDemuxer()
    for _ in range(300):
        demuxer.feed(rng.randbytes(4000).replace(b"\x00\x00\x01\xba", b"...."))
        assert demuxer.buffered <= 3
