"""Real-looking captures under tests/data/sip: parsed whole, byte by byte, with trailing data, round-tripped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from xueliang.protocol.sip import (
    CLOSED,
    NEED_DATA,
    DigestChallenge,
    Message,
    RemoteProtocolError,
    Request,
    Response,
    StreamReader,
    challenges_in,
    credentials_in,
    parse_datagram,
    parse_message,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "sip"
NAMES = sorted(path.name for path in DATA.glob("*.sip"))
BROKEN = [name for name in NAMES if name.endswith(("_invalid.sip", "_truncated.sip"))]
VALID = [name for name in NAMES if name not in BROKEN]
Vector = Callable[[str], bytes]
Feed = Callable[[StreamReader, list[bytes]], list[Message]]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[index : index + 1] for index in range(len(data))]


def test_the_vectors_are_there() -> None:
    assert len(VALID) >= 12
    assert len(BROKEN) >= 6
    assert "hikvision_register.sip" in VALID
    assert "hikvision_register_truncated.sip" in BROKEN


@pytest.mark.parametrize("name", VALID)
def test_whole_byte_by_byte_and_round_trip(name: str, vector: Vector, feed: Feed) -> None:
    data = vector(name)
    whole = parse_message(data)
    assert parse_datagram(data) == whole
    reader = StreamReader()
    assert feed(reader, byte_by_byte(data)) == [whole]
    reader.receive_data(b"")
    assert reader.next_message() is CLOSED
    again = parse_message(bytes(whole))
    assert again == whole
    assert bytes(again) == bytes(whole)


@pytest.mark.parametrize("name", VALID)
def test_with_trailing_data(name: str, vector: Vector, feed: Feed) -> None:
    data = vector(name)
    whole = parse_message(data)
    # on a stream: the next message (and a keep-alive ping) follow in the same chunk
    reader = StreamReader()
    assert feed(reader, [data + b"\r\n\r\n" + data + data[:25]]) == [whole, whole]
    assert reader.take_pings() == 1
    assert reader.buffered == 25
    assert reader.next_message() is NEED_DATA
    # in a datagram: bytes after Content-Length are cut off
    assert parse_message(data + b"trailing junk") == whole


@pytest.mark.parametrize("name", BROKEN)
def test_broken_vectors_raise_remote_errors(name: str, vector: Vector, feed: Feed) -> None:
    data = vector(name)
    with pytest.raises(RemoteProtocolError):
        parse_message(data)
    reader = StreamReader()
    with pytest.raises(RemoteProtocolError):
        feed(reader, [*byte_by_byte(data), b""])


@pytest.mark.parametrize(
    ("name", "status", "fragment"),
    [
        ("no_call_id_invalid.sip", 400, "Call-ID"),
        ("bad_content_length_invalid.sip", 400, "Content-Length"),
        ("header_without_colon_invalid.sip", 400, "header name"),
        ("sip_version_invalid.sip", 505, "version"),
        ("cseq_method_mismatch_invalid.sip", 400, "CSeq"),
        ("content_length_exceeds_body_invalid.sip", 400, "Content-Length"),
        ("tel_uri_invalid.sip", 416, "URI"),
        ("hikvision_register_truncated.sip", 400, "truncated"),
        ("uniview_keepalive_message_truncated.sip", 400, "body bytes"),
    ],
)
def test_broken_vectors_status_hints(name: str, status: int, fragment: str, vector: Vector) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(vector(name))
    assert caught.value.status_hint == status
    assert fragment in caught.value.message


def test_truncated_vectors_on_a_stream_wait_then_fail_at_eof(vector: Vector, feed: Feed) -> None:
    for name in ("hikvision_register_truncated.sip", "uniview_keepalive_message_truncated.sip"):
        reader = StreamReader()
        assert feed(reader, [vector(name)]) == []
        reader.receive_data(b"")
        with pytest.raises(RemoteProtocolError, match="stream ended"):
            reader.next_message()
        assert reader.failed


def test_hikvision_register(vector: Vector) -> None:
    request = Request.parse(vector("hikvision_register.sip"))
    assert request.method == "REGISTER"
    assert str(request.uri) == "sip:34020000002000000001@3402000000"
    assert (request.uri.user, request.uri.host, request.uri.port) == ("34020000002000000001", "3402000000", None)
    via = request.via
    assert (via.transport, via.host, via.port) == ("UDP", "192.168.1.64", 5060)
    assert via.branch == "z9hG4bK1376583236"
    assert via.rport_requested and via.rport is None and via.received is None
    assert request.from_.uri.user == "34020000001320000001"
    assert request.from_.tag == "1925919331"
    assert request.to.tag is None
    assert request.call_id == "1531629094"
    assert (request.cseq.number, request.cseq.method) == (1, "REGISTER")
    assert request.contact is not None and request.contact.uri.port == 5060
    assert request.expires == 3600
    assert request.max_forwards == 70
    assert request.user_agent == "IP Camera"
    assert credentials_in(request) is None
    assert request.body == b""


def test_dahua_register_auth_no_spaces_after_commas(vector: Vector) -> None:
    request = Request.parse(vector("dahua_register_auth.sip"))
    credentials = credentials_in(request)
    assert credentials is not None
    assert credentials.username == "34020000001320000002"
    assert credentials.realm == "3402000000"
    assert credentials.uri == "sip:34020000002000000001@3402000000"
    assert (credentials.qop, credentials.nc, credentials.cnonce) == ("auth", "00000001", "0a4f113b")
    assert credentials.algorithm == "MD5"


def test_hikvision_admin_username_without_qop(vector: Vector) -> None:
    credentials = credentials_in(Request.parse(vector("hikvision_register_auth_admin.sip")))
    assert credentials is not None
    assert credentials.username == "admin"
    assert credentials.qop is None and credentials.nc is None and credentials.cnonce is None


def test_uniview_keepalive(vector: Vector) -> None:
    request = Request.parse(vector("uniview_keepalive_message.sip"))
    assert request.method == "MESSAGE"
    assert request.content_type == "Application/MANSCDP+xml"
    assert request.media_type == "application/manscdp+xml"
    assert b"<CmdType>Keepalive</CmdType>" in request.body
    assert request.content_length == len(request.body) == 169


def test_bare_lf_message_keeps_its_gb2312_body(vector: Vector) -> None:
    request = Request.parse(vector("bare_lf_message.sip"))
    assert request.uri.host == "3402000000.spvmn.cn"
    assert request.media_type == "application/manscdp+xml"
    assert "皋城路口东".encode("gb2312") in request.body
    assert request.body.endswith(b"</Response>\n")
    assert b"\r\n" not in request.body


def test_content_length_with_spaces_and_headers_after_it(vector: Vector) -> None:
    request = Request.parse(vector("content_length_spaces.sip"))
    assert b"Content-Length:   169" in vector("content_length_spaces.sip")
    assert len(request.body) == 169
    assert request.max_forwards == 70  # came after Content-Length
    assert request.media_type == "application/manscdp+xml"  # APPLICATION/MANSCDP+XML on the wire
    assert (request.uri.host, request.uri.port) == ("192.168.1.2", 5060)


def test_401_with_www_authenticate_after_content_length(vector: Vector) -> None:
    response = Response.parse(vector("401_www_authenticate_last.sip"))
    assert (response.status_code, response.reason) == (401, "Unauthorized")
    assert response.via.received == "192.168.1.64" and response.via.rport == 5060
    [challenge] = challenges_in(response)
    assert challenge == DigestChallenge(realm="3402000000", nonce="a1b2c3d4e5f60718", algorithm="MD5", qop=("auth",))


def test_401_word_realm_opaque_unquoted_qop(vector: Vector) -> None:
    [challenge] = challenges_in(Response.parse(vector("401_realm_word_opaque.sip")))
    assert challenge.realm == "hik"
    assert challenge.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert challenge.qop == ("auth",)


def test_odd_reason_phrase_and_to_tag_on_a_provisional(vector: Vector) -> None:
    response = Response.parse(vector("101_dialog_establishement.sip"))
    assert (response.status_code, response.reason) == (101, "Dialog Establishement")
    assert response.provisional and not response.success
    assert response.to.tag == "1277346932"
    assert response.cseq.method == "INVITE"


def test_compact_forms_expanded_and_two_vias_on_one_line(vector: Vector) -> None:
    request = Request.parse(vector("compact_headers_message.sip"))
    names = [name for name, _ in request.headers]
    assert names == ["Via", "From", "To", "Call-ID", "CSeq", "Content-Type", "Contact", "Max-Forwards"]
    assert [via.host for via in request.vias] == ["10.2.0.9", "192.168.3.30"]
    assert request.via.branch == "z9hG4bKproxy77"
    assert request.call_id == "8841329@192.168.3.30"
    assert request.headers.get("i") == request.headers.get("CALL-id") == "8841329@192.168.3.30"
    assert len(request.body) == 169


def test_route_with_own_id_contact_port_and_zero_call_id_host(vector: Vector) -> None:
    request = Request.parse(vector("register_route_own_id.sip"))
    [route] = request.routes
    assert route.uri.user == "34020000001320000007" and route.uri.param("lr") == ""
    assert request.contact is not None and request.contact.uri.port == 15060
    assert request.via.port == 5060
    assert request.call_id == "3918432@0.0.0.0"


def test_200_register_with_gb_date(vector: Vector) -> None:
    response = Response.parse(vector("ok_register_date.sip"))
    assert response.date == dt.datetime(2024, 5, 1, 12, 0, 0, 123000)
    assert response.expires == 3600


def test_invite_with_upper_case_sdp_type_and_subject(vector: Vector) -> None:
    request = Request.parse(vector("invite_play_sdp.sip"))
    assert request.media_type == "application/sdp"
    assert request.subject == "34020000001320000001:0200000001,34020000002000000001:0"
    assert request.body.startswith(b"v=0\r\n") and b"y=0200000001" in request.body


def test_gbk_display_name_survives_a_round_trip(vector: Vector) -> None:
    data = vector("gbk_display_name_message.sip")
    request = Request.parse(data)
    display = request.from_.display_name
    assert display is not None
    assert display.encode("utf-8", "surrogateescape") == "东门".encode("gbk")
    assert "东门".encode("gbk") in bytes(request)
    # only the Content-Length line moves to the end
    assert sorted(bytes(request).split(b"\r\n")) == sorted(data.split(b"\r\n"))
