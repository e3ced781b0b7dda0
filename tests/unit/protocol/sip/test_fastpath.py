"""The keepalive fast path against the full path: whatever ``quick_keepalive`` accepts, ``parse_datagram`` +
``stamp_source`` + ``server_key`` + ``manscdp.parse`` + ``make_response`` read the same way, byte for byte; and
everything unusual is left to the full path (None)."""

from __future__ import annotations

import contextlib
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp.xml import PLACEHOLDERS as MANSCDP_PLACEHOLDERS
from xueliang.protocol.sip import (
    LocalProtocolError,
    QuickKeepalive,
    Request,
    SipError,
    make_response,
    parse_datagram,
    quick_answer,
    quick_keepalive,
    response_target,
    server_key,
    stamp_source,
)
from xueliang.protocol.sip.fastpath import PLACEHOLDERS

DATA = Path(__file__).resolve().parents[3] / "data"
SIP_VECTORS = sorted((DATA / "sip").glob("*.sip"))
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TAG = "7d0c1e"

KEEPALIVE_BODY = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>53</SN>\r\n'
    b"<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
)
HIKVISION_HEAD = (
    "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0",
    "Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1437829106",
    "From: <sip:34020000001320000001@3402000000>;tag=1023463917",
    "To: <sip:34020000002000000001@3402000000>",
    "Call-ID: 1662410235",
    "CSeq: 20 MESSAGE",
    "Content-Type: Application/MANSCDP+xml",
    "Max-Forwards: 70",
    "User-Agent: IP Camera",
    "Content-Length: {length}",
)


def datagram(head: tuple[str, ...] | list[str], body: bytes = KEEPALIVE_BODY) -> bytes:
    """Head lines joined with CRLF, ``{length}`` filled with the body's length, the blank line, the body."""
    text = "\r\n".join(head).replace("{length}", str(len(body)))
    return text.encode("ascii") + b"\r\n\r\n" + body


HIKVISION = datagram(HIKVISION_HEAD)


def sources(quick: QuickKeepalive) -> list[tuple[str, int]]:
    """The addresses a keepalive may come from: its own sent-by, the same host on another port, a NAT."""
    return [(quick.via_host, quick.via_port or 5060), (quick.via_host, 40112), ("10.20.30.40", 5060)]


def assert_agrees(data: bytes) -> QuickKeepalive:
    """``quick_keepalive`` accepts ``data`` and reads it as the full path does, answers included."""
    quick = quick_keepalive(data)
    assert quick is not None
    message = parse_datagram(data)
    assert isinstance(message, Request)
    assert quick.device_id == message.from_.uri.user
    assert quick.to_tag == message.to.tag
    parsed = manscdp.parse(message.body)
    keepalive = parsed.message
    assert isinstance(keepalive, manscdp.Keepalive)
    assert (quick.body_device_id, quick.sn, quick.status, keepalive.faulty) == (
        keepalive.device_id,
        keepalive.sn,
        keepalive.status,
        (),
    )
    assert quick.declared == parsed.declared
    assert (manscdp.charset_from_label(quick.declared) or manscdp.Charset.UTF8) is parsed.charset
    assert parsed.repairs == ()
    for source in sources(quick):
        stamped = stamp_source(message, *source)
        assert quick.key == server_key(stamped)
        assert quick.response_target(source) == response_target(stamped.via, source)
        for status, reason in ((200, None), (403, "Forbidden (not registered)"), (100, None), (299, None)):
            expected = bytes(make_response(stamped, status, reason, to_tag=TAG))
            assert quick_answer(quick, status, to_tag=TAG, source=source, reason=reason) == expected
    return quick


# ------------------------------------------------------------------------------------------ what is accepted

