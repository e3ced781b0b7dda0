"""Small pieces of RFC 3261 grammar shared by the SIP modules: tokens, parameters, quoted strings, lists.

Everything here works on ``str`` (the head of a message is decoded as UTF-8 with ``surrogateescape``, so bytes
that are not UTF-8, such as a GBK display name, survive a round trip). Parse helpers raise
:class:`~xueliang.protocol.sip.errors.RemoteProtocolError`; ``check_*`` helpers used by constructors raise
:class:`~xueliang.protocol.sip.errors.LocalProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "Params",
    "check_params",
    "check_token",
    "format_params",
    "is_token",
    "param_value",
    "parse_params",
    "parse_uint",
    "quote",
    "split_commas",
    "unquote",
]

#: ``;name=value`` parameters in wire order; a flag parameter (``;rport``, ``;lr``) has the value ``None``.
Params = tuple[tuple[str, str | None], ...]

TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
QUOTED_RE = re.compile(r'"(?:[^"\\\r\n]|\\[^\r\n])*"')
# A parameter value: a token-ish run (hosts, IPv6 references, tags) or one whole quoted string.
PARAM_VALUE_RE = re.compile(r'[^\s;,<>"?]+|"(?:[^"\\\r\n]|\\[^\r\n])*"')
_DIGITS_RE = re.compile(r"[0-9]+")


def is_token(text: str) -> bool:
    return TOKEN_RE.fullmatch(text) is not None


def check_token(text: str, what: str) -> None:
    if TOKEN_RE.fullmatch(text) is None:
        raise LocalProtocolError(f"{what} must be a SIP token, got {text!r}")


def parse_uint(text: str, what: str, *, maximum: int) -> int:
    """ASCII digits only (``int()`` alone would accept ``'1_0'``, ``' 7'`` and Arabic-Indic digits)."""
    text = text.strip()
    if _DIGITS_RE.fullmatch(text) is None or len(text) > 12:
        raise RemoteProtocolError(f"{what} is not a number: {text[:40]!r}")
    value = int(text)
    if value > maximum:
        raise RemoteProtocolError(f"{what} {value} exceeds {maximum}")
    return value


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(text: str) -> str:
    """The content of a quoted string (escapes resolved); text that is not quoted is returned as it is."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        if "\\" not in inner:
            return inner
        out: list[str] = []
        escaped = False
        for char in inner:
            if escaped:
                out.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            else:
                out.append(char)
        return "".join(out)
    return text


def _split_outside_quotes(text: str, separator: str, *, brackets: bool) -> tuple[list[str], bool]:
    """Split on ``separator`` outside quoted strings (and, with ``brackets``, outside ``<...>``).

    Returns the raw parts and whether a quoted string was left open."""
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif in_quotes:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif brackets and char == "<":
            in_angle = True
        elif brackets and char == ">":
            in_angle = False
        elif char == separator and not in_angle:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts, in_quotes


def split_commas(value: str) -> list[str]:
    """Split a list-valued header (``Via: a, b``) on commas outside quotes and angle brackets; empties dropped."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    parts, _open = _split_outside_quotes(value, ",", brackets=True)
    return [stripped for part in parts if (stripped := part.strip())]


def _split_semicolons(text: str) -> list[str]:
    if '"' not in text:
        return text.split(";")
    parts, unterminated = _split_outside_quotes(text, ";", brackets=False)
    if unterminated:
        raise RemoteProtocolError(f"unterminated quoted string in parameters {text[:60]!r}")
    return parts


def parse_params(text: str, what: str) -> Params:
    """``;a=b;flag;c="x y"`` (the leading ``;`` optional) -> ``(("a", "b"), ("flag", None), ("c", '"x y"'))``.

    Quoted values keep their quotes so the text round-trips; use :func:`param_value` to read them."""
    text = text.strip()
    if not text:
        return ()
    if text[0] == ";":
        text = text[1:]
    params: list[tuple[str, str | None]] = []
    for raw in _split_semicolons(text):
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not TOKEN_RE.fullmatch(name):
            raise RemoteProtocolError(f"bad parameter name {name[:40]!r} in {what}")
        if not sep:
            params.append((name, None))
            continue
        value = value.strip()
        if not PARAM_VALUE_RE.fullmatch(value):
            raise RemoteProtocolError(f"bad value for parameter {name!r} in {what}: {value[:40]!r}")
        params.append((name, value))
    return tuple(params)


def check_params(params: Params, what: str) -> None:
    for name, value in params:
        if TOKEN_RE.fullmatch(name) is None:
            raise LocalProtocolError(f"bad parameter name {name!r} in {what}")
        if value is not None and PARAM_VALUE_RE.fullmatch(value) is None:
            raise LocalProtocolError(f"bad value for parameter {name!r} in {what}: {value!r}")


def format_params(params: Sequence[tuple[str, str | None]]) -> str:
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def param_value(params: Params, name: str) -> str | None:
    """The (unquoted) value of the first parameter called ``name`` (case-insensitive); ``""`` for a flag."""
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return "" if value is None else unquote(value)
    return None


def has_param(params: Params, name: str) -> bool:
    lowered = name.lower()
    return any(key.lower() == lowered for key, _ in params)


def replace_param(params: Params, name: str, value: str | None) -> Params:
    """``params`` with ``name`` set to ``value`` (in place of the first occurrence, or appended)."""
    lowered = name.lower()
    out: list[tuple[str, str | None]] = []
    done = False
    for key, old in params:
        if key.lower() == lowered:
            if not done:
                out.append((key, value))
                done = True
            continue
        out.append((key, old))
    if not done:
        out.append((name, value))
    return tuple(out)
