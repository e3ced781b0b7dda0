"""Headers, URIs, typed header values, messages and builders."""

from __future__ import annotations

import datetime as dt

import pytest

from xueliang.protocol.sip import (
    CSeq,
    Headers,
    LocalProtocolError,
    NameAddr,
    RemoteProtocolError,
    Request,
    Response,
    SipUri,
    Via,
    format_gb_date,
    make_ack,
    make_cancel,
    make_request,
    make_response,
    new_branch,
    new_call_id,
    new_tag,
    parse_gb_date,
    parse_message,
    response_target,
    stamp_source,
)

PLATFORM = "34020000002000000001"
IPC = "34020000001320000001"


def keepalive(**overrides: object) -> Request:
    fields: dict[str, object] = {
        "via": Via(transport="UDP", host="192.168.1.64", port=5060, params=(("rport", None), ("branch", "z9hG4bKk1"))),
        "from_": NameAddr(uri=SipUri(user=IPC, host="3402000000"), params=(("tag", "t1"),)),
        "to": NameAddr(uri=SipUri(user=PLATFORM, host="3402000000")),
        "call_id": "c1@192.168.1.64",
        "cseq": 20,
        "headers": [("Content-Type", "Application/MANSCDP+xml")],
        "body": b'<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType></Notify>',
    }
    fields.update(overrides)
    return make_request("MESSAGE", SipUri(user=PLATFORM, host="3402000000"), **fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ headers


def test_headers_are_ordered_case_insensitive_and_canonical() -> None:
    headers = Headers([("call-id", "x"), ("VIA", "SIP/2.0/UDP a"), ("v", "SIP/2.0/UDP b"), ("X-GB-Ver", "3.0")])
    assert [name for name, _ in headers] == ["Call-ID", "Via", "Via", "X-GB-Ver"]
    assert headers.get("CALL-ID") == headers.get("i") == "x"
    assert headers.get_all("via") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b"]
    assert "x-gb-ver" in headers and "Expires" not in headers
    assert headers.get("Expires") is None
    assert len(headers) == 4


def test_unknown_names_keep_their_spelling_known_ones_are_canonical() -> None:
    headers = Headers([("x-custom", "1"), ("www-authenticate", "Digest realm=x"), ("cseq", "1 MESSAGE")])
    assert [name for name, _ in headers] == ["x-custom", "WWW-Authenticate", "CSeq"]
    assert headers.get("X-CUSTOM") == "1"


def test_list_values_split_outside_quotes_and_brackets() -> None:
    headers = Headers(
        [("Contact", '"a, b" <sip:1@h;x=1,2>, <sip:2@h>'), ("Contact", "<sip:3@h>"), ("Allow", "INVITE, ACK,BYE")]
    )
    assert headers.get_list("Contact") == ['"a, b" <sip:1@h;x=1,2>', "<sip:2@h>", "<sip:3@h>"]
    assert headers.get_list("Allow") == ["INVITE", "ACK", "BYE"]
    assert headers.get_list("Route") == []


def test_header_mutators_return_new_objects() -> None:
    headers = Headers([("Via", "a"), ("To", "t"), ("Via", "b")])
    assert headers.set("via", "c").fields == (("Via", "c"), ("To", "t"))
    assert headers.set("Expires", "60").fields[-1] == ("Expires", "60")
    assert headers.remove("VIA").fields == (("To", "t"),)
    assert headers.add("Subject", "s").fields[-1] == ("Subject", "s")
    assert headers.prepend("Via", "z").fields[0] == ("Via", "z")
    assert headers.extend([("A-B", "1")]).get("a-b") == "1"
    assert headers.fields == (("Via", "a"), ("To", "t"), ("Via", "b"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Length", "5"),
        ("l", "5"),
        ("Bad Name", "x"),
        ("Subject", "a\r\nInjected: yes"),
        ("Subject", "nul\0"),
        ("Subject", " padded"),
        ("Subject", "lone surrogate \ud800"),
        ("", "x"),
    ],
)
def test_headers_cannot_be_built_invalid(name: str, value: str) -> None:
    with pytest.raises(LocalProtocolError):
        Headers([(name, value)])


# ------------------------------------------------------------------------------------------------ URIs


@pytest.mark.parametrize(
    "text",
    [
        "sip:34020000001320000001@3402000000.spvmn.cn",
        "sip:34020000001320000001@3402000000",
        "sip:34020000001320000001@192.168.1.64:5060",
        "sip:3402000000",
        "sip:192.168.1.2:5060;transport=tcp",
        "sips:admin:secret@[2001:db8::1]:5061;lr;maddr=10.0.0.1?subject=x",
        "sip:+8613800000000;phone-context=example@host",
    ],
)
def test_uri_round_trip(text: str) -> None:
    uri = SipUri.parse(text)
    assert str(uri) == text
    assert SipUri.parse(str(uri)) == uri


def test_uri_fields() -> None:
    uri = SipUri.parse("SIP:34020000001320000001@192.168.1.64:5060;Transport=TCP;lr")
    assert (uri.scheme, uri.user, uri.host, uri.port) == ("sip", "34020000001320000001", "192.168.1.64", 5060)
    assert uri.transport == "tcp"
    assert uri.param("LR") == ""
    assert uri.param("maddr") is None
    assert uri.hostport == "192.168.1.64:5060"
    assert str(uri.with_param("transport", "udp")).endswith(";Transport=udp;lr")  # the first spelling stays
    assert str(uri.with_param("maddr", "10.0.0.1")).endswith(";lr;maddr=10.0.0.1")
    assert uri.without_params() == SipUri(user="34020000001320000001", host="192.168.1.64", port=5060)
    assert SipUri.parse("sip:[::1]").host == "[::1]"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("tel:+861012345678", 416),
        ("http://example.com", 416),
        ("sip:", 400),
        ("sip:user@", 400),
        ("sip:user@host:99999", 400),
        ("sip:user@host:5o60", 400),
        ("sip:user@ho st", 400),
        ("sip:us<er@host", 400),
        ("sip:user@[::1", 400),
        ("sip:user@host;a=b@c", 400),
        ("sip:[::1]x", 400),
    ],
)
def test_bad_uris(text: str, status: int) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SipUri.parse(text)
    assert caught.value.status_hint == status