DAHUA = datagram(
    (
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.108:5060;branch=z9hG4bK1816531371;rport",
        "From: <sip:34020000001320000002@3402000000>;tag=1566473466",
        "To: <sip:34020000002000000001@3402000000>",
        "Call-ID: 1307339478",
        "CSeq: 14 MESSAGE",
        "Content-Type: Application/MANSCDP+xml",
        "Max-Forwards: 70",
        "User-Agent: DH",
        "Content-Length: {length}",
    ),
    b'<?xml version="1.0" encoding="GB2312" ?>\n<Notify>\n  <CmdType>Keepalive</CmdType>\n  <SN>7</SN>\n'
    b"  <DeviceID>34020000001320000002</DeviceID>\n  <Status>OK</Status>\n</Notify>\n",
)
UNIVIEW = (DATA / "sip" / "uniview_keepalive_message.sip").read_bytes()
VARIANTS: dict[str, bytes] = {
    "hikvision": HIKVISION,
    "dahua_lf_body_rport_last": DAHUA,
    "uniview_vector": UNIVIEW,
    "rport_with_value_and_received": HIKVISION.replace(b";rport;", b";rport=5060;received=100.64.0.7;"),
    "received_flag": HIKVISION.replace(b";rport;", b";received;"),
    "no_rport": HIKVISION.replace(b";rport;", b";"),
    "via_without_port": HIKVISION.replace(b"192.168.1.64:5060", b"192.168.1.64"),
    "via_hostname_upper_case": HIKVISION.replace(b"192.168.1.64:5060", b"IPC-Door.Local:5062"),
    "to_with_tag": HIKVISION.replace(b"To: <sip:34020000002000000001@3402000000>", b"To: <sip:3402@3402000000>;tag=x1"),
    "uri_on_ip_port": HIKVISION.replace(
        b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0",
        b"MESSAGE sip:34020000002000000001@192.168.1.10:5060;transport=udp SIP/2.0",
    ),
    "uri_without_user": HIKVISION.replace(b"MESSAGE sip:34020000002000000001@", b"MESSAGE sip:"),
    "from_uri_with_port": HIKVISION.replace(b"@3402000000>;tag=1023", b"@192.168.1.64:5060>;tag=1023"),
    "headers_lower_case_and_blanks": HIKVISION.replace(b"Via: ", b"via:")
    .replace(b"Call-ID: ", b"call-id:  ")
    .replace(b"CSeq: 20 MESSAGE", b"CSEQ:\t20 MESSAGE \t")
    .replace(b"Content-Length: ", b"Content-Length:   "),
    "call_id_with_host": HIKVISION.replace(b"Call-ID: 1662410235", b"Call-ID: 4a1f-9c.2@192.168.1.64"),
    "gb28181_2022_headers": datagram(
        (
            "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0",
            "Call-ID: 988123",
            "CSeq: 3 MESSAGE",
            "From: <sip:34020000001320000009@3402000000>;tag=abc",
            "To: <sip:34020000002000000001@3402000000>",
            "Via: SIP/2.0/UDP 10.1.2.3:15060;rport;branch=z9hG4bK-524287-1---9d6e",
            "Max-Forwards: 70",
            "X-GB-Ver: 3.0",
            "Date: 2024-05-01T12:00:00.123",
            "Expires: 3600",
            "Allow: INVITE, ACK, BYE, CANCEL, MESSAGE, SUBSCRIBE, NOTIFY",
            "Supported: ",
            "Content-Type: Application/MANSCDP+xml",
            "Content-Length: {length}",
        ),
        b"<?xml version='1.0' encoding='gb18030'?><Notify><CmdType>Keepalive</CmdType><SN>1</SN>"
        b"<DeviceID>34020000001320000009</DeviceID><Status>ERROR</Status></Notify>",
    ),
}
BODIES: dict[str, bytes] = {
    "no_declaration": KEEPALIVE_BODY.split(b"\r\n", 1)[1],
    "version_only": KEEPALIVE_BODY.replace(b' encoding="GB2312"', b""),
    "utf8": KEEPALIVE_BODY.replace(b"GB2312", b"UTF-8"),
    "gbk_lower": KEEPALIVE_BODY.replace(b"GB2312", b"gbk"),
    "gb18030": KEEPALIVE_BODY.replace(b"GB2312", b"GB18030"),
    "single_quotes": KEEPALIVE_BODY.replace(b'"', b"'"),
    "one_line": KEEPALIVE_BODY.replace(b"\r\n", b""),
    "status_on": KEEPALIVE_BODY.replace(b">OK<", b">ON<"),
    "big_sn": KEEPALIVE_BODY.replace(b">53<", b">000999999999999999<"),
    "tabs_and_blank_lines": KEEPALIVE_BODY.replace(b"\r\n<", b"\r\n\r\n\t<"),
    "leading_blank": b"\r\n" + KEEPALIVE_BODY,
}


