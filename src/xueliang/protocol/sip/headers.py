"""Ordered, case-insensitive, multi-value SIP headers.

:class:`Headers` keeps header lines in wire order as ``(name, value)`` pairs. Names are stored in their canonical
spelling when the header is known (``call-id`` -> ``Call-ID``; the compact forms ``i f t v m l c k s e o u`` and
a few more are expanded) and as written otherwise (``X-GB-Ver``). Lookups ignore case and accept compact forms.
One line may carry several comma-separated values (``Via: a, b``): :meth:`Headers.get_list` splits them.

``Content-Length`` never lives here: a message computes it from its body when serialised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from xueliang.protocol.sip.errors import LocalProtocolError
from xueliang.protocol.sip.grammar import TOKEN_RE, split_commas

__all__ = ["COMPACT_FORMS", "KNOWN_HEADERS", "Headers", "canonical_name"]

#: RFC 3261 section 7.3.3 and later RFCs' compact header names.
COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "f": "From",
    "t": "To",
    "v": "Via",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}

KNOWN_HEADERS = (
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Monitor-User-Identification",
    "Organization",
    "P-Asserted-Identity",
    "Path",
    "Priority",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "X-GB-Ver",
    "X-PreferredPath",
    "X-RoutePath",
)
_CANONICAL: dict[str, str] = {name.lower(): name for name in KNOWN_HEADERS}
_CANONICAL.update(COMPACT_FORMS)


def canonical_name(name: str) -> str:
    """The canonical spelling of a known header (compact forms expanded); unknown names are returned as given."""
    return _CANONICAL.get(name.lower(), name)


def _key(name: str) -> str:
    lowered = name.lower()
    compact = COMPACT_FORMS.get(lowered)
    return compact.lower() if compact is not None else lowered


@dataclass(frozen=True, slots=True, init=False)
class Headers:
    """Header lines in wire order. Construct from ``(name, value)`` pairs; every mutator returns a new object."""

    fields: tuple[tuple[str, str], ...]
    _keys: tuple[str, ...] = field(compare=False, repr=False)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        items = tuple((canonical_name(name), value) for name, value in fields)
        for name, value in items:
            if TOKEN_RE.fullmatch(name) is None:
                raise LocalProtocolError(f"header name must be a token, got {name!r}")
            if "\r" in value or "\n" in value or "\0" in value:
                raise LocalProtocolError(f"header {name} value contains CR, LF or NUL")
            if value != value.strip(" \t"):
                raise LocalProtocolError(f"header {name} value has leading or trailing whitespace")
            if name == "Content-Length":
                raise LocalProtocolError("Content-Length is computed from the body, do not set it")
            try:
                value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"header {name} value cannot be encoded: {exc.reason}") from exc
        object.__setattr__(self, "fields", items)
        object.__setattr__(self, "_keys", tuple(name.lower() for name, _ in items))

    @classmethod
    def _trusted(cls, items: tuple[tuple[str, str], ...], keys: tuple[str, ...]) -> Headers:
        """Build from pairs the parser already canonicalised and checked (the hot path skips re-validation)."""
        headers = object.__new__(cls)
        object.__setattr__(headers, "fields", items)
        object.__setattr__(headers, "_keys", keys)
        return headers

    def __len__(self) -> int:
        return len(self.fields)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._keys

    def get(self, name: str) -> str | None:
        """The value of the first line called ``name``, or None."""
        key = _key(name)
        for index, candidate in enumerate(self._keys):
            if candidate == key:
                return self.fields[index][1]
        return None

    def get_all(self, name: str) -> list[str]:
        """Every line's value for ``name``, in order (a line's own commas are not split)."""
        key = _key(name)
        return [self.fields[index][1] for index, candidate in enumerate(self._keys) if candidate == key]

    def get_list(self, name: str) -> list[str]:
        """Every value for a list-valued header (Via, Contact, Route, Allow, ...), lines split on commas."""
        values: list[str] = []
        for line in self.get_all(name):
            values.extend(split_commas(line))
        return values

    def add(self, name: str, value: str) -> Headers:
        """A new ``Headers`` with one more line at the end."""
        return Headers((*self.fields, (name, value)))

    def prepend(self, name: str, value: str) -> Headers:
        """A new ``Headers`` with one more line first (a proxy's Via)."""
        return Headers(((name, value), *self.fields))

    def set(self, name: str, value: str) -> Headers:
        """Replace every ``name`` line by one line at the first one's place (or append it)."""
        key = _key(name)
        out: list[tuple[str, str]] = []
        done = False
        for index, pair in enumerate(self.fields):
            if self._keys[index] == key:
                if not done:
                    out.append((name, value))
                    done = True
            else:
                out.append(pair)
        if not done:
            out.append((name, value))
        return Headers(out)

    def remove(self, name: str) -> Headers:
        key = _key(name)
        return Headers(pair for index, pair in enumerate(self.fields) if self._keys[index] != key)

    def extend(self, pairs: Iterable[tuple[str, str]]) -> Headers:
        return Headers((*self.fields, *pairs))
