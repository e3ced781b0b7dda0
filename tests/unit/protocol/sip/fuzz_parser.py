"""Coverage-guided fuzzing of the SIP parsers with atheris (not collected by pytest, not run in CI).

Any exception other than :class:`~xueliang.protocol.sip.SipError` is a finding; so is a parsed message that does
not survive ``parse(bytes(message))``. The corpus starts from the vectors under tests/data/sip.

    .venv/bin/pip install atheris          # needs clang/libFuzzer; Linux x86-64 wheels exist for CPython 3.11
    mkdir -p /tmp/sip-corpus && cp tests/data/sip/*.sip /tmp/sip-corpus/
    .venv/bin/python tests/unit/protocol/sip/fuzz_parser.py /tmp/sip-corpus -max_len=4096 -timeout=5

Crashes are written as ``crash-<sha1>`` files in the working directory; replay one with
``.venv/bin/python tests/unit/protocol/sip/fuzz_parser.py crash-<sha1>``. Without atheris the module runs each
given file (or the vectors) through the same checks once, which is what a regression replay needs.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from xueliang.protocol.sip import (
    CLOSED,
    NEED_DATA,
    DigestChallenge,
    DigestCredentials,
    Limits,
    SipError,
    StreamReader,
    parse_datagram,
    parse_message,
)

LIMITS = Limits(max_head_bytes=4096, max_body_bytes=65536)
# Serialising may grow a head (LF -> CRLF, compact names expanded, Content-Length added): re-parse with room.
ROUND_TRIP_LIMITS = Limits(max_head_bytes=4 * 4096, max_body_bytes=65536)


def check(data: bytes) -> None:
    """One fuzz input: every parser, the round trip, the stream reader in two chunkings, the digest headers."""
    try:
        message = parse_datagram(data, LIMITS)
    except SipError:
        message = None
    if message is not None:
        assert parse_message(bytes(message), ROUND_TRIP_LIMITS) == message, "round trip changed the message"
        for name in ("vias", "from_", "to", "cseq", "contacts", "routes", "expires", "max_forwards", "date"):
            with contextlib.suppress(SipError):
                getattr(message, name)
    for size in (len(data) or 1, 7):
        reader = StreamReader(LIMITS)
        try:
            for start in range(0, len(data), size):
                reader.receive_data(data[start : start + size])
            reader.receive_data(b"")
            for _ in range(len(data) + 1):
                if reader.next_message() in (NEED_DATA, CLOSED):
                    break
        except SipError:
            pass
    text = data.decode("utf-8", "surrogateescape")
    for parse in (DigestChallenge.parse, DigestCredentials.parse):
        with contextlib.suppress(SipError):
            parse(text)


def main() -> None:
    try:
        import atheris  # type: ignore[import-not-found]  # optional, see the docstring
    except ImportError:
        paths = [Path(arg) for arg in sys.argv[1:]] or sorted(
            (Path(__file__).resolve().parents[3] / "data" / "sip").glob("*.sip")
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
