"""Digest authentication, the server side: :class:`DigestChallenger` issues nonces and checks answers.

Nonces are HMAC-signed with their issue time, so any process holding the secret validates them without shared
state. An expired nonce with a right password is *stale* (answer 401 with ``stale=TRUE``); with qop, ``nc``
must grow per nonce (a bounded LRU remembers the last one; when the LRU must forget a live nonce, older unseen
nonces turn stale instead of replayable); without qop a nonce is good once. Responses are compared in constant
time. The wire format and the client side are in :mod:`xueliang.protocol.sip.digest`.

``now`` is wall-clock seconds (``time.time()``) so nonces survive restarts and travel between processes
sharing the secret. The ``uri`` in the credentials is not compared with the Request-URI: devices differ on it
and the digest covers what they sent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict

from xueliang.protocol.sip.digest import HASH_ALGORITHMS, DigestChallenge, DigestCredentials, digest_response
from xueliang.protocol.sip.errors import LocalProtocolError

__all__ = ["DigestChallenger", "Verdict"]

_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_NONCE_LABEL = b"xueliang-sip-digest-nonce\0"


class Verdict(enum.Enum):
    """The outcome of :meth:`DigestChallenger.verify`; ``status_hint`` is the answer GB/T 28181 expects."""

    OK = enum.auto()
    STALE = enum.auto()  # right password, expired or used-up nonce: 401 with a fresh challenge, stale=TRUE
    BAD_NONCE = enum.auto()  # not issued by us (or tampered, or opaque wrong): 401 with a fresh challenge
    REPLAY = enum.auto()  # nc did not grow: 401 with a fresh challenge
    WRONG_REALM = enum.auto()
    WRONG_ALGORITHM = enum.auto()
    WRONG_PASSWORD = enum.auto()  # 403 Forbidden (GB/T 28181)
    BAD_REQUEST = enum.auto()  # qop without cnonce/nc, unknown qop: 400

    @property
    def status_hint(self) -> int:
        if self is Verdict.OK:
            return 200
        if self is Verdict.WRONG_PASSWORD:
            return 403
        if self is Verdict.BAD_REQUEST:
            return 400
        return 401


class DigestChallenger:
    """Server-side digest: issues signed nonces and verifies answers. One per realm; not thread-safe."""

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        algorithm: str = "MD5",
        qop: bool = True,
        require_qop: bool = False,
        opaque: str | None = None,
        nonce_lifetime: float = 300.0,
        clock_skew: float = 30.0,
        max_tracked: int = 65_536,
    ) -> None:
        if len(secret) < 16:
            raise LocalProtocolError("the nonce secret must be at least 16 bytes")
        if algorithm.upper() not in HASH_ALGORITHMS:
            raise LocalProtocolError(f"unsupported digest algorithm {algorithm!r}")
        self.realm = realm
        self.algorithm = algorithm
        self.qop = qop
        self.require_qop = require_qop
        self.opaque = opaque
        self.nonce_lifetime = nonce_lifetime
        self.clock_skew = clock_skew
        self.max_tracked = max_tracked
        self._secret = secret
        # nonce -> (issued at, highest nc seen; 0 for a nonce used without qop)
        self._seen: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._forgotten_before = -1  # issue time of the newest live nonce the LRU had to forget

    def challenge(self, now: float, *, stale: bool = False) -> DigestChallenge:
        return DigestChallenge(
            realm=self.realm,
            nonce=self.new_nonce(now),
            algorithm=self.algorithm,
            qop=("auth",) if self.qop else (),
            opaque=self.opaque,
            stale=stale,
        )

    def new_nonce(self, now: float) -> str:
        issued = int(now).to_bytes(8, "big", signed=True)
        salt = secrets.token_bytes(8)
        return (issued + salt + self._mac(issued + salt)).hex()

    def nonce_issued_at(self, nonce: str) -> int | None:
        """The issue time signed into one of our nonces, or None when the nonce is not ours."""
        if len(nonce) != 64 or _HEX_RE.fullmatch(nonce) is None:
            return None
        raw = bytes.fromhex(nonce)
        if not hmac.compare_digest(self._mac(raw[:16]), raw[16:]):
            return None
        return int.from_bytes(raw[:8], "big", signed=True)

    def _mac(self, data: bytes) -> bytes:
        message = _NONCE_LABEL + self.realm.encode("utf-8", "surrogateescape") + b"\0" + data
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:16]

    def verify(
        self, credentials: DigestCredentials, *, method: str, password: str, now: float, body: bytes = b""
    ) -> Verdict:
        """Check ``credentials`` (sent with a ``method`` request) against ``password``."""
        if credentials.realm != self.realm:
            return Verdict.WRONG_REALM
        if (credentials.algorithm or "MD5").upper() != self.algorithm.upper():
            return Verdict.WRONG_ALGORITHM
        if self.opaque is not None and credentials.opaque != self.opaque:
            return Verdict.BAD_NONCE
        qop = credentials.qop
        if qop not in (None, "auth", "auth-int") or (qop is None and self.require_qop):
            return Verdict.BAD_REQUEST
        issued = self.nonce_issued_at(credentials.nonce)
        if issued is None or issued > now + self.clock_skew:
            return Verdict.BAD_NONCE
        expected = digest_response(
            algorithm=self.algorithm,
            username=credentials.username,
            realm=self.realm,
            password=password,
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
            body=body,
        )
        if not hmac.compare_digest(expected.encode(), credentials.response.lower().encode("utf-8", "replace")):
            return Verdict.WRONG_PASSWORD
        if now - issued > self.nonce_lifetime:
            return Verdict.STALE
        return self._check_replay(credentials, issued, now)

    def _check_replay(self, credentials: DigestCredentials, issued: int, now: float) -> Verdict:
        nonce = credentials.nonce
        nc = int(credentials.nc, 16) if credentials.qop is not None and credentials.nc is not None else 0
        seen = self._seen.get(nonce)
        if seen is None:
            if issued <= self._forgotten_before:
                return Verdict.STALE
        elif credentials.qop is None:
            return Verdict.STALE  # without qop a nonce is good once
        elif nc <= seen[1]:
            return Verdict.REPLAY
        self._seen[nonce] = (issued, nc)
        self._seen.move_to_end(nonce)
        self._prune(now)
        return Verdict.OK

    def _prune(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_nonce, (issued, _) = next(iter(seen.items()))
            expired = now - issued > self.nonce_lifetime
            if not expired and len(seen) <= self.max_tracked:
                return
            del seen[oldest_nonce]
            if not expired:
                self._forgotten_before = max(self._forgotten_before, issued)
