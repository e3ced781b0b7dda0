"""Fixtures of the SIP tests: reading the vector files under tests/data/sip and feeding a stream reader.

Test modules parametrise over the file names themselves (``DATA.glob``); with ``--import-mode=importlib`` a
conftest cannot be imported as a module, so the helpers arrive as fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from xueliang.protocol.sip import NEED_DATA, Message, StreamReader

DATA = Path(__file__).resolve().parents[3] / "data" / "sip"

Feed = Callable[[StreamReader, Iterable[bytes]], list[Message]]


def _feed(reader: StreamReader, chunks: Iterable[bytes]) -> list[Message]:
    messages: list[Message] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        while True:
            event = reader.next_message()
            if event is NEED_DATA:
                break
            assert not isinstance(event, type(NEED_DATA)), event
            messages.append(event)
    return messages


@pytest.fixture
def vector() -> Callable[[str], bytes]:
    """Read ``tests/data/sip/<name>``."""
    return lambda name: (DATA / name).read_bytes()


@pytest.fixture
def feed() -> Feed:
    """Feed chunks one at a time, pulling every complete message after each."""
    return _feed
