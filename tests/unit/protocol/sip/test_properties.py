"""Property tests: generated messages round-trip through bytes and through the stream reader in any chunks, and
no input, however broken, makes a parser raise anything but SipError. Examples are kept modest for speed; the
atheris target in fuzz_parser.py goes further."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xueliang.protocol.sip import (
    NEED_DATA,
    CSeq,
    DigestChallenge,
    DigestCredentials,
    Message,
    NameAddr,
    Signal,
    SipError,
    SipUri,
    StreamReader,
    Via,
    make_request,
    make_response,
    parse_datagram,
    parse_gb_date,
    parse_message,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "sip"
VECTORS = [path.read_bytes() for path in sorted(DATA.glob("*.sip"))]
TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tokens = st.text(TOKEN, min_size=1, max_size=10)
hosts = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,14}", fullmatch=True),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts))),
    st.just("[2001:db8::1]"),
)
ports = st.none() | st.integers(0, 65535)
uri_values = st.text(TOKEN + "[]/:&+$", min_size=1, max_size=8)
uri_params = st.lists(st.tuples(tokens, st.none() | uri_values), max_size=3).map(tuple)
uris = st.builds(
    SipUri,
    host=hosts,
    user=st.none() | st.text("0123456789abcdefABC-_.!~*'()&=+$,;/%", min_size=1, max_size=20),
    port=ports,
    params=uri_params,
)
header_params = st.lists(st.tuples(tokens, st.none() | tokens), max_size=3).map(tuple)
display_names = st.none() | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
name_addrs = st.builds(NameAddr, uri=uris, display_name=display_names, params=header_params)
vias = st.builds(
    Via,
    transport=st.sampled_from(["UDP", "TCP", "tls"]),
    host=hosts,
    port=ports,
    params=st.tuples(tokens.map(lambda tail: "z9hG4bK" + tail)).map(lambda branch: (("branch", branch[0]),)),
)
values = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), max_size=30).map(
    lambda text: text.strip(" \t")
)
extra_headers = st.lists(st.tuples(tokens.map(lambda name: "X-" + name), values), max_size=5)


@st.composite
def requests(draw: st.DrawFn) -> Message:
    return make_request(
        draw(tokens),
        draw(uris),
        via=draw(vias),
        from_=draw(name_addrs),
        to=draw(name_addrs),
        call_id=draw(tokens),
        cseq=draw(st.integers(0, 2**31 - 1)),
        contact=draw(st.none() | name_addrs),
        max_forwards=draw(st.integers(0, 255)),
        headers=draw(extra_headers),
        body=draw(st.binary(max_size=200)),
    )


@st.composite
def messages(draw: st.DrawFn) -> Message:
    request = draw(requests())
    if draw(st.booleans()):
        return request
    return make_response(
        request,  # type: ignore[arg-type]
        draw(st.integers(100, 699)),
        draw(values),
        headers=draw(extra_headers),
        body=draw(st.binary(max_size=200)),
    )


@FAST
@given(messages())
def test_generated_messages_round_trip(message: Message) -> None:
    data = bytes(message)
    parsed = parse_message(data)
    assert parsed == message
    assert bytes(parsed) == data


@FAST
@given(st.lists(messages(), min_size=1, max_size=3), st.data())
def test_any_chunking_gives_the_same_messages(batch: list[Message], data: st.DataObject) -> None:
    stream = b"".join(bytes(message) for message in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = StreamReader()
    received: list[Message] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        if end > start:  # an empty chunk would mean end of stream
            reader.receive_data(stream[start:end])
        while (event := reader.next_message()) is not NEED_DATA:
            assert not isinstance(event, type(NEED_DATA))
            received.append(event)
    assert received == batch


@FAST
@given(uris)
def test_uris_round_trip(uri: SipUri) -> None:
    assert SipUri.parse(str(uri)) == uri


@FAST
@given(name_addrs, vias, st.integers(0, 2**31 - 1), tokens)
def test_header_values_round_trip(name_addr: NameAddr, via: Via, number: int, method: str) -> None:
    assert NameAddr.parse(str(name_addr)) == name_addr
    assert Via.parse(str(via)) == via
    assert CSeq.parse(str(CSeq(number, method))) == CSeq(number, method)


def _parse_everything(data: bytes) -> None:
    for parse in (parse_message, parse_datagram):
        try:
            message = parse(data)
        except SipError:
            continue
        if message is not None:
            for name in ("vias", "from_", "to", "cseq", "contacts", "routes", "expires", "max_forwards", "date"):
                with contextlib.suppress(SipError):
                    getattr(message, name)
            assert parse_message(bytes(message)) == message
    reader = StreamReader()
    reader.receive_data(data)
    reader.receive_data(b"")
    for _ in range(len(data) + 1):  # at most one message per byte, then CLOSED or an error
        try:
            if isinstance(reader.next_message(), Signal):
                break
        except SipError:
            if reader.failed:
                break
    else:
        raise AssertionError("the reader never reached the end of the stream")


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_sip_errors(data: bytes) -> None:
    _parse_everything(data)


@st.composite
def mutated_vectors(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VECTORS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 0xFF, 0xC3, *b"09azAZ=\\[]"]))
        if operation == "insert":
            data.insert(position, byte)
        elif position < len(data):
            if operation == "delete":
                del data[position]
            else:
                data[position] = byte
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_vectors())
def test_mutated_vectors_raise_only_sip_errors(data: bytes) -> None:
    _parse_everything(data)


@FAST
@given(st.text(max_size=80))
def test_value_parsers_raise_only_sip_errors(text: str) -> None:
    for parse in (
        SipUri.parse,
        Via.parse,
        NameAddr.parse,
        CSeq.parse,
        DigestChallenge.parse,
        DigestCredentials.parse,
        parse_gb_date,
    ):
        with contextlib.suppress(SipError):
            parse(text)  # type: ignore[operator]
    for prefix in ("sip:", "SIP/2.0/UDP ", "Digest ", 'Digest realm="r", nonce="n", '):
        for parse in (SipUri.parse, Via.parse, DigestChallenge.parse, DigestCredentials.parse):
            with contextlib.suppress(SipError):
                parse(prefix + text)  # type: ignore[operator]
