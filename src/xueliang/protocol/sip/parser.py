"""Reading the head of a SIP message (start line and header lines) from bytes, tolerant of what devices send.

Tolerated (GB28181.md section 6): bare LF or mixed line endings, spaces around the colon and inside
``Content-Length:   180``, headers after Content-Length, compact header names, obsolete line folding, any reason
phrase, an empty reason phrase. Refused with a status hint: a start line that is neither a request nor a
response (400), another SIP version (505), a header line without a colon or with a bad name (400), two
Content-Length values that disagree (400), more headers than the limit (513).

The head is decoded as UTF-8 with ``surrogateescape``: bytes that are not UTF-8 (a GBK display name) survive a
round trip unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, NoReturn

from xueliang.protocol.sip.errors import RemoteProtocolError
from xueliang.protocol.sip.grammar import TOKEN_RE, parse_uint
from xueliang.protocol.sip.headers import COMPACT_FORMS, KNOWN_HEADERS, Headers, canonical_name

__all__ = ["DEFAULT_LIMITS", "Head", "Limits", "RequestLine", "StatusLine", "find_head_end", "parse_head"]

SIP_VERSION = "SIP/2.0"
# exact spellings seen on the wire -> canonical names, to skip lower-casing on the hot path
_CANONICAL_EXACT: dict[str, str] = {name: name for name in KNOWN_HEADERS}
_CANONICAL_EXACT.update(COMPACT_FORMS)
_CANONICAL_EXACT.update({name.lower(): name for name in KNOWN_HEADERS})
_LOWER: dict[str, str] = {name: name.lower() for name in KNOWN_HEADERS}
MAX_CONTENT_LENGTH = 2**31 - 1
_HEAD_END_RE = re.compile(rb"\n\r?\n")
# name, optional blanks, colon, value without surrounding blanks, optional CR; no CR or NUL inside the value
_HEADER_LINE_RE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*((?:[^\r\n\0]*[^\r\n\0 \t])?)[ \t]*\r?")
_HEADER_LINES_RE = re.compile(_HEADER_LINE_RE.pattern.join(("^", "$")), re.MULTILINE)
_REQUEST_LINE_RE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+([^ \t]+)[ \t]+([A-Za-z]+/[0-9.]+)[ \t]*")
_STATUS_LINE_RE = re.compile(r"([Ss][Ii][Pp]/[0-9.]+)[ \t]+([0-9]{3})(?:[ \t]+(.*?))?[ \t]*")


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits on what a peer may make us buffer or parse; every one is a parameter.

    - ``max_head_bytes``: start line plus headers, either transport (over it: 513 Message Too Large).
    - ``max_headers``: header fields in one message, Content-Length not counted (over it: 513).
    - ``max_datagram_bytes``: one UDP message, head and body (over it: 513).
    - ``max_body_bytes``: the body of one TCP message; 10 MiB holds a catalog fragment of 10,000 items
      (over it: 413 Request Entity Too Large).
    """

    max_head_bytes: int = 16 * 1024
    max_headers: int = 100
    max_datagram_bytes: int = 64 * 1024
    max_body_bytes: int = 10 * 1024 * 1024


DEFAULT_LIMITS = Limits()


class RequestLine(NamedTuple):
    method: str
    uri: str


class StatusLine(NamedTuple):
    status_code: int
    reason: str


class Head(NamedTuple):
    start: RequestLine | StatusLine
    headers: Headers
    content_length: int | None


def find_head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """``(end of the last header line, start of the body)`` for the first blank line at or after ``start``."""
    match = _HEAD_END_RE.search(data, start)
    if match is None:
        return None
    return match.start(), match.end()


def parse_head(head: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Head:
    """Parse the start line and header lines (without the blank line that ends them)."""
    if len(head) > limits.max_head_bytes:
        raise RemoteProtocolError(f"message head over {limits.max_head_bytes} bytes", status_hint=513)
    text = bytes(head).decode("utf-8", "surrogateescape")
    first_end = text.find("\n")
    if first_end < 0:
        first_end = len(text)
    start = _parse_start_line(text[:first_end].rstrip("\r"))
    line_count = text.count("\n", first_end) - text.endswith("\n")  # header lines after the start line
    # Fast path: one C-level scan finds every well-formed line; if that is all of them, no line needs a look.
    pairs: list[tuple[str, str]] = _HEADER_LINES_RE.findall(text, first_end)
    if len(pairs) != line_count:
        pairs = _slow_header_lines(text[first_end + 1 :].split("\n"))
    names: list[str] = []
    keys: list[str] = []
    values: list[str] = []
    content_length: int | None = None
    for name, value in pairs:
        canonical = _CANONICAL_EXACT.get(name) or canonical_name(name)
        if canonical == "Content-Length":
            length = parse_uint(value, "Content-Length", maximum=MAX_CONTENT_LENGTH)
            if content_length is not None and content_length != length:
                raise RemoteProtocolError("Content-Length given twice with different values")
            content_length = length
            continue
        names.append(canonical)
        keys.append(_LOWER.get(canonical) or canonical.lower())
        values.append(value)
    if len(names) > limits.max_headers:
        raise RemoteProtocolError(f"more than {limits.max_headers} headers", status_hint=513)
    return Head(start, Headers._trusted(tuple(zip(names, values, strict=True)), tuple(keys)), content_length)


def _slow_header_lines(lines: list[str]) -> list[tuple[str, str]]:
    """Line by line: blank lines, folded continuations, and errors with a precise message."""
    pairs: list[tuple[str, str]] = []
    for raw in lines:
        match = _HEADER_LINE_RE.fullmatch(raw)
        if match is not None:
            pairs.append((match.group(1), match.group(2)))
            continue
        line = raw.removesuffix("\r")
        if not line:
            continue
        if line[0] not in " \t":
            _raise_bad_line(line)
        if not pairs:
            raise RemoteProtocolError("continuation line before the first header")
        name, value = pairs[-1]
        if "\r" in line or "\0" in line:
            raise RemoteProtocolError(f"control character in header {name}")
        pairs[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
    return pairs


def _raise_bad_line(line: str) -> NoReturn:
    name, colon, _ = line.partition(":")
    if not colon:
        raise RemoteProtocolError(f"header line without a colon: {line[:60]!r}")
    name = name.rstrip(" \t")
    if TOKEN_RE.fullmatch(name) is None:
        raise RemoteProtocolError(f"bad header name {name[:40]!r}")
    raise RemoteProtocolError(f"control character in header {name}")


def _parse_start_line(line: str) -> RequestLine | StatusLine:
    if line[:4].upper() == "SIP/":
        match = _STATUS_LINE_RE.fullmatch(line)
        if match is None:
            raise RemoteProtocolError(f"bad status line {line[:80]!r}")
        version, code, reason = match.groups()
        _check_version(version)
        status = int(code)
        if not 100 <= status <= 699:
            raise RemoteProtocolError(f"status code {status} out of range")
        return StatusLine(status, reason or "")
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        raise RemoteProtocolError(f"bad request line {line[:80]!r}")
    method, uri, version = match.groups()
    _check_version(version)
    return RequestLine(method, uri)


def _check_version(version: str) -> None:
    if version.upper() != SIP_VERSION:
        raise RemoteProtocolError(f"unsupported version {version[:20]!r}", status_hint=505)