@pytest.mark.parametrize("data", VARIANTS.values(), ids=VARIANTS.keys())
def test_device_variants_agree_with_the_full_path(data: bytes) -> None:
    assert_agrees(data)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_body_variants_agree_with_the_full_path(body: bytes) -> None:
    assert_agrees(datagram(HIKVISION_HEAD, body))


def test_the_fields_read() -> None:
    quick = assert_agrees(HIKVISION)
    assert (quick.device_id, quick.body_device_id, quick.sn, quick.status) == (
        "34020000001320000001",
        "34020000001320000001",
        53,
        "OK",
    )
    assert quick.key.branch == "z9hG4bK1437829106"
    assert quick.key.sent_by == "192.168.1.64:5060"
    assert (quick.declared, quick.to_tag) == ("GB2312", None)
    with pytest.raises(FrozenInstanceError):
        quick.sn = 54  # type: ignore[misc]


def test_the_answer_behind_a_nat() -> None:
    quick = assert_agrees(HIKVISION)
    assert quick_answer(quick, 200, to_tag=TAG, source=("10.20.30.40", 40112)) == (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport=40112;branch=z9hG4bK1437829106;received=10.20.30.40\r\n"
        b"From: <sip:34020000001320000001@3402000000>;tag=1023463917\r\n"
        b"To: <sip:34020000002000000001@3402000000>;tag=7d0c1e\r\n"
        b"Call-ID: 1662410235\r\n"
        b"CSeq: 20 MESSAGE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert quick.response_target(("10.20.30.40", 40112)) == ("10.20.30.40", 40112)


def test_the_placeholders_are_manscdps() -> None:
    assert PLACEHOLDERS == MANSCDP_PLACEHOLDERS


def test_answer_errors_are_the_full_paths() -> None:
    data = HIKVISION.replace(b";rport;", b";")
    quick = quick_keepalive(data)
    message = parse_datagram(data)
    assert quick is not None and isinstance(message, Request)
    for status, tag, reason, source in (
        (200, "bad tag", None, ("10.0.0.1", 5060)),
        (200, "", None, ("10.0.0.1", 5060)),
        (700, TAG, None, ("10.0.0.1", 5060)),
        (99, TAG, None, ("10.0.0.1", 5060)),
        (200, TAG, "OK\r\nX: y", ("10.0.0.1", 5060)),
        (200, TAG, "OK ", ("10.0.0.1", 5060)),
        (200, TAG, "\ud800", ("10.0.0.1", 5060)),
        (200, TAG, None, ("bad host", 5060)),
    ):
        with pytest.raises(LocalProtocolError):
            make_response(stamp_source(message, *source), status, reason, to_tag=tag)
        with pytest.raises(LocalProtocolError):
            quick_answer(quick, status, to_tag=tag, source=source, reason=reason)
    # a 100 Trying takes no tag, so none is checked; an unknown status has an empty reason phrase
    stamped = stamp_source(message, "10.0.0.1", 5060)
    for status, tag, reason in ((100, "bad tag", None), (299, TAG, None), (200, TAG, "好"), (200, TAG, "")):
        expected = bytes(make_response(stamped, status, reason, to_tag=tag))
        assert quick_answer(quick, status, to_tag=tag, source=("10.0.0.1", 5060), reason=reason) == expected


ACCEPTED_VECTORS = {"uniview_keepalive_message.sip", "content_length_spaces.sip"}
REJECTED_VECTORS = {  # compact forms and two Vias, bare LF, a display name, a cut body
    "compact_headers_message.sip",
    "bare_lf_message.sip",
    "gbk_display_name_message.sip",
    "uniview_keepalive_message_truncated.sip",
}


@pytest.mark.parametrize("path", SIP_VECTORS, ids=lambda path: path.name)
def test_sip_vectors_are_read_alike_or_left_alone(path: Path) -> None:
    data = path.read_bytes()
    quick = quick_keepalive(data)
    if quick is not None:
        assert_agrees(data)
    if path.name in ACCEPTED_VECTORS:
        assert quick is not None
    if path.name in REJECTED_VECTORS:
        assert quick is None


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("keepalive.xml", True),
        ("keepalive_lowercase_elements.xml", False),
        ("keepalive_missing_sn_invalid.xml", False),
        ("keepalive_truncated.xml", False),
    ],
)
def test_manscdp_vectors(name: str, accepted: bool) -> None:
    data = datagram(HIKVISION_HEAD, (DATA / "manscdp" / name).read_bytes())
    if accepted:
        assert_agrees(data)
    else:
        assert quick_keepalive(data) is None


