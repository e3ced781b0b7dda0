"""Digest authentication on the wire (RFC 2617, the RFC 7616 subset SIP uses), with SM3 as GB/T 28181-2022 allows.

- :class:`DigestChallenge` (``WWW-Authenticate`` / ``Proxy-Authenticate``) and :class:`DigestCredentials`
  (``Authorization`` / ``Proxy-Authorization``): parse and ``__str__``. Tolerated (GB28181.md section 6): no
  spaces after commas, ``qop`` quoted or not or absent, realms of digits or words, ``opaque`` (echoed),
  ``username`` being ``admin`` rather than the device ID (the caller looks the password up by username).
- :func:`digest_response`: the response for MD5, SHA-256 and SM3 (and their ``-sess`` forms), qop ``auth``,
  ``auth-int`` or none.
- :func:`answer_challenge`: the client side (we register with upper platforms).

The server side, which issues and checks nonces, is :mod:`xueliang.protocol.sip.auth`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.grammar import quote, unquote
from xueliang.protocol.sip.message import Request, Response

__all__ = [
    "HASH_ALGORITHMS",
    "DigestChallenge",
    "DigestCredentials",
    "answer_challenge",
    "challenges_in",
    "credentials_in",
    "digest_response",
]

#: Digest algorithm names (upper case, without ``-sess``) -> hashlib names.
#: Digest algorithm names (upper case, without ``-sess``) -> hashlib names.
HASH_ALGORITHMS: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256", "SM3": "sm3"}
_ITEM_RE = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)', re.DOTALL)
_AFTER_ITEM_RE = re.compile(r"\s*(?:,|$)")
_NC_RE = re.compile(r"[0-9A-Fa-f]{8}")


def _hasher(algorithm: str) -> str:
    name = HASH_ALGORITHMS.get(algorithm.upper().removesuffix("-SESS"))
    if name is None:
        raise RemoteProtocolError(f"unsupported digest algorithm {algorithm[:20]!r}", status_hint=401)
    return name


def _h(name: str, data: str | bytes) -> str:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    try:
        return hashlib.new(name, raw, usedforsecurity=False).hexdigest()
    except ValueError as exc:  # the OpenSSL build lacks it (SM3 on some systems)
        raise LocalProtocolError(f"hash {name} not available in this Python's OpenSSL") from exc


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` value: ``H(HA1:nonce[:nc:cnonce:qop]:HA2)``, lower-case hex."""
    name = _hasher(algorithm)
    ha1 = _h(name, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(name, f"{ha1}:{nonce}:{cnonce or ''}")
    ha2 = _h(name, f"{method}:{uri}:{_h(name, body)}") if qop == "auth-int" else _h(name, f"{method}:{uri}")
    if qop:
        return _h(name, f"{ha1}:{nonce}:{nc or ''}:{cnonce or ''}:{qop}:{ha2}")
    return _h(name, f"{ha1}:{nonce}:{ha2}")


def _parse_params(value: str, what: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise RemoteProtocolError(f"{what}: not a Digest header ({scheme[:20]!r})")
    params: dict[str, str] = {}
    pos = 0
    while True:
        while pos < len(rest) and rest[pos] in " \t,":
            pos += 1
        if pos >= len(rest):
            return params
        item = _ITEM_RE.match(rest, pos)
        if item is None:
            raise RemoteProtocolError(f"{what}: unreadable parameter at {rest[pos : pos + 30]!r}")
        name = item.group(1).lower()
        if name in params:
            raise RemoteProtocolError(f"{what}: parameter {name} given twice")
        params[name] = unquote(item.group(2))
        pos = item.end()
        if _AFTER_ITEM_RE.match(rest, pos) is None:
            raise RemoteProtocolError(f"{what}: missing comma after {name}")


def _require(params: dict[str, str], name: str, what: str) -> str:
    value = params.get(name)
    if value is None:
        raise RemoteProtocolError(f"{what}: no {name}")
    return value


def _check_values(what: str, **values: str | None) -> None:
    for name, value in values.items():
        if value is not None and any(char in value for char in "\r\n\0"):
            raise LocalProtocolError(f"{what}: {name} contains CR, LF or NUL")


def _check_bare(what: str, name: str, value: str | None) -> None:
    """Values written without quotes (algorithm, qop, nc) must not be empty or hold separators."""
    if value is not None and (not value or any(char in value for char in ' ,"\t;=')):
        raise LocalProtocolError(f"{what}: bad {name} {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestChallenge:
    """``Digest realm="3402000000", nonce="...", algorithm=MD5, qop="auth"``. ``algorithm`` None: absent (MD5)."""

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None

    def __post_init__(self) -> None:
        _check_values("challenge", realm=self.realm, nonce=self.nonce, opaque=self.opaque, domain=self.domain)
        _check_bare("challenge", "algorithm", self.algorithm)
        for option in self.qop:
            _check_bare("challenge", "qop option", option)

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        params = _parse_params(value, "WWW-Authenticate")
        qop = tuple(option.strip() for option in params.get("qop", "").split(",") if option.strip())
        try:
            return cls(
                realm=_require(params, "realm", "WWW-Authenticate"),
                nonce=_require(params, "nonce", "WWW-Authenticate"),
                algorithm=params.get("algorithm"),
                qop=qop,
                opaque=params.get("opaque"),
                stale=params.get("stale", "").lower() == "true",
                domain=params.get("domain"),
            )
        except LocalProtocolError as exc:
            raise RemoteProtocolError(exc.message) from exc

    def __str__(self) -> str:
        parts = [f"realm={quote(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={quote(self.domain)}")
        parts.append(f"nonce={quote(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.stale:
            parts.append("stale=TRUE")
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={quote(','.join(self.qop))}")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestCredentials:
    """``Digest username="...", realm="...", nonce="...", uri="...", response="...", ...``."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None

    def __post_init__(self) -> None:
        _check_values(
            "credentials",
            username=self.username,
            realm=self.realm,
            nonce=self.nonce,
            uri=self.uri,
            response=self.response,
            cnonce=self.cnonce,
            opaque=self.opaque,
        )
        _check_bare("credentials", "algorithm", self.algorithm)
        _check_bare("credentials", "qop", self.qop)
        if self.nc is not None and _NC_RE.fullmatch(self.nc) is None:
            raise LocalProtocolError(f"nc must be 8 hex digits, got {self.nc!r}")
        if self.qop is not None and (self.cnonce is None or self.nc is None):
            raise LocalProtocolError("qop given without cnonce and nc")

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        params = _parse_params(value, "Authorization")
        what = "Authorization"
        try:
            return cls(
                username=_require(params, "username", what),
                realm=_require(params, "realm", what),
                nonce=_require(params, "nonce", what),
                uri=_require(params, "uri", what),
                response=_require(params, "response", what),
                algorithm=params.get("algorithm"),
                cnonce=params.get("cnonce"),
                opaque=params.get("opaque"),
                qop=params.get("qop"),
                nc=params.get("nc"),
            )
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"{what}: {exc.message}") from exc

    def __str__(self) -> str:
        parts = [
            f"username={quote(self.username)}",
            f"realm={quote(self.realm)}",
            f"nonce={quote(self.nonce)}",
            f"uri={quote(self.uri)}",
            f"response={quote(self.response)}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.cnonce is not None:
            parts.append(f"cnonce={quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        return "Digest " + ", ".join(parts)


def challenges_in(response: Response) -> list[DigestChallenge]:
    """The Digest challenges of a 401 (``WWW-Authenticate``) or 407 (``Proxy-Authenticate``); other schemes are
    skipped."""
    name = "Proxy-Authenticate" if response.status_code == 407 else "WWW-Authenticate"
    return [
        DigestChallenge.parse(value)
        for value in response.headers.get_all(name)
        if value.lstrip().lower().startswith("digest")
    ]


def credentials_in(request: Request, *, proxy: bool = False) -> DigestCredentials | None:
    """The first Digest ``Authorization`` (or ``Proxy-Authorization``) of ``request``, or None."""
    for value in request.headers.get_all("Proxy-Authorization" if proxy else "Authorization"):
        if value.lstrip().lower().startswith("digest"):
            return DigestCredentials.parse(value)
    return None


def answer_challenge(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> DigestCredentials:
    """Credentials answering ``challenge`` (qop ``auth`` preferred when offered; ``opaque`` echoed)."""
    if not challenge.qop:
        qop = None
    elif "auth" in challenge.qop:
        qop = "auth"
    elif "auth-int" in challenge.qop:
        qop = "auth-int"
    else:
        raise RemoteProtocolError(f"no supported qop in {challenge.qop!r}")
    if qop is not None and cnonce is None:
        cnonce = secrets.token_hex(8)
    nc_text = f"{nc:08x}" if qop is not None else None
    algorithm = challenge.algorithm or "MD5"
    response = digest_response(
        algorithm=algorithm,
        username=username,
        realm=challenge.realm,
        password=password,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
    )
    return DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        cnonce=cnonce if qop is not None else None,
        opaque=challenge.opaque,
        qop=qop,
        nc=nc_text,
    )
