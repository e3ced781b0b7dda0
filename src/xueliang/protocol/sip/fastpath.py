"""A fast path for the datagram a platform receives most: a device's Keepalive MESSAGE, and its 200 OK.

The platform must answer 20,000 keepalives a second on one core, 50 µs each with the socket work. The full path
(``parse_datagram``, ``stamp_source``, ``server_key``, ``manscdp.parse``, ``make_response``) took 72 µs per
keepalive in ``bench/bench_sip_parse.py``, so :func:`quick_keepalive` recognises the well-formed keepalive with a
handful of anchored regular expressions over the bytes, and :func:`quick_answer` writes its answer from a
template: 12.5 µs for both in the same run (the frozen result object is 1.2 µs of it).

The contract is one-sided: whenever :func:`quick_keepalive` returns a :class:`QuickKeepalive`, the full path
reads the same datagram the same way (the same transaction key, sender, body fields and declared charset) and
:func:`quick_answer` gives the very bytes ``make_response`` would. Anything unusual gives None and the caller
takes the full path, which is also where every error is reported. Accepted, and nothing else:

- a request line ``MESSAGE sip:[user@]host[:port][;params] SIP/2.0``; the whole datagram ASCII with CRLF line
  endings only, the head ending at the first CRLFCRLF, at most ``max_size`` bytes (clamped to 8 KiB); hosts
  are names or IPv4 addresses, ports 1-65535 without leading zeros;
- header lines ``Name: value`` (token name, blanks around the colon allowed, printable values, no folding),
  at most 32, no compact forms, no Record-Route;
- Via, From, To, Call-ID, CSeq and Content-Length once each: one Via value ``SIP/2.0/UDP host[:port];params``
  (token parameters, no name twice, a ``branch`` with the RFC 3261 cookie), From and To ``<sip:user@host[:port]>``
  with ``;tag=token`` (From must have it), a Call-ID of RFC 3261 words, ``CSeq: N MESSAGE``, a Content-Length
  equal to the body's length;
- a body of at most 600 bytes: an optional declaration (version 1.0, encoding GB2312, GBK, GB18030 or UTF-8 in
  any case, or none), then ``<Notify>`` with exactly CmdType ``Keepalive``, SN, DeviceID and Status in that
  order, whitespace between elements. A body with ``<Info>`` (faulty sub-devices) takes the full path.

Errors: the only exceptions are the :class:`LocalProtocolError` that :func:`quick_answer` raises where
``make_response`` and ``stamp_source`` would (a status out of range, a bad reason phrase or To tag, a source
host no Via parameter can carry). :func:`quick_keepalive` never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xueliang.protocol.sip.builders import REASON_PHRASES
from xueliang.protocol.sip.errors import LocalProtocolError
from xueliang.protocol.sip.fields import BRANCH_MAGIC
from xueliang.protocol.sip.grammar import PARAM_VALUE_RE, TOKEN_RE, Params, format_params
from xueliang.protocol.sip.transactions import TransactionKey

__all__ = ["QuickKeepalive", "quick_answer", "quick_keepalive"]

MAX_DATAGRAM = 8 * 1024  # ``max_size`` is clamped to this, far below DEFAULT_LIMITS (16 KiB head, 64 KiB datagram)
MAX_BODY = 600
MAX_HEADER_LINES = 32  # below DEFAULT_LIMITS.max_headers (100)
MAX_CSEQ = 2**31 - 1
#: The template values MANSCDP reads as empty (``manscdp.xml.PLACEHOLDERS``, checked equal by a test): a body
#: saying ``<DeviceID>null</DeviceID>`` is not a keepalive the fast path may read.
PLACEHOLDERS = frozenset({"null", "owner", "civilcode", "manufacturer", "address"})
_PLACEHOLDERS = frozenset(word.encode("ascii") for word in PLACEHOLDERS)

_TOKEN = TOKEN_RE.pattern
_HOST = r"[A-Za-z0-9\-._]+"  # the hosts SipUri and Via accept, IPv6 references left to the full path
_USER = r"[A-Za-z0-9\-_.]+"
# 1 to 65535 without leading zeros, so that a port reads back as written
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"  # RFC 3261 word, what a Call-ID is made of

_REQUEST_LINE_RE = re.compile(rf"MESSAGE sip:(?:{_USER}@)?{_HOST}(?::{_PORT})?(?:;{_TOKEN}(?:={_TOKEN})?)* SIP/2\.0")
# one header line after its CRLF: the parser's rule (blanks around the colon and after the value stripped),
# restricted to printable ASCII values; a line it does not match (folding, a bad name) is not counted
_HEADER_RE = re.compile(rf"\r\n({_TOKEN})[ \t]*:[ \t]*((?:[!-~](?:[\t -~]*[!-~])?)?)[ \t]*(?=\r\n|\Z)")
_VIA_RE = re.compile(rf"SIP/2\.0/UDP ({_HOST})(?::({_PORT}))?((?:;{_TOKEN}(?:={_TOKEN})?)+)")
_NAME_ADDR_RE = re.compile(rf"<sip:({_USER})@{_HOST}(?::{_PORT})?>(?:;tag=({_TOKEN}))?")
_CALL_ID_RE = re.compile(rf"{_WORD}(?:@{_WORD})?")
_CSEQ_RE = re.compile(r"([0-9]{1,10}) MESSAGE")
_KEEPALIVE_RE = re.compile(
    rb"[ \t\r\n]*"
    rb"(?:<\?xml version=([\"'])1\.0\1(?: encoding=([\"'])((?i:GB2312|GBK|GB18030|UTF-8))\2)? ?\?>[ \t\r\n]*)?"
    rb"<Notify>[ \t\r\n]*<CmdType>Keepalive</CmdType>[ \t\r\n]*<SN>([0-9]{1,18})</SN>[ \t\r\n]*"
    rb"<DeviceID>([A-Za-z0-9]{1,64})</DeviceID>[ \t\r\n]*<Status>([A-Za-z]{1,32})</Status>[ \t\r\n]*"
    rb"</Notify>[ \t\r\n]*"
)
_REQUIRED = frozenset({"via", "from", "to", "call-id", "cseq", "content-length"})


@dataclass(frozen=True, slots=True)
class QuickKeepalive:
    """A keepalive read by :func:`quick_keepalive` (only it builds one): what the caller needs to account for the
    device and answer, and the raw header values the answer copies."""

    key: TransactionKey  # == server_key(stamp_source(parse_message(data), host, port)), whatever the source
    device_id: str  # the sender: the From URI user
    body_device_id: str  # <DeviceID> of the body
    sn: int
    status: str  # <Status> as written: OK, ERROR, ON, ...
    declared: str | None  # the declared encoding label as written (``manscdp.Parsed.declared``), None without
    to_tag: str | None  # the request's To tag; usually None, the answer then carries the caller's
    raw_via: str
    raw_from: str
    raw_to: str
    call_id: str
    raw_cseq: str
    via_host: str
    via_port: int | None
    via_params: Params
    rport_requested: bool

    def stamped_via(self, source_host: str, source_port: int) -> str:
        """The top Via as ``stamp_source`` records it (``received``, ``rport``; :meth:`Via.stamped`)."""
        if source_host == self.via_host and not self.rport_requested:
            return self.raw_via
        params = _with_param(self.via_params, "received", source_host)
        if self.rport_requested:
            params = _with_param(params, "rport", str(source_port))
        if PARAM_VALUE_RE.fullmatch(source_host) is None:
            raise LocalProtocolError(f"bad value for parameter 'received' in Via: {source_host!r}")
        sent_by = self.via_host if self.via_port is None else f"{self.via_host}:{self.via_port}"
        return f"SIP/2.0/UDP {sent_by}{format_params(params)}"

    def response_target(self, source: tuple[str, int]) -> tuple[str, int]:
        """Where the answer goes: ``fields.response_target`` of the stamped Via."""
        if self.rport_requested:
            return source
        host = source[0]
        if host == self.via_host:
            host = _param(self.via_params, "received") or host
        return host, self.via_port or 5060


def quick_keepalive(data: bytes, max_size: int = 1500) -> QuickKeepalive | None:
    """The keepalive in one UDP datagram, read without a full parse; None when the datagram is anything else or
    anything about it is unusual (the caller then takes the full path)."""
    if len(data) > min(max_size, MAX_DATAGRAM) or not data.startswith(b"MESSAGE ") or not data.isascii():
        return None
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0 or len(data) - head_end - 4 > MAX_BODY:
        return None
    body = data[head_end + 4 :]
    document = _KEEPALIVE_RE.fullmatch(body)
    if document is None:
        return None
    head = data[:head_end].decode("ascii")
    line_end = head.find("\r\n")
    if line_end < 0:
        return None
    if _REQUEST_LINE_RE.fullmatch(head, 0, line_end) is None:
        return None
    # each match holds one CR and one LF, its leading CRLF, and runs to the next CRLF: when the head has no
    # other CR or LF, every line after the request line is one the pattern matched whole
    pairs: list[tuple[str, str]] = _HEADER_RE.findall(head, line_end)
    lines = len(pairs)
    if lines > MAX_HEADER_LINES or not lines == head.count("\r") == head.count("\n"):
        return None
    found: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in _REQUIRED:
            if key in found:
                return None
            found[key] = value
        elif len(key) == 1 or key == "record-route":  # compact forms; a route set is the full path's business
            return None
    if len(found) != len(_REQUIRED):
        return None
    return _read(found, body, document)


def _read(found: dict[str, str], body: bytes, document: re.Match[bytes]) -> QuickKeepalive | None:
    cseq = _CSEQ_RE.fullmatch(found["cseq"])
    from_ = _NAME_ADDR_RE.fullmatch(found["from"])
    to = _NAME_ADDR_RE.fullmatch(found["to"])
    via = _VIA_RE.fullmatch(found["via"])
    if (
        found["content-length"] != str(len(body))
        or cseq is None
        or int(cseq.group(1)) > MAX_CSEQ
        or _CALL_ID_RE.fullmatch(found["call-id"]) is None
        or from_ is None
        or to is None
        or via is None
    ):
        return None
    device_id, from_tag = from_.groups()
    host, port_text, param_text = via.groups()
    params = _params(param_text)
    if from_tag is None or params is None:
        return None
    branch = _param(params, "branch")
    if branch is None or not branch.startswith(BRANCH_MAGIC):
        return None
    _, _, declared, sn, body_device_id, status = document.groups()
    if body_device_id.lower() in _PLACEHOLDERS or status.lower() in _PLACEHOLDERS:
        return None
    port = int(port_text) if port_text else None
    return QuickKeepalive(
        TransactionKey(branch, f"{host.lower()}:{port or 5060}", "MESSAGE"),
        device_id,
        body_device_id.decode("ascii"),
        int(sn),
        status.decode("ascii"),
        None if declared is None else declared.decode("ascii"),
        to.group(2),
        found["via"],
        found["from"],
        found["to"],
        found["call-id"],
        found["cseq"],
        host,
        port,
        params,
        _param(params, "rport") is not None,
    )


def quick_answer(
    keepalive: QuickKeepalive, status: int, *, to_tag: str, source: tuple[str, int], reason: str | None = None
) -> bytes:
    """The bytes of the answer, identical to
    ``bytes(make_response(stamp_source(parse_message(data), *source), status, reason, to_tag=to_tag))``."""
    via = keepalive.stamped_via(*source)
    to = keepalive.raw_to
    if status > 100:
        if TOKEN_RE.fullmatch(to_tag) is None:
            raise LocalProtocolError(f"To tag must be a token, got {to_tag!r}")
        if keepalive.to_tag is None:
            to = f"{to};tag={to_tag}"
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"status code out of range: {status}")
    if reason is None:
        reason = REASON_PHRASES.get(status, "")
    elif "\r" in reason or "\n" in reason or "\0" in reason or reason != reason.strip(" \t"):
        raise LocalProtocolError("reason phrase contains CR, LF or NUL, or leading or trailing whitespace")
    text = (
        f"SIP/2.0 {status} {reason}\r\nVia: {via}\r\nFrom: {keepalive.raw_from}\r\nTo: {to}\r\n"
        f"Call-ID: {keepalive.call_id}\r\nCSeq: {keepalive.raw_cseq}\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"reason phrase cannot be encoded: {exc.reason}") from exc


def _params(text: str) -> Params | None:
    """``;a=b;flag`` (already matched as token parameters) as pairs; None when a name comes twice in any case."""
    params: list[tuple[str, str | None]] = []
    names: set[str] = set()
    for raw in text[1:].split(";"):
        name, sep, value = raw.partition("=")
        lowered = name.lower()
        if lowered in names:
            return None
        names.add(lowered)
        params.append((name, value if sep else None))
    return tuple(params)


def _param(params: Params, name: str) -> str | None:
    """``grammar.param_value`` for token parameters: ``""`` for a flag, None when absent."""
    for key, value in params:
        if key.lower() == name:
            return value or ""
    return None


def _with_param(params: Params, name: str, value: str) -> Params:
    """``grammar.replace_param`` for parameters whose names are unique: replaced in place (keeping the spelling
    of the name) or appended."""
    for index, (key, _) in enumerate(params):
        if key.lower() == name:
            return (*params[:index], (key, value), *params[index + 1 :])
    return (*params, (name, value))