# -------------------------------------------------------------------------------------- generated keepalives

TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
WORD = TOKEN + '()<>:\\"/[]?{}'
tokens = st.text(TOKEN, min_size=1, max_size=12)
ids = st.text("0123456789", min_size=18, max_size=20)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda parts: ".".join(map(str, parts)))
hosts = ipv4 | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,14}", fullmatch=True)
ports = st.none() | st.integers(1, 65535)
blanks = st.sampled_from(["", " ", "  ", "\t", " \t"])
separators = st.sampled_from(["", "\r\n", "\n", " ", "\t", "\r\n  ", "\r\n\t"])


def hostport(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


@st.composite
def keepalives(draw: st.DrawFn) -> bytes:
    device = draw(ids)
    platform = draw(ids)
    domain = draw(st.sampled_from(["3402000000", "3402000000.spvmn.cn", "192.168.1.10:5060"]))
    via_params = [("branch", "z9hG4bK" + draw(st.text(TOKEN, max_size=16)))]
    rport = draw(st.sampled_from([None, "", "5060", str(draw(st.integers(1, 65535)))]))
    if rport is not None:
        via_params.append(("rport", rport))
    if draw(st.booleans()):
        via_params.append(("received", draw(ipv4)))
    if draw(st.booleans()):
        via_params.append(("alias", ""))
    via_params = draw(st.permutations(via_params))
    via_host = draw(hosts)
    params = "".join(f";{name}={value}" if value else f";{name}" for name, value in via_params)
    to_tag = draw(st.none() | tokens)
    call_id = draw(st.text(WORD, min_size=1, max_size=20))
    if draw(st.booleans()):
        call_id += "@" + draw(hosts)
    mandatory = [
        ("Via", f"SIP/2.0/UDP {hostport(via_host, draw(ports))}{params}"),
        ("From", f"<sip:{device}@{domain}>;tag={draw(tokens)}"),
        ("To", f"<sip:{platform}@{domain}>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", call_id),
        ("CSeq", f"{draw(st.integers(0, 2**31 - 1))} MESSAGE"),
        ("Content-Length", "{length}"),
    ]
    optional = [
        ("Content-Type", draw(st.sampled_from(["Application/MANSCDP+xml", "application/manscdp+xml"]))),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
        ("User-Agent", draw(st.sampled_from(["IP Camera", "Embedded Net DVR/NVR/DVS", "DH", "Uniview"]))),
        ("X-GB-Ver", draw(st.sampled_from(["2.0", "3.0"]))),
        ("Date", "2024-05-01T12:00:00.123"),
        ("Expires", "3600"),
        ("Allow", "INVITE, ACK, BYE, CANCEL, MESSAGE"),
        ("Supported", ""),
        ("Contact", f"<sip:{device}@{hostport(via_host, draw(ports))}>"),
    ]
    chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=len(optional)))
    lines = []
    for name, value in draw(st.permutations(mandatory + chosen)):
        name = draw(st.sampled_from([name, name.lower(), name.upper()]))
        lines.append(f"{name}:{draw(blanks) if value else ''}{value}".rstrip(" \t") + draw(blanks))
    uri = f"sip:{platform}@{domain}" + draw(st.sampled_from(["", ";transport=udp"]))
    head = [f"MESSAGE {uri} SIP/2.0", *lines]
    body = draw(bodies(device))
    return datagram(head, body)


