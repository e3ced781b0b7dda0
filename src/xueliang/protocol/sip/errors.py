"""The one exception hierarchy of :mod:`xueliang.protocol.sip`.

::

    SipError                      anything this package raises on purpose; ``status_hint`` is a SIP status code
    ├── RemoteProtocolError       the peer sent something we cannot accept (400, 413, 416, 481, 505, 513, ...)
    └── LocalProtocolError        we misused the API: built an invalid message, drove a transaction illegally

A ``RemoteProtocolError`` costs the peer an error answer (or a dropped datagram, or a closed TCP connection when
framing is lost) and costs us a log line and a counter; it never propagates past the endpoint. A
``LocalProtocolError`` is a bug in our own code. Code translating lower-level failures raises these with
``raise ... from exc``.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "RemoteProtocolError", "SipError"]


class SipError(Exception):
    """Base of the hierarchy. ``status_hint``: the SIP status a server would answer (or 500 for our own bugs)."""

    def __init__(self, message: str, *, status_hint: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_hint = status_hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_hint={self.status_hint})"


class RemoteProtocolError(SipError):
    """The peer's input is malformed, oversized or not acceptable; ``status_hint`` says how to answer."""


class LocalProtocolError(SipError):
    """Our own misuse of the API (an invalid message built locally, an illegal transaction input)."""

    def __init__(self, message: str, *, status_hint: int = 500) -> None:
        super().__init__(message, status_hint=status_hint)
