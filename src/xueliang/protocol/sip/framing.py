"""Framing SIP messages on the two transports.

Stream transports (TCP): :class:`StreamReader`. The caller feeds bytes as they arrive (``receive_data``, ``b""``
for end of stream) and pulls messages (``next_message``) until it says :data:`NEED_DATA`. A message ends after
``Content-Length`` body bytes (no Content-Length on a stream is read as 0). Line breaks between messages are
skipped; each CRLFCRLF among them is a keep-alive ping (RFC 5626 4.4.1), counted for the caller, who may
answer with a CRLF pong.

Errors: when the head cannot be read, or exceeds a limit, the framing is lost: the reader is *failed* and every
later call raises again (close the connection). When the head was read but the message is unacceptable (no
Call-ID, a bad Request-URI), its bytes are consumed, the error is raised once and the reader goes on.

Datagram transports (UDP): :func:`parse_datagram`, one message per datagram (RFC 3261 18.3: a Content-Length
shorter than the body truncates it, a longer one is a 400); a datagram of nothing but line breaks is a
keep-alive and gives ``None``.
"""

from __future__ import annotations

import enum

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.message import Message, message_from_head, parse_message
from xueliang.protocol.sip.parser import DEFAULT_LIMITS, Head, Limits, find_head_end, parse_head

__all__ = ["CLOSED", "NEED_DATA", "Signal", "StreamReader", "parse_datagram"]

_CR, _LF = 13, 10


class Signal(enum.Enum):
    """What :meth:`StreamReader.next_message` returns when it has no message."""

    NEED_DATA = "need data"
    CLOSED = "closed"


#: No complete message is buffered: feed more bytes.
NEED_DATA = Signal.NEED_DATA
#: The peer ended the stream cleanly between messages.
CLOSED = Signal.CLOSED


class StreamReader:
    """Content-Length framing of SIP over a byte stream, sans I/O."""

    __slots__ = (
        "_body_start",
        "_buffer",
        "_eof",
        "_error",
        "_head",
        "_length",
        "_line_breaks",
        "_pings",
        "_scan_from",
        "limits",
    )

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._scan_from = 0
        self._head: Head | None = None
        self._body_start = 0
        self._length = 0
        self._eof = False
        self._error: RemoteProtocolError | None = None
        self._pings = 0
        self._line_breaks = 0

    @property
    def failed(self) -> bool:
        """True once framing is lost; the connection should be closed."""
        return self._error is not None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise LocalProtocolError("data received after end of stream")
            return
        if not data:
            self._eof = True
            return
        self._buffer += data

    def take_pings(self) -> int:
        """How many CRLFCRLF keep-alive pings were skipped since the last call."""
        pings, self._pings = self._pings, 0
        return pings

    def next_message(self) -> Message | Signal:
        """The next complete message, :data:`NEED_DATA`, or :data:`CLOSED`; raises :class:`RemoteProtocolError`."""
        if self._error is not None:
            raise RemoteProtocolError(
                f"stream failed earlier: {self._error.message}", status_hint=self._error.status_hint
            )
        head = self._head
        if head is None:
            try:
                head = self._read_head()
            except RemoteProtocolError as exc:
                self._error = exc
                raise
            if head is None:
                return CLOSED if self._eof and not self._buffer else NEED_DATA
        end = self._body_start + self._length
        if len(self._buffer) < end:
            if self._eof:
                self._error = RemoteProtocolError(
                    f"stream ended inside a body ({len(self._buffer) - self._body_start} of {self._length} bytes)"
                )
                raise self._error
            return NEED_DATA
        body = bytes(self._buffer[self._body_start : end])
        del self._buffer[:end]
        self._head = None
        self._scan_from = 0
        return message_from_head(head, body)

    def _read_head(self) -> Head | None:
        buffer = self._buffer
        skip = 0
        size = len(buffer)
        while skip < size and buffer[skip] in (_CR, _LF):
            if buffer[skip] == _LF:
                self._line_breaks += 1
                if self._line_breaks == 2:
                    self._pings += 1
                    self._line_breaks = 0
            skip += 1
        if skip:
            del buffer[:skip]
            self._scan_from = 0
        if not buffer:
            return None
        self._line_breaks = 0
        limits = self.limits
        bounds = find_head_end(buffer, max(0, self._scan_from - 2))
        if bounds is None:
            if len(buffer) > limits.max_head_bytes:
                raise RemoteProtocolError(f"message head over {limits.max_head_bytes} bytes", status_hint=513)
            if self._eof:
                raise RemoteProtocolError("stream ended inside a message head")
            self._scan_from = len(buffer)
            return None
        head_end, body_start = bounds
        head = parse_head(bytes(memoryview(buffer)[:head_end]), limits)
        length = head.content_length or 0
        if length > limits.max_body_bytes:
            raise RemoteProtocolError(f"body of {length} bytes over {limits.max_body_bytes}", status_hint=413)
        self._head = head
        self._body_start = body_start
        self._length = length
        return head


def parse_datagram(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Message | None:
    """The message in one UDP datagram, or None for a keep-alive of line breaks only."""
    if not bytes(data).strip(b"\r\n"):
        return None
    return parse_message(data, limits)