@st.composite
def bodies(draw: st.DrawFn, device: str) -> bytes:
    quote = draw(st.sampled_from(['"', "'"]))
    encoding = draw(st.sampled_from([None, "GB2312", "gb2312", "GBK", "GB18030", "UTF-8", "utf-8"]))
    declaration = f"<?xml version={quote}1.0{quote}"
    if encoding is not None:
        declaration += f" encoding={quote}{encoding}{quote}"
    declaration += draw(st.sampled_from(["?>", " ?>"]))
    sep = draw(separators)
    parts = [
        declaration if draw(st.booleans()) else "",
        "<Notify>",
        "<CmdType>Keepalive</CmdType>",
        f"<SN>{draw(st.integers(0, 10**18 - 1))}</SN>",
        f"<DeviceID>{draw(st.sampled_from([device, draw(ids)]))}</DeviceID>",
        f"<Status>{draw(st.sampled_from(['OK', 'ERROR', 'ON', 'OFF']))}</Status>",
        "</Notify>",
    ]
    return (draw(separators) + sep.join(part for part in parts if part) + draw(separators)).encode("ascii")


@FAST
@given(keepalives())
def test_generated_keepalives_agree_with_the_full_path(data: bytes) -> None:
    assert_agrees(data)


# ---------------------------------------------------------------------------------------- what is left alone


def edit(old: bytes, new: bytes, data: bytes = HIKVISION, *, fix_length: bool = True) -> bytes:
    assert old in data, old
    changed = data.replace(old, new, 1)
    if fix_length:
        head, _, body = changed.partition(b"\r\n\r\n")
        head = head.replace(b"Content-Length: 169", f"Content-Length: {len(body)}".encode())
        changed = head + b"\r\n\r\n" + body
    return changed