def test_uris_cannot_be_built_invalid() -> None:
    with pytest.raises(LocalProtocolError):
        SipUri(host="a b")
    with pytest.raises(LocalProtocolError):
        SipUri(host="h", port=70000)
    with pytest.raises(LocalProtocolError):
        SipUri(host="h", scheme="tel")
    with pytest.raises(LocalProtocolError):
        SipUri(host="h", password="x")  # a password needs a user
    with pytest.raises(LocalProtocolError):
        SipUri(host="h", params=(("a", "b;c"),))


# ------------------------------------------------------------------------------------------------ Via, name-addr, CSeq


def test_via_parse_and_str() -> None:
    via = Via.parse("SIP / 2.0 / UDP 192.168.1.64:5060 ;rport ; branch=z9hG4bK1")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "192.168.1.64", 5060, "z9hG4bK1")
    assert str(via) == "SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1"
    assert Via.parse(str(via)) == via
    assert not via.reliable and Via.parse("SIP/2.0/tcp h").reliable
    ipv6 = Via.parse("SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKx;received=[2001:db8::1]")
    assert (ipv6.host, ipv6.port, ipv6.received) == ("[2001:db8::9]", 5070, "[2001:db8::1]")


@pytest.mark.parametrize("text", ["", "SIP/2.0/UDP", "SIP/3.0/UDP h", "SIP/2.0/UDP h:x", "SIP/2.0/UDP h;=1", "UDP h"])
def test_bad_vias(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Via.parse(text)


def test_nat_stamping_and_response_target() -> None:
    via = Via.parse("SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1")
    stamped = via.stamped("203.0.113.7", 40123)
    assert str(stamped) == "SIP/2.0/UDP 192.168.1.64:5060;rport=40123;branch=z9hG4bK1;received=203.0.113.7"
    assert response_target(stamped) == ("203.0.113.7", 40123)
    assert response_target(via, ("203.0.113.7", 40123)) == ("203.0.113.7", 40123)
    plain = Via.parse("SIP/2.0/UDP 192.168.1.64:5062;branch=z9hG4bK1")
    assert plain.stamped("192.168.1.64", 5062) == plain  # same address, no rport: nothing to record
    assert response_target(plain.stamped("10.0.0.9", 1111)) == ("10.0.0.9", 5062)
    assert response_target(Via.parse("SIP/2.0/UDP h;branch=z9hG4bK1")) == ("h", 5060)


@pytest.mark.parametrize(
    ("text", "display", "user", "tag"),
    [
        ("<sip:34020000001320000001@3402000000>;tag=1925919331", None, "34020000001320000001", "1925919331"),
        ('"Gate \\"East\\"" <sip:1@h>;tag=a', 'Gate "East"', "1", "a"),
        ("Gate East <sip:1@h>", "Gate East", "1", None),
        ("sip:1@h;tag=x", None, "1", "x"),  # no brackets: the parameter is the header's
        ('"a<b" <sip:1@h>', "a<b", "1", None),
    ],
)
def test_name_addr(text: str, display: str | None, user: str, tag: str | None) -> None:
    value = NameAddr.parse(text)
    assert (value.display_name, value.uri.user, value.tag) == (display, user, tag)
    assert NameAddr.parse(str(value)) == value
    assert value.with_tag("n").tag == "n"


@pytest.mark.parametrize("text", ['"open <sip:1@h>', "<sip:1@h", '"x" sip:1@h', "sip:1@h?x=y", "<tel:1>"])
def test_bad_name_addrs(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        NameAddr.parse(text)


def test_cseq() -> None:
    assert CSeq.parse(" 20  MESSAGE ") == CSeq(20, "MESSAGE")
    assert str(CSeq(2, "REGISTER")) == "2 REGISTER"
    for bad in ("", "MESSAGE", "x MESSAGE", "1", "-1 ACK", "2147483648 ACK", "1 MES SAGE", "٣ ACK"):
        with pytest.raises(RemoteProtocolError):
            CSeq.parse(bad)
    with pytest.raises(LocalProtocolError):
        CSeq(-1, "ACK")


def test_gb_dates() -> None:
    assert parse_gb_date("2024-05-01T12:00:00.123") == dt.datetime(2024, 5, 1, 12, 0, 0, 123000)
    assert parse_gb_date("2024-05-01T12:00:00") == dt.datetime(2024, 5, 1, 12, 0, 0)
    assert parse_gb_date("2024-05-01 12:00:00.5") == dt.datetime(2024, 5, 1, 12, 0, 0, 500000)
    assert format_gb_date(dt.datetime(2024, 5, 1, 8, 3, 9, 45600)) == "2024-05-01T08:03:09.045"
    for bad in ("2024-13-01T00:00:00", "Wed, 01 May 2024 12:00:00 GMT", ""):
        with pytest.raises(RemoteProtocolError):
            parse_gb_date(bad)


# ------------------------------------------------------------------------------------------------ messages


def test_messages_serialise_with_crlf_and_computed_content_length() -> None:
    request = keepalive()
    data = bytes(request)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0"
    assert head.split(b"\r\n")[-1] == f"Content-Length: {len(request.body)}".encode()
    assert body == request.body
    assert parse_message(data) == request


def test_messages_cannot_be_built_invalid() -> None:
    uri = SipUri(host="h")
    with pytest.raises(LocalProtocolError):
        Request(method="BAD METHOD", uri=uri)
    with pytest.raises(LocalProtocolError):
        Response(status_code=99)
    with pytest.raises(LocalProtocolError):
        Response(status_code=200, reason="OK\r\nX: y")
    with pytest.raises(LocalProtocolError):
        Response(status_code=200, reason="\ud800")


def test_parse_demands_the_transaction_headers() -> None:
    data = bytes(keepalive())
    for name in (b"Via", b"From", b"To", b"Call-ID", b"CSeq"):
        lines = [line for line in data.split(b"\r\n") if not line.startswith(name + b":")]
        with pytest.raises(RemoteProtocolError, match=name.decode()):
            parse_message(b"\r\n".join(lines))
    with pytest.raises(RemoteProtocolError):
        Request.parse(bytes(make_response(keepalive(), 200)))
    with pytest.raises(RemoteProtocolError):
        Response.parse(data)


def test_tolerated_start_lines_and_header_lines() -> None:
    base = bytes(make_response(keepalive(), 200)).split(b"\r\n", 1)[1]
    for start, reason in (
        (b"SIP/2.0 200", ""),
        (b"sip/2.0 200 OK ", "OK"),
        (b"SIP/2.0  183  Session  Progress", "Session  Progress"),
    ):
        response = Response.parse(start + b"\r\n" + base)
        assert response.reason == reason
    spaced = (
        bytes(keepalive()).replace(b"Call-ID: ", b"Call-ID \t:   ").replace(b"CSeq: 20 MESSAGE", b"CSeq:20 MESSAGE   ")
    )
    request = Request.parse(spaced)
    assert request.call_id == "c1@192.168.1.64" and request.cseq == CSeq(20, "MESSAGE")
    folded = bytes(keepalive()).replace(b"Content-Type: ", b"Subject: a\r\n  b\r\n\tc\r\nContent-Type: ")
    assert Request.parse(folded).subject == "a b c"


@pytest.mark.parametrize(
    "start",
    [
        b"REGISTER sip:h",
        b"REGISTER sip:h SIP/2.0 extra",
        b"SIP/2.0 99 Low",
        b"SIP/2.0 700 High",
        b"SIP/2.0 OK",
        b"HELLO",
    ],
)
def test_bad_start_lines(start: str) -> None:
    rest = bytes(keepalive()).split(b"\r\n", 1)[1]
    with pytest.raises(RemoteProtocolError):
        parse_message(start + b"\r\n" + rest)


def test_two_content_lengths() -> None:
    data = bytes(keepalive())
    length = len(keepalive().body)
    same = data.replace(b"\r\n\r\n", f"\r\nl: {length}\r\n\r\n".encode(), 1)
    assert parse_message(same) == keepalive()
    different = data.replace(b"\r\n\r\n", f"\r\nl: {length - 1}\r\n\r\n".encode(), 1)
    with pytest.raises(RemoteProtocolError, match="twice"):
        parse_message(different)


def test_accessor_errors_are_remote_errors() -> None:
    request = keepalive(headers=[("Expires", "soon"), ("Contact", "*")])
    request = Request(method=request.method, uri=request.uri, headers=request.headers.set("Max-Forwards", "300"))
    with pytest.raises(RemoteProtocolError):
        _ = request.expires
    with pytest.raises(RemoteProtocolError):
        _ = request.max_forwards
    assert request.contacts == () and request.contact_is_wildcard
    assert request.date is None and request.subject is None
    bare = Request(method="OPTIONS", uri=SipUri(host="h"))
    with pytest.raises(RemoteProtocolError, match="Call-ID"):
        _ = bare.call_id
    with pytest.raises(RemoteProtocolError, match="Via"):
        _ = bare.via


# ------------------------------------------------------------------------------------------------ builders


def test_make_response_copies_what_rfc_3261_says() -> None:
    request = parse_message(bytes(keepalive()).replace(b"Via: ", b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKp, ", 1))
    assert isinstance(request, Request)
    response = make_response(request, 200, to_tag="abc", headers=[("Date", "2024-05-01T12:00:00.000")])
    assert response.reason == "OK"
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.headers.get("From") == request.headers.get("From")
    assert response.headers.get("To") == request.headers.get("To") + ";tag=abc"
    assert (response.call_id, response.cseq) == (request.call_id, request.cseq)
    assert response.date == dt.datetime(2024, 5, 1, 12)
    assert response.body == b""
    assert parse_message(bytes(response)) == response


def test_make_response_to_tags() -> None:
    request = keepalive()
    assert make_response(request, 100).to.tag is None  # 100 Trying: no tag
    assert make_response(request, 200).to.tag is not None  # a fresh one
    tagged = keepalive(to=NameAddr(uri=SipUri(user=PLATFORM, host="3402000000"), params=(("tag", "old"),)))
    assert make_response(tagged, 486, to_tag="new").to.tag == "old"
    assert make_response(request, 299, "Odd").reason == "Odd"
    assert make_response(request, 599).reason == ""
    with pytest.raises(LocalProtocolError):
        make_response(request, 200, to_tag="bad tag")


def test_record_route_copied_for_dialog_creating_requests_only() -> None:
    invite = keepalive(headers=[("Record-Route", "<sip:proxy;lr>")])
    invite = Request(method="INVITE", uri=invite.uri, headers=invite.headers.set("CSeq", "1 INVITE"), body=b"")
    assert make_response(invite, 200).headers.get("Record-Route") == "<sip:proxy;lr>"
    assert make_response(invite, 100).headers.get("Record-Route") is None
    message = keepalive(headers=[("Record-Route", "<sip:proxy;lr>")])
    assert make_response(message, 200).headers.get("Record-Route") is None


def test_make_ack_and_cancel() -> None:
    invite = make_request(
        "INVITE",
        SipUri(user=IPC, host="3402000000"),
        via=Via(transport="UDP", host="10.0.0.2", port=5060, params=(("branch", "z9hG4bKinv"),)),
        from_=NameAddr(uri=SipUri(user=PLATFORM, host="3402000000"), params=(("tag", "f"),)),
        to=NameAddr(uri=SipUri(user=IPC, host="3402000000")),
        call_id="call-1",
        cseq=7,
        headers=[("Route", "<sip:10.0.0.9;lr>"), ("Subject", f"{IPC}:0,{PLATFORM}:0")],
    )
    busy = make_response(invite, 486, to_tag="dev")
    ack = make_ack(invite, busy)
    assert (ack.method, ack.uri, ack.cseq) == ("ACK", invite.uri, CSeq(7, "ACK"))
    assert ack.via == invite.via and ack.to.tag == "dev" and ack.from_ == invite.from_
    assert ack.headers.get("Route") == "<sip:10.0.0.9;lr>"
    cancel = make_cancel(invite)
    assert (cancel.method, cancel.cseq, cancel.to.tag) == ("CANCEL", CSeq(7, "CANCEL"), None)
    assert cancel.via.branch == "z9hG4bKinv"


def test_stamp_source_rewrites_only_the_top_via() -> None:
    request = parse_message(
        bytes(keepalive()).replace(b"Via: ", b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bKt, ", 1)
    )
    assert isinstance(request, Request)
    stamped = stamp_source(request, "203.0.113.7", 40000)
    assert stamped.via.received == "203.0.113.7" and stamped.via.rport == 40000
    assert stamped.vias[1] == request.vias[1]
    assert make_response(stamped, 200).via.rport == 40000
    plain = keepalive(via=Via(transport="UDP", host="10.0.0.1", port=5060, params=(("branch", "z9hG4bKq"),)))
    assert stamp_source(plain, "10.0.0.1", 5060) is plain


def test_identifiers() -> None:
    assert new_branch().startswith("z9hG4bK") and new_branch() != new_branch()
    assert new_tag() != new_tag()
    assert new_call_id("10.0.0.1").endswith("@10.0.0.1")


# ------------------------------------------------------------------------------------------------ fuzz findings


@pytest.mark.parametrize("junk", [b"b\rc", b"b\0c", b"b\r"])
def test_a_folded_line_with_a_control_character_is_refused(junk: bytes) -> None:
    """atheris found a folded continuation carrying CR and NUL into a value that could not be re-parsed."""
    data = bytes(keepalive()).replace(b"Content-Type: ", b"Subject: a\r\n " + junk + b"\r\nContent-Type: ")
    with pytest.raises(RemoteProtocolError, match="control character"):
        parse_message(data)


def test_the_header_limit_counts_fields_so_a_round_trip_stays_under_it() -> None:
    """atheris found 100 raw lines without Content-Length that became 101 once serialised."""
    request = keepalive()
    padding = 100 - len(request.headers)
    data = bytes(request).replace(b"Content-Length", b"X-Pad: 1\r\n" * padding + b"Content-Length")
    head, _, body = data.partition(b"\r\n\r\n")
    without_length = b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length"))
    parsed = parse_message(without_length + b"\r\n\r\n" + body)
    assert len(parsed.headers) == 100
    assert parse_message(bytes(parsed)) == parsed
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data.replace(b"X-Pad: 1", b"X-Pad: 1\r\nX-Pad: 2", 1))
    assert caught.value.status_hint == 513
