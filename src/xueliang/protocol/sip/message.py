"""SIP requests and responses: frozen, slotted, with ``parse`` and ``__bytes__``.

A message holds its start line, :class:`~xueliang.protocol.sip.headers.Headers` and body bytes. Typed accessors
(``via``, ``from_``, ``to``, ``call_id``, ``cseq``, ``contacts``, ``expires``, ...) read the headers on demand and
raise :class:`RemoteProtocolError` when a value is malformed. ``bytes(message)`` writes CRLF line endings, the
headers in order and a ``Content-Length`` computed from the body, last.

:func:`parse_message` reads one whole message (datagram rules, RFC 3261 18.3: no Content-Length means the body
runs to the end; a Content-Length shorter than the data truncates the body; a longer one is a 400). It also
demands the headers every transaction needs: Via, From, To, Call-ID and a CSeq whose method matches the
request's. The TCP stream reader is :class:`xueliang.protocol.sip.framing.StreamReader`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import cast

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.fields import CSeq, NameAddr, Via, parse_gb_date
from xueliang.protocol.sip.grammar import TOKEN_RE, parse_uint
from xueliang.protocol.sip.headers import Headers
from xueliang.protocol.sip.parser import DEFAULT_LIMITS, Head, Limits, RequestLine, find_head_end, parse_head
from xueliang.protocol.sip.uri import SipUri

__all__ = ["MANDATORY_HEADERS", "Message", "Method", "Request", "Response", "parse_message"]

MANDATORY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
_MANDATORY_KEYS = frozenset(name.lower() for name in MANDATORY_HEADERS)
_EMPTY_HEADERS = Headers()


class Method(enum.StrEnum):
    """The methods GB/T 28181 uses. ``Request.method`` is a plain ``str``: unknown methods parse too."""

    REGISTER = "REGISTER"
    MESSAGE = "MESSAGE"
    INVITE = "INVITE"
    ACK = "ACK"
    BYE = "BYE"
    CANCEL = "CANCEL"
    INFO = "INFO"
    SUBSCRIBE = "SUBSCRIBE"
    NOTIFY = "NOTIFY"
    OPTIONS = "OPTIONS"


class _Accessors:
    """Typed views of the headers, shared by requests and responses."""

    __slots__ = ()
    headers: Headers
    body: bytes
    _memo: dict[str, object]  # parsed values of the headers read most (top Via, CSeq, From, To)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def vias(self) -> tuple[Via, ...]:
        return tuple(Via.parse(value) for value in self.headers.get_list("Via"))

    @property
    def via(self) -> Via:
        """The top Via."""
        via = self._memo.get("Via")
        if via is None:
            values = self.headers.get_list("Via")
            if not values:
                raise RemoteProtocolError("no Via header")
            via = self._memo["Via"] = Via.parse(values[0])
        return cast(Via, via)

    @property
    def from_(self) -> NameAddr:
        return self._name_addr("From")

    @property
    def to(self) -> NameAddr:
        return self._name_addr("To")

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        cseq = self._memo.get("CSeq")
        if cseq is None:
            cseq = self._memo["CSeq"] = CSeq.parse(self._required("CSeq"))
        return cast(CSeq, cseq)

    @property
    def contacts(self) -> tuple[NameAddr, ...]:
        """Every Contact; empty for none and for the REGISTER wildcard ``Contact: *``."""
        values = self.headers.get_list("Contact")
        if values == ["*"]:
            return ()
        return tuple(NameAddr.parse(value) for value in values)

    @property
    def contact(self) -> NameAddr | None:
        contacts = self.contacts
        return contacts[0] if contacts else None

    @property
    def contact_is_wildcard(self) -> bool:
        return self.headers.get_list("Contact") == ["*"]

    @property
    def routes(self) -> tuple[NameAddr, ...]:
        return tuple(NameAddr.parse(value) for value in self.headers.get_list("Route"))

    @property
    def record_routes(self) -> tuple[NameAddr, ...]:
        return tuple(NameAddr.parse(value) for value in self.headers.get_list("Record-Route"))

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        return None if value is None else parse_uint(value, "Expires", maximum=2**32 - 1)

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else parse_uint(value, "Max-Forwards", maximum=255)

    @property
    def content_type(self) -> str | None:
        """As written, e.g. ``Application/MANSCDP+xml``; compare with :attr:`media_type`."""
        return self.headers.get("Content-Type")

    @property
    def media_type(self) -> str | None:
        """The content type without parameters, lower-cased: ``application/manscdp+xml``, ``application/sdp``."""
        value = self.headers.get("Content-Type")
        return None if value is None else value.partition(";")[0].strip().lower()

    @property
    def subject(self) -> str | None:
        return self.headers.get("Subject")

    @property
    def date(self) -> dt.datetime | None:
        """The GB/T 28181 ``Date`` (``2024-05-01T12:00:00.000``, milliseconds optional) as a naive datetime."""
        value = self.headers.get("Date")
        return None if value is None else parse_gb_date(value)

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("User-Agent")

    @property
    def content_length(self) -> int:
        return len(self.body)

    def _name_addr(self, name: str) -> NameAddr:
        value = self._memo.get(name)
        if value is None:
            value = self._memo[name] = NameAddr.parse(self._required(name))
        return cast(NameAddr, value)

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise RemoteProtocolError(f"no {name} header")
        return value


def _check_text(text: str, what: str) -> None:
    if "\r" in text or "\n" in text or "\0" in text:
        raise LocalProtocolError(f"{what} contains CR, LF or NUL")
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{what} cannot be encoded: {exc.reason}") from exc


def _serialise(start: str, headers: Headers, body: bytes) -> bytes:
    lines = [start]
    lines.extend(f"{name}: {value}" for name, value in headers.fields)
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body


@dataclass(frozen=True, slots=True, kw_only=True)
class Request(_Accessors):
    method: str
    uri: SipUri
    headers: Headers = field(default=_EMPTY_HEADERS)
    body: bytes = b""
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if TOKEN_RE.fullmatch(self.method) is None:
            raise LocalProtocolError(f"method must be a token, got {self.method!r}")

    @classmethod
    def parse(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request:
        message = parse_message(data, limits)
        if not isinstance(message, Request):
            raise RemoteProtocolError("expected a request, got a response")
        return message

    def __bytes__(self) -> bytes:
        return _serialise(f"{self.method} {self.uri} SIP/2.0", self.headers, self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class Response(_Accessors):
    status_code: int
    reason: str = ""
    headers: Headers = field(default=_EMPTY_HEADERS)
    body: bytes = b""
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 100 <= self.status_code <= 699:
            raise LocalProtocolError(f"status code out of range: {self.status_code}")
        _check_text(self.reason, "reason phrase")
        if self.reason != self.reason.strip(" \t"):
            raise LocalProtocolError("reason phrase has leading or trailing whitespace")

    @classmethod
    def parse(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Response:
        message = parse_message(data, limits)
        if not isinstance(message, Response):
            raise RemoteProtocolError("expected a response, got a request")
        return message

    @property
    def provisional(self) -> bool:
        return self.status_code < 200

    @property
    def success(self) -> bool:
        return 200 <= self.status_code < 300

    def __bytes__(self) -> bytes:
        return _serialise(f"SIP/2.0 {self.status_code} {self.reason}", self.headers, self.body)


Message = Request | Response


def parse_message(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Message:
    """One whole message (datagram rules; leading CR/LF ignored). Raises :class:`RemoteProtocolError`."""
    view = memoryview(data)
    if len(view) > limits.max_datagram_bytes:
        raise RemoteProtocolError(f"message over {limits.max_datagram_bytes} bytes", status_hint=513)
    raw = bytes(view).lstrip(b"\r\n")
    if not raw:
        raise RemoteProtocolError("empty message")
    bounds = find_head_end(raw)
    if bounds is None:
        # a head with no blank line after it: every header line is there only if the data ends with a newline
        if not raw.endswith(b"\n"):
            raise RemoteProtocolError("message head is truncated (no blank line)")
        head_end, body_start = len(raw), len(raw)
    else:
        head_end, body_start = bounds
    head = parse_head(raw[:head_end], limits)
    body = raw[body_start:]
    if head.content_length is not None:
        if head.content_length > len(body):
            raise RemoteProtocolError(f"Content-Length {head.content_length} but only {len(body)} body bytes")
        body = body[: head.content_length]
    return message_from_head(head, body)


def message_from_head(head: Head, body: bytes) -> Message:
    """Build the message for a parsed head and its body, checking the headers every transaction needs."""
    headers = head.headers
    if not _MANDATORY_KEYS.issubset(headers._keys):
        missing = [name for name in MANDATORY_HEADERS if name not in headers]
        raise RemoteProtocolError(f"no {missing[0]} header")
    cseq_value = headers.get("CSeq")
    assert cseq_value is not None
    cseq = CSeq.parse(cseq_value)
    vias = headers.get_list("Via")
    if not vias:
        raise RemoteProtocolError("empty Via header")
    via = Via.parse(vias[0])
    start = head.start
    message: Message
    try:
        if isinstance(start, RequestLine):
            if cseq.method != start.method:
                raise RemoteProtocolError(f"CSeq method {cseq.method} does not match {start.method}")
            message = Request(method=start.method, uri=SipUri.parse(start.uri), headers=headers, body=body)
        else:
            message = Response(status_code=start.status_code, reason=start.reason, headers=headers, body=body)
    except LocalProtocolError as exc:
        raise RemoteProtocolError(exc.message) from exc
    message._memo["Via"] = via
    message._memo["CSeq"] = cseq
    return message
