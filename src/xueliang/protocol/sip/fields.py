"""Typed values of the structured SIP headers: Via, name-addr (From, To, Contact, Route), CSeq, and the GB/T 28181
``Date`` format. Each is a frozen dataclass with ``parse(text)`` and ``__str__``.

NAT rule (GB28181.md section 6, RFC 3261 18.2.2 and RFC 3581): answer to the address a request came from, not
blindly to its Via. :meth:`Via.stamped` records the source on the top Via as a server receives a request;
:func:`response_target` says where a response to it goes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.grammar import (
    TOKEN_RE,
    Params,
    check_params,
    format_params,
    param_value,
    parse_params,
    parse_uint,
    quote,
    replace_param,
)
from xueliang.protocol.sip.uri import MAX_PORT, SipUri

__all__ = [
    "BRANCH_MAGIC",
    "CSeq",
    "NameAddr",
    "Via",
    "format_gb_date",
    "parse_gb_date",
    "response_target",
]

#: RFC 3261 branch prefix: a Via whose branch starts with it has a globally unique branch.
BRANCH_MAGIC = "z9hG4bK"
MAX_CSEQ = 2**31 - 1
_SENT_PROTOCOL_RE = re.compile(r"\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(.*)", re.IGNORECASE | re.DOTALL)
_HOST_RE = re.compile(r"[A-Za-z0-9\-._]+|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Via:
    """One Via value: ``SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK123``."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        if TOKEN_RE.fullmatch(self.transport) is None:
            raise LocalProtocolError(f"bad Via transport {self.transport!r}")
        if _HOST_RE.fullmatch(self.host) is None:
            raise LocalProtocolError(f"bad Via host {self.host!r}")
        if self.port is not None and not 0 <= self.port <= MAX_PORT:
            raise LocalProtocolError(f"bad Via port {self.port}")
        check_params(self.params, "Via")

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _SENT_PROTOCOL_RE.fullmatch(text)
        if match is None:
            raise RemoteProtocolError(f"bad Via {text[:80]!r}")
        transport, rest = match.groups()
        sent_by, _, param_text = rest.partition(";")
        sent_by = sent_by.strip()
        if sent_by.startswith("["):
            end = sent_by.find("]")
            host, port_text = sent_by[: end + 1], sent_by[end + 1 :]
            if port_text and port_text[0] != ":":
                raise RemoteProtocolError(f"bad Via sent-by {sent_by[:60]!r}")
            port_text = port_text[1:]
        else:
            host, _, port_text = sent_by.partition(":")
        port = parse_uint(port_text, "Via port", maximum=MAX_PORT) if port_text.strip() else None
        try:
            return cls(transport=transport, host=host.strip(), port=port, params=parse_params(param_text, "Via"))
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"bad Via {text[:80]!r}: {exc.message}") from exc

    def __str__(self) -> str:
        sent_by = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"SIP/2.0/{self.transport} {sent_by}{format_params(self.params)}"

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    @property
    def branch(self) -> str | None:
        return param_value(self.params, "branch")

    @property
    def received(self) -> str | None:
        return param_value(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The port a server filled into ``;rport=``; None when absent or requested without a value."""
        value = param_value(self.params, "rport")
        if not value:
            return None
        return parse_uint(value, "Via rport", maximum=MAX_PORT)

    @property
    def rport_requested(self) -> bool:
        """True when the client asked for symmetric response routing (``;rport`` present, RFC 3581)."""
        return param_value(self.params, "rport") is not None

    @property
    def reliable(self) -> bool:
        """True for stream transports (TCP, TLS, SCTP, WS), where retransmission timers do not run."""
        return self.transport.upper() in {"TCP", "TLS", "SCTP", "TLS-SCTP", "WS", "WSS"}

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def with_param(self, name: str, value: str | None) -> Via:
        return replace(self, params=replace_param(self.params, name, value))

    def stamped(self, source_host: str, source_port: int) -> Via:
        """This Via as a server records it (RFC 3261 18.2.1, RFC 3581 4): ``received`` when the source address
        differs from sent-by (or rport was requested), ``rport=<source port>`` when rport was requested."""
        via = self
        if source_host != self.host or self.rport_requested:
            via = via.with_param("received", source_host)
        if self.rport_requested:
            via = via.with_param("rport", str(source_port))
        return via


def response_target(via: Via, source: tuple[str, int] | None = None) -> tuple[str, int]:
    """Where a response to a request with top Via ``via`` goes (RFC 3261 18.2.2, RFC 3581): the source address
    when rport was used or recorded, else ``received`` (or sent-by) with the sent-by port (default 5060)."""
    if source is not None and via.rport_requested:
        return source
    rport = via.rport
    host = via.received or via.host
    if rport is not None:
        return host, rport
    return host, via.port if via.port is not None else 5060


@dataclass(frozen=True, slots=True, kw_only=True)
class NameAddr:
    """``"display" <uri>;params`` as in From, To, Contact, Route, Record-Route."""

    uri: SipUri
    display_name: str | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        if self.display_name is not None and any(char in self.display_name for char in "\r\n\0"):
            raise LocalProtocolError("display name contains CR, LF or NUL")
        check_params(self.params, "name-addr")

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        display: str | None = None
        if text.startswith('"'):
            end = _closing_quote(text)
            if end < 0:
                raise RemoteProtocolError(f"unterminated display name in {text[:80]!r}")
            display = _unescape(text[1:end])
            text = text[end + 1 :].lstrip()
            if not text.startswith("<"):
                raise RemoteProtocolError(f"display name without <uri> in {text[:80]!r}")
        if "<" in text:
            before, _, rest = text.partition("<")
            uri_text, closed, param_text = rest.partition(">")
            if not closed:
                raise RemoteProtocolError(f"unterminated <uri> in {text[:80]!r}")
            before = before.strip()
            if before:
                display = before
        else:
            # addr-spec without brackets: parameters belong to the header, not the URI (RFC 3261 20.10)
            uri_text, _, param_text = text.partition(";")
            if "?" in uri_text or "," in uri_text:
                raise RemoteProtocolError(f"unbracketed URI with headers or commas {text[:80]!r}")
        uri = SipUri.parse(uri_text)
        try:
            return cls(uri=uri, display_name=display, params=parse_params(param_text, "name-addr"))
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"bad name-addr {text[:80]!r}: {exc.message}") from exc

    def __str__(self) -> str:
        params = format_params(self.params)
        if self.display_name is not None:
            return f"{quote(self.display_name)} <{self.uri}>{params}"
        return f"<{self.uri}>{params}"

    @property
    def tag(self) -> str | None:
        return param_value(self.params, "tag")

    def with_tag(self, tag: str) -> NameAddr:
        return replace(self, params=replace_param(self.params, "tag", tag))

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)


def _closing_quote(text: str) -> int:
    escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    return -1


def _unescape(inner: str) -> str:
    return re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: 2 REGISTER``: the sequence number (0 .. 2**31-1) and the method."""

    number: int
    method: str

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_CSEQ:
            raise LocalProtocolError(f"CSeq number out of range: {self.number}")
        if TOKEN_RE.fullmatch(self.method) is None:
            raise LocalProtocolError(f"bad CSeq method {self.method!r}")

    @classmethod
    def parse(cls, text: str) -> CSeq:
        number, _, method = text.strip().partition(" ")
        method = method.strip()
        if TOKEN_RE.fullmatch(method) is None:
            raise RemoteProtocolError(f"bad CSeq {text[:60]!r}")
        return cls(parse_uint(number, "CSeq number", maximum=MAX_CSEQ), method)

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


_GB_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?")


def parse_gb_date(text: str) -> dt.datetime:
    """``2024-05-01T12:00:00.000`` (milliseconds optional; a space instead of T tolerated) as a naive datetime in
    the sender's local time, which GB/T 28181 leaves implicit."""
    match = _GB_DATE_RE.fullmatch(text.strip())
    if match is None:
        raise RemoteProtocolError(f"bad GB/T 28181 date {text[:40]!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError as exc:
        raise RemoteProtocolError(f"bad GB/T 28181 date {text[:40]!r}") from exc


def format_gb_date(value: dt.datetime) -> str:
    """The ``Date`` a registrar's 200 OK carries for time sync: ``YYYY-MM-DDTHH:MM:SS.sss``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
