"""Stream framing (TCP) and datagram parsing (UDP): pings, limits, fail-fast, end of stream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xueliang.protocol.sip import (
    CLOSED,
    NEED_DATA,
    Limits,
    LocalProtocolError,
    Message,
    RemoteProtocolError,
    Request,
    StreamReader,
    parse_datagram,
)

Vector = Callable[[str], bytes]
Feed = Callable[[StreamReader, list[bytes]], list[Message]]


def test_chunks_of_every_size_give_the_same_messages(vector: Vector, feed: Feed) -> None:
    stream = vector("hikvision_register.sip") + vector("bare_lf_message.sip") + vector("uniview_keepalive_message.sip")
    expected = feed(StreamReader(), [stream])
    assert len(expected) == 3
    for size in (1, 2, 3, 7, 64, 500):
        chunks = [stream[index : index + size] for index in range(0, len(stream), size)]
        assert feed(StreamReader(), chunks) == expected


def test_keepalive_pings_are_skipped_and_counted(vector: Vector, feed: Feed) -> None:
    reader = StreamReader()
    register = vector("hikvision_register.sip")
    chunks = [b"\r\n\r\n", b"\r\n", b"\r\n", register, b"\r\n", b"\r\n\r\n\r\n", b"\n\n"]
    assert feed(reader, chunks) == [Request.parse(register)]
    assert reader.take_pings() == 5  # CRLFCRLF counted once each, the odd CRLF after a message joins the next
    assert reader.take_pings() == 0
    assert reader.buffered == 0
    reader.receive_data(b"")
    assert reader.next_message() is CLOSED


def test_missing_content_length_on_a_stream_means_no_body(vector: Vector, feed: Feed) -> None:
    register = vector("hikvision_register.sip").replace(b"Content-Length: 0\r\n", b"")
    assert feed(StreamReader(), [register + register]) == [Request.parse(register)] * 2


def test_head_over_the_limit_fails_fast(feed: Feed) -> None:
    reader = StreamReader(Limits(max_head_bytes=1024))
    with pytest.raises(RemoteProtocolError) as caught:
        feed(reader, [b"MESSAGE sip:a@b SIP/2.0\r\n", b"X-Pad: " + b"a" * 1100])
    assert caught.value.status_hint == 513
    assert reader.failed
    with pytest.raises(RemoteProtocolError, match="failed earlier"):
        reader.next_message()


def test_too_many_headers(vector: Vector, feed: Feed) -> None:
    data = vector("hikvision_register.sip").replace(b"Expires", b"X-A: 1\r\n" * 5 + b"Expires")
    with pytest.raises(RemoteProtocolError) as caught:
        feed(StreamReader(Limits(max_headers=12)), [data])
    assert caught.value.status_hint == 513
    assert len(feed(StreamReader(Limits(max_headers=15)), [data])) == 1


def test_body_over_the_limit_is_refused_before_it_arrives(vector: Vector) -> None:
    data = vector("uniview_keepalive_message.sip")
    reader = StreamReader(Limits(max_body_bytes=100))
    reader.receive_data(data[: data.index(b"\r\n\r\n") + 4])  # the head only
    with pytest.raises(RemoteProtocolError) as caught:
        reader.next_message()
    assert caught.value.status_hint == 413


def test_a_big_catalog_body_fits_the_default_limit(vector: Vector, feed: Feed) -> None:
    body = b"<Item>" + b"x" * (8 * 1024 * 1024) + b"</Item>"
    data = vector("uniview_keepalive_message.sip")
    head = data[: data.index(b"Content-Length")] + f"Content-Length: {len(body)}\r\n\r\n".encode()
    [message] = feed(StreamReader(), [head, body[:1000], body[1000:]])
    assert message.body == body


def test_a_bad_message_with_intact_framing_does_not_kill_the_stream(vector: Vector) -> None:
    bad = vector("no_call_id_invalid.sip")
    good = vector("hikvision_register.sip")
    reader = StreamReader()
    reader.receive_data(bad + good)
    with pytest.raises(RemoteProtocolError, match="Call-ID"):
        reader.next_message()
    assert not reader.failed
    assert reader.next_message() == Request.parse(good)


def test_a_garbled_head_kills_the_stream(vector: Vector) -> None:
    reader = StreamReader()
    reader.receive_data(vector("header_without_colon_invalid.sip") + vector("hikvision_register.sip"))
    with pytest.raises(RemoteProtocolError):
        reader.next_message()
    assert reader.failed
    with pytest.raises(RemoteProtocolError):
        reader.next_message()


def test_end_of_stream() -> None:
    reader = StreamReader()
    assert reader.next_message() is NEED_DATA
    reader.receive_data(b"\r\n")
    reader.receive_data(b"")
    reader.receive_data(b"")  # a second EOF is harmless
    assert reader.next_message() is CLOSED
    with pytest.raises(LocalProtocolError):
        reader.receive_data(b"more")


def test_datagrams(vector: Vector) -> None:
    data = vector("uniview_keepalive_message.sip")
    message = parse_datagram(data)
    assert message is not None
    assert parse_datagram(b"\r\n\r\n") is None
    assert parse_datagram(b"\r\n" + data) == message
    # Content-Length shorter than the datagram: the body is cut
    assert parse_datagram(data + b"<junk/>") == message
    # no Content-Length: the body runs to the end of the datagram
    no_length = data.replace(b"Content-Length: 169\r\n", b"")
    assert parse_datagram(no_length) == message
    # longer: 400
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(data.replace(b"Content-Length: 169", b"Content-Length: 170"))
    assert caught.value.status_hint == 400


def test_datagram_size_limit(vector: Vector) -> None:
    data = vector("uniview_keepalive_message.sip")
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(data, Limits(max_datagram_bytes=200))
    assert caught.value.status_hint == 513
    assert parse_datagram(data, Limits(max_datagram_bytes=len(data))) is not None


def test_datagram_without_a_blank_line(vector: Vector) -> None:
    data = vector("hikvision_register.sip")
    assert parse_datagram(data[:-2]) == parse_datagram(data)  # the final blank line left out
    with pytest.raises(RemoteProtocolError, match="truncated"):
        parse_datagram(data[:-4])
