"""Field values both ways (text <-> int, float, datetime) and the XML writer the messages encode with.

Readers are lenient: a value that does not read returns None and the caller records the raw text as malformed
(device input is stored and flagged, never the reason to drop a message). The writer escapes text, drops the
control characters XML 1.0 cannot carry, skips absent values and formats numbers and times the way devices
expect (``2024-05-01T08:30:00``, no time zone: GB/T 28181 times are the device's local time).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from xueliang.protocol.manscdp.errors import LocalError, MessageError

__all__ = [
    "Writer",
    "format_datetime",
    "format_value",
    "read_datetime",
    "read_float",
    "read_int",
    "require_int",
]

_INT = re.compile(r"^[+-]?\d{1,18}$")


def read_int(text: str) -> int | None:
    """An integer, or None for empty or unreadable text (``"1.0"`` reads as 1)."""
    if not text:
        return None
    if _INT.match(text):
        return int(text)
    number = read_float(text)
    if number is not None and number.is_integer() and abs(number) < 1e18:
        return int(number)
    return None


def read_float(text: str) -> float | None:
    """A finite float, or None for empty or unreadable text."""
    if not text or len(text) > 40:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_datetime(text: str) -> dt.datetime | None:
    """``2024-05-01T08:30:00`` with or without milliseconds, ``T`` or space, zone or not; None when unreadable."""
    if not text or len(text) > 40:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    try:  # 2024-5-1T8:30:00 and 2024/05/01 08:30:00, written by some stacks
        date_part, _, time_part = text.replace("/", "-").replace("T", " ").partition(" ")
        year, month, day = (int(p) for p in date_part.split("-"))
        hms = [float(p) for p in time_part.split(":")] if time_part else [0.0]
        hour, minute, second = [*hms, 0.0, 0.0][:3]
        micro = round((second % 1) * 1_000_000)
        return dt.datetime(year, month, day, int(hour), int(minute), int(second), min(micro, 999_999))
    except (ValueError, TypeError):
        return None


def require_int(text: str, field: str) -> int:
    """An integer the message cannot do without (SN, SumNum): :class:`MessageError` when absent or bad."""
    value = read_int(text)
    if value is None:
        raise MessageError(f"message.{field.lower()}", f"{field} is missing or not a number: {text[:40]!r}")
    return value


def format_datetime(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS``, with milliseconds only when the value has them."""
    if value.microsecond:
        return value.isoformat(timespec="milliseconds")
    return value.isoformat(timespec="seconds")


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LocalError("encode.value", f"not a finite number: {value}")
        return repr(value)
    return str(value)


# Characters XML 1.0 cannot carry at all (not even as references): dropped on output.
_FORBIDDEN = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")


def escape(text: str) -> str:
    return text.translate(_FORBIDDEN).translate(_ESCAPES)


class Writer:
    """Builds one MANSCDP document as text (no declaration: :func:`charset.encode` adds it)."""

    __slots__ = ("_open", "_parts")

    def __init__(self, root: str) -> None:
        self._parts: list[str] = [f"<{root}>\r\n"]
        self._open: list[str] = [root]

    def field(self, name: str, value: object) -> None:
        """``<name>value</name>``; nothing for None or empty text."""
        if value is None or value == "":
            return
        self._parts.append(f"<{name}>{escape(format_value(value))}</{name}>\r\n")

    def fields(self, pairs: dict[str, str]) -> None:
        """Vendor elements kept from parsing (``Name`` or nested ``Parent/Child``) written back, if well formed."""
        nested: dict[str, dict[str, str]] = {}
        for name, value in pairs.items():
            head, _, rest = name.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = value
            elif _NAME.match(name):
                self.field(name, value)
        for head, inner in nested.items():
            if _NAME.match(head):
                self.open(head)
                self.fields(inner)
                self.close()

    def open(self, name: str, **attributes: object) -> None:
        attrs = "".join(f' {key}="{escape(format_value(value))}"' for key, value in attributes.items())
        self._parts.append(f"<{name}{attrs}>\r\n")
        self._open.append(name)

    def close(self) -> None:
        self._parts.append(f"</{self._open.pop()}>\r\n")

    def text(self) -> str:
        while self._open:
            self.close()
        return "".join(self._parts)
