"""Coverage-guided fuzzing of the PS demuxer with atheris (not collected by pytest; CI runs it for 20 s through
test_fuzz_target.py).

Any exception is a finding (the demuxer raises nothing on bad input), and so is a unit with a negative timestamp
or buffers past their bound. The corpus starts from the vectors under tests/data/ps.

    # atheris is a dev dependency (Linux x86-64 wheels for CPython 3.11)
    mkdir -p /tmp/ps-corpus && cp tests/data/ps/*.bin /tmp/ps-corpus/
    .venv/bin/python tests/unit/protocol/ps/fuzz_ps.py /tmp/ps-corpus -max_len=65536 -timeout=5

Crashes are written as ``crash-<sha1>`` files in the working directory; replay one with
``.venv/bin/python tests/unit/protocol/ps/fuzz_ps.py crash-<sha1>``. Without atheris the module runs each given
file (or the vectors) through the same checks once, which is what a regression replay needs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xueliang.protocol.ps import PsDemuxer

MAX_FRAME = 64 * 1024
MAX_ELEMENT = 6 + 0xFFFF


def check(data: bytes) -> None:
    """One fuzz input, fed whole and in chunks whose sizes and RTP hints come from the input's first bytes."""
    for size in (len(data) or 1, 1 + (data[0] if data else 0) * 5, 7):
        demuxer = PsDemuxer(max_frame_bytes=MAX_FRAME)
        for index, offset in enumerate(range(0, len(data), size)):
            chunk = data[offset : offset + size]
            units = demuxer.feed(chunk, index // 3 * 3600 if size == 7 else None, marker=index % 5 == 4)
            for unit in units:
                assert unit.pts >= 0 and unit.dts >= 0, unit
            assert demuxer.buffered <= MAX_ELEMENT + len(chunk) + 16 * (MAX_FRAME + 4096), demuxer.buffered
        demuxer.flush()
        assert demuxer.buffered == 0


def main() -> None:
    try:
        import atheris  # type: ignore[import-not-found]  # optional, see the docstring
    except ImportError:
        paths = [Path(arg) for arg in sys.argv[1:]] or sorted(
            (Path(__file__).resolve().parents[3] / "data" / "ps").glob("*.bin")
        )
        files = [file for path in paths for file in (sorted(path.iterdir()) if path.is_dir() else [path])]
        for file in files:
            check(file.read_bytes())
        print(f"atheris not installed: ran {len(files)} inputs once, no fuzzing")
        return
    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
