"""SIP URIs: ``sip:user[:password]@host[:port][;params][?headers]`` (RFC 3261 section 19.1), the subset GB/T 28181
peers use.

What devices put there (GB28181.md section 6): ``sip:34020000001320000001@3402000000.spvmn.cn``, the bare
10-digit domain ``sip:34020000001320000001@3402000000``, an address ``sip:...@192.168.1.64:5060`` or no user at
all ``sip:3402000000``. Hosts and parameters are kept as written, so ``str(SipUri.parse(text)) == text`` for the
usual forms; equality is field by field, not the RFC's URI comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.grammar import TOKEN_RE, Params, param_value, parse_uint, replace_param

__all__ = ["SipUri"]

SCHEMES = ("sip", "sips")
MAX_PORT = 65_535
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;/%]+")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,%]*")
_HOST_RE = re.compile(r"[A-Za-z0-9\-._]+|\[[0-9A-Fa-f:.]+\]")
_URI_PARAM_VALUE_RE = re.compile(r"[^\s;,<>\"?@]+")
_URI_HEADERS_RE = re.compile(r"[^\s<>\"]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUri:
    """A ``sip:``/``sips:`` URI. ``host`` keeps IPv6 brackets; ``params`` keep wire order and spelling."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: str | None = None
    scheme: str = "sip"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise LocalProtocolError(f"URI scheme must be sip or sips, got {self.scheme!r}")
        if _HOST_RE.fullmatch(self.host) is None:
            raise LocalProtocolError(f"bad URI host {self.host!r}")
        if self.user is not None and _USER_RE.fullmatch(self.user) is None:
            raise LocalProtocolError(f"bad URI user {self.user!r}")
        if self.password is not None and (self.user is None or _PASSWORD_RE.fullmatch(self.password) is None):
            raise LocalProtocolError(f"bad URI password for user {self.user!r}")
        if self.port is not None and not 0 <= self.port <= MAX_PORT:
            raise LocalProtocolError(f"bad URI port {self.port}")
        for name, value in self.params:
            if TOKEN_RE.fullmatch(name) is None or (value is not None and not _URI_PARAM_VALUE_RE.fullmatch(value)):
                raise LocalProtocolError(f"bad URI parameter {name!r}={value!r}")
        if self.headers is not None and _URI_HEADERS_RE.fullmatch(self.headers) is None:
            raise LocalProtocolError(f"bad URI headers {self.headers!r}")

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI; a scheme other than sip/sips is a 416, anything else unreadable a 400."""
        scheme, colon, rest = text.strip().partition(":")
        scheme = scheme.lower()
        if not colon or scheme not in SCHEMES:
            raise RemoteProtocolError(f"unsupported URI {text[:60]!r}", status_hint=416)
        rest, question, headers = rest.partition("?")
        userinfo, at, hostpart = rest.rpartition("@")
        user: str | None = None
        password: str | None = None
        if at:
            user, has_password, pw = userinfo.partition(":")
            password = pw if has_password else None
        hostport, _, param_text = hostpart.partition(";")
        host, port = _split_hostport(hostport, text)
        params: list[tuple[str, str | None]] = []
        if param_text:
            for raw in param_text.split(";"):
                name, eq, value = raw.partition("=")
                params.append((name, value if eq else None))
        try:
            return cls(
                scheme=scheme,
                user=user,
                password=password,
                host=host,
                port=port,
                params=tuple(params),
                headers=headers if question else None,
            )
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"bad URI {text[:80]!r}: {exc.message}") from exc

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += (":", self.password)
            parts.append("@")
        parts.append(self.host)
        if self.port is not None:
            parts += (":", str(self.port))
        for name, value in self.params:
            parts += (";", name) if value is None else (";", name, "=", value)
        if self.headers is not None:
            parts += ("?", self.headers)
        return "".join(parts)

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The ``;transport=`` parameter, lower-cased (``udp``, ``tcp``), or None."""
        value = param_value(self.params, "transport")
        return value.lower() if value is not None else None

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def with_param(self, name: str, value: str | None) -> SipUri:
        return replace(self, params=replace_param(self.params, name, value))

    def without_params(self) -> SipUri:
        return replace(self, params=(), headers=None)


def _split_hostport(hostport: str, text: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise RemoteProtocolError(f"unterminated IPv6 reference in URI {text[:80]!r}")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if not rest:
            return host, None
        if rest[0] != ":":
            raise RemoteProtocolError(f"bad host in URI {text[:80]!r}")
        return host, parse_uint(rest[1:], "URI port", maximum=MAX_PORT)
    host, colon, port = hostport.partition(":")
    if not colon:
        return host, None
    return host, parse_uint(port, "URI port", maximum=MAX_PORT)