VIA = b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1437829106"
FROM = b"From: <sip:34020000001320000001@3402000000>;tag=1023463917"
TO = b"To: <sip:34020000002000000001@3402000000>"
REJECTED: dict[str, bytes] = {
    # line endings and framing
    "bare_lf": HIKVISION.replace(b"\r\n", b"\n"),
    "one_bare_lf": edit(b"Call-ID: 1662410235\r\n", b"Call-ID: 1662410235\n"),
    "bare_cr_in_value": edit(b"User-Agent: IP Camera", b"User-Agent: IP\rCamera"),
    "leading_crlf": b"\r\n" + HIKVISION,
    "folded_header": edit(b"User-Agent: IP Camera", b"User-Agent: IP\r\n Camera"),
    "header_without_colon": edit(b"User-Agent: IP Camera", b"User-Agent IP Camera"),
    "header_name_with_space": edit(b"User-Agent:", b"User Agent:"),
    "nul_in_head": edit(b"IP Camera", b"IP\0Camera"),
    "non_ascii_user_agent": edit(b"IP Camera", "海康".encode("gb18030")),
    "too_many_headers": edit(b"Max-Forwards: 70", b"\r\n".join(b"X-H%d: 1" % i for i in range(32))),
    # request line
    "register": edit(b"MESSAGE sip:", b"REGISTER sip:"),
    "lower_case_method": edit(b"MESSAGE sip:", b"message sip:"),
    "sip_3": edit(b"3402000000 SIP/2.0", b"3402000000 SIP/3.0"),
    "tel_uri": edit(b"MESSAGE sip:34020000002000000001@3402000000", b"MESSAGE tel:34020000002000000001"),
    "two_spaces": edit(b"MESSAGE sip:", b"MESSAGE  sip:"),
    "uri_port_out_of_range": edit(b"@3402000000 SIP/2.0", b"@3402000000:65536 SIP/2.0"),
    "uri_headers": edit(b"@3402000000 SIP/2.0", b"@3402000000?x=y SIP/2.0"),
    # Via
    "two_vias": edit(VIA, b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1\r\n" + VIA),
    "comma_in_via": edit(VIA, VIA + b", SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1"),
    "tcp_via": edit(b"SIP/2.0/UDP", b"SIP/2.0/TCP"),
    "lower_case_transport": edit(b"SIP/2.0/UDP", b"SIP/2.0/udp"),
    "non_magic_branch": edit(b"branch=z9hG4bK", b"branch=Z9hG4bK"),
    "rfc2543_branch": edit(b";branch=z9hG4bK1437829106", b";branch=1437829106"),
    "no_branch": edit(b";branch=z9hG4bK1437829106", b""),
    "branch_flag": edit(b";branch=z9hG4bK1437829106", b";branch"),
    "two_branches": edit(b";branch=z9hG4bK1437829106", b";branch=z9hG4bK1;BRANCH=z9hG4bK2"),
    "two_rports": edit(b";rport;", b";rport;rport=5060;"),
    "quoted_param": edit(b";rport;", b';x="a b";'),
    "blank_in_via": edit(b"5060;rport", b"5060 ;rport"),
    "via_port_zero": edit(b"192.168.1.64:5060", b"192.168.1.64:0"),
    "via_port_leading_zero": edit(b"192.168.1.64:5060", b"192.168.1.64:05060"),
    "via_ipv6": edit(b"192.168.1.64:5060", b"[2001:db8::1]:5060"),
    "compact_via": edit(b"Via: ", b"v: "),
    # From, To, Call-ID, CSeq
    "compact_from": edit(b"From: ", b"f: "),
    "compact_to": edit(b"To: ", b"t: "),
    "compact_call_id": edit(b"Call-ID: ", b"i: "),
    "compact_content_type": edit(b"Content-Type: ", b"c: "),
    "compact_content_length": edit(b"Content-Length: ", b"l: "),
    "from_without_tag": edit(b";tag=1023463917", b""),
    "from_display_name": edit(b"From: <sip:", b'From: "IPC" <sip:'),
    "from_other_param": edit(b";tag=1023463917", b";tag=1023463917;x=1"),
    "from_without_brackets": edit(FROM, b"From: sip:34020000001320000001@3402000000;tag=1023463917"),
    "to_without_user": edit(TO, b"To: <sip:3402000000>"),
    "two_froms": edit(FROM, FROM + b"\r\n" + FROM),
    "two_tos": edit(TO, TO + b"\r\n" + TO),
    "two_call_ids": edit(b"Call-ID: 1662410235", b"Call-ID: 1662410235\r\nCall-ID: 1662410236"),
    "two_cseqs": edit(b"CSeq: 20 MESSAGE", b"CSeq: 20 MESSAGE\r\nCSeq: 20 MESSAGE"),
    "no_from": edit(FROM + b"\r\n", b""),
    "no_call_id": edit(b"Call-ID: 1662410235\r\n", b""),
    "no_cseq": edit(b"CSeq: 20 MESSAGE\r\n", b""),
    "blank_in_call_id": edit(b"Call-ID: 1662410235", b"Call-ID: 16624 10235"),
    "cseq_register": edit(b"CSeq: 20 MESSAGE", b"CSeq: 20 REGISTER"),
    "cseq_lower_case": edit(b"CSeq: 20 MESSAGE", b"CSeq: 20 message"),
    "cseq_too_big": edit(b"CSeq: 20 MESSAGE", b"CSeq: 2147483648 MESSAGE"),
    "record_route": edit(b"Max-Forwards: 70", b"Record-Route: <sip:10.0.0.1;lr>\r\nMax-Forwards: 70"),
    # Content-Length
    "length_plus_one": edit(b"Content-Length: 169", b"Content-Length: 170", fix_length=False),
    "length_minus_one": edit(b"Content-Length: 169", b"Content-Length: 168", fix_length=False),
    "length_leading_zero": edit(b"Content-Length: 169", b"Content-Length: 0169", fix_length=False),
    "no_length": edit(b"\r\nContent-Length: 169", b"", fix_length=False),
    "two_lengths": edit(b"Content-Length: 169", b"Content-Length: 169\r\nContent-Length: 169", fix_length=False),
    # body
    "info": edit(b"</Status>\r\n", b"</Status>\r\n<Info>\r\n<DeviceID>34020000001310000001</DeviceID>\r\n</Info>\r\n"),
    "catalog": edit(b">Keepalive<", b">Catalog<"),
    "lower_case_cmdtype": edit(b">Keepalive<", b">keepalive<"),
    "lower_case_elements": edit(b"<Notify>", b"<notify>"),
    "query_root": edit(b"<Notify>", b"<Query>").replace(b"</Notify>", b"</Query>"),
    "no_sn": edit(b"<SN>53</SN>\r\n", b""),
    "negative_sn": edit(b"<SN>53</SN>", b"<SN>-53</SN>"),
    "blank_in_sn": edit(b"<SN>53</SN>", b"<SN> 53</SN>"),
    "elements_reordered": edit(
        b"<SN>53</SN>\r\n<DeviceID>34020000001320000001</DeviceID>",
        b"<DeviceID>34020000001320000001</DeviceID>\r\n<SN>53</SN>",
    ),
    "extra_element": edit(b"<Status>", b"<Foo>1</Foo><Status>"),
    "comment": edit(b"<Notify>", b"<Notify><!-- x -->"),
    "null_device_id": edit(b">34020000001320000001</DeviceID>", b">null</DeviceID>"),
    "placeholder_status": edit(b">OK<", b">Owner<"),
    "empty_status": edit(b">OK<", b"><"),
    "entity_in_status": edit(b">OK<", b">O&amp;K<"),
    "trailing_garbage": edit(b"</Notify>\r\n", b"</Notify>\r\n\0\0"),
    "second_document": edit(b"</Notify>\r\n", b"</Notify>\r\n<Notify></Notify>"),
    "truncated_body": edit(b"</Notify>\r\n", b"</Not"),
    "latin1_declared": edit(b"GB2312", b"ISO-8859-1"),
    "version_1_1": edit(b'version="1.0"', b'version="1.1"'),
    "mixed_quotes": edit(b'version="1.0"', b"version='1.0\""),
    "standalone": edit(b'"GB2312"?>', b'"GB2312" standalone="yes"?>'),
    "bom": edit(b"<?xml", b"\xef\xbb\xbf<?xml"),
    "gbk_status": edit(b">OK<", "正常".encode("gb18030")),
    "body_over_600_bytes": edit(b"</Notify>\r\n", b"</Notify>\r\n" + b" " * 600),
    # not a keepalive at all
    "empty": b"",
    "crlf_ping": b"\r\n\r\n",
    "head_only": HIKVISION.partition(b"\r\n\r\n")[0],
    "response": b"SIP/2.0 200 OK\r\n" + HIKVISION.partition(b"\r\n")[2],
}


@pytest.mark.parametrize("data", REJECTED.values(), ids=REJECTED.keys())
def test_anything_unusual_is_left_to_the_full_path(data: bytes) -> None:
    assert data != HIKVISION
    assert quick_keepalive(data) is None


def test_oversized_datagrams_are_left_alone() -> None:
    assert quick_keepalive(HIKVISION, max_size=len(HIKVISION)) is not None
    assert quick_keepalive(HIKVISION, max_size=len(HIKVISION) - 1) is None
    padded = edit(b"IP Camera", b"IP Camera" + b"x" * 1200)
    assert len(padded) > 1500
    assert quick_keepalive(padded) is None
    assert quick_keepalive(padded, max_size=4000) is not None
    assert quick_keepalive(edit(b"IP Camera", b"x" * 9000), max_size=100_000) is None  # clamped to 8 KiB


def test_every_truncation_is_left_alone() -> None:
    for end in range(len(HIKVISION)):
        assert quick_keepalive(HIKVISION[:end]) is None, end


# ------------------------------------------------------------------------------------------------ fuzzing


def assert_safe(data: bytes) -> None:
    """Never an exception; when the fast path accepts, the full path agrees."""
    quick = quick_keepalive(data)
    if quick is not None:
        assert_agrees(data)
    else:
        with contextlib.suppress(SipError):
            parse_datagram(data)


@FAST
@given(st.binary(max_size=800))
@example(b"MESSAGE ")
@example(b"MESSAGE \r\n\r\n")
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert_safe(data)


INTERESTING = [
    b"\0", b"\t", b"\n", b"\r", b"\r\n", b" ", b'"', b",", b":", b";", b"<", b">", b"=", b"@", b"0", b"9",
    b"a", b"Z", b"\xff", b"\xc3", b";rport", b";received=1.2.3.4", b"<Info>", b"z9hG4bK", b"v: ", b"\r\n ",
]  # fmt: skip


@st.composite
def mutated_keepalives(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([HIKVISION, DAHUA, UNIVIEW]) | keepalives()))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(INTERESTING))
        if operation == "insert":
            data[position:position] = piece
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            data[position : position + len(piece)] = piece
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_keepalives())
def test_mutated_keepalives_are_read_alike_or_left_alone(data: bytes) -> None:
    assert_safe(data)
