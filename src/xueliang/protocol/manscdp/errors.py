"""The one exception hierarchy of the MANSCDP layer.

::

    ManscdpError (ValueError)       anything this package refuses; ``rule`` is machine-readable
     ├── RemoteError                 their bad input: log once, count, drop or answer with an error
     │    ├── XmlError               not XML we will read: too large, DTD/ENTITY, truncated, empty, unparseable
     │    ├── MessageError           XML, but not a MANSCDP message: root, CmdType, SN or DeviceID missing or bad
     │    └── PtzError               a PTZCmd that is not 8 bytes of hex with the A5 header and right checksums
     └── LocalError                  our bug: values the wire cannot carry (a PTZ speed of 300, a negative SN)

Nothing else escapes :func:`xueliang.protocol.manscdp.parse`: arbitrary bytes raise a :class:`RemoteError`
or parse. Callers translate at their boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = ["LocalError", "ManscdpError", "MessageError", "PtzError", "RemoteError", "XmlError"]


class ManscdpError(ValueError):
    """Base of the layer. ``rule`` names the check that failed (``xml.truncated``, ``ptz.checksum``, ...)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class RemoteError(ManscdpError):
    """The peer sent something we cannot use."""


class LocalError(ManscdpError):
    """We asked the layer to build something invalid."""


class XmlError(RemoteError):
    """The body is not XML this layer will read."""


class MessageError(RemoteError):
    """The XML is not a usable MANSCDP message."""


class PtzError(RemoteError):
    """A PTZCmd string that fails the codec's checks."""
