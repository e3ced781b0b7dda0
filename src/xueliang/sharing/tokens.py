"""Play tokens: what a viewer's URL carries so a media node can serve it without asking anyone.

The API side signs (it alone holds the private key); media nodes verify with the public key and cannot mint. A
token names the viewing session, the camera, the stream and variant, the treatment (``full`` now; the desensitised
view of issue 5 adds ``masked``), the grant it was issued under (None until grants exist) and a short expiry.

Signing sits behind :class:`TokenSigner` / :class:`TokenVerifier` so SM2 (GB 35114) can replace Ed25519. The key
pair lives in ``<data_dir>/play-token.key`` (PEM, mode 0600, created once, atomically, by the first process).
Tokens never reach a log: URLs are logged without their query string.

Errors::

    PlayTokenError            the token is missing, malformed, forged, expired or for another stream
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from xueliang.store.crypto import read_or_create_secret_file

KEY_FILE_NAME = "play-token.key"
ALGORITHM = "EdDSA"
AUDIENCE = "xueliang-media"
LEEWAY_S = 5  # clock skew tolerated between the API and media nodes


class PlayTokenError(Exception):
    """A play token that must not be honoured; the message says why (for the log and the 403 detail)."""


@dataclass(frozen=True, slots=True)
class PlayClaims:
    """What a verified play token allows: this session may view this stream's variant until ``expires_at``."""

    session: str
    camera_id: str
    stream_id: str
    variant: str
    treatment: str
    grant: str | None
    expires_at: int
    snapshot: bool = True  # whether the grant allows snapshots of this session (the snapshot mode)
    viewer: str | None = None  # the principal the session is for
    unit: str | None = None  # the unit that principal acts for


class TokenSigner(Protocol):
    def sign(self, claims: PlayClaims) -> str: ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> PlayClaims: ...


class Ed25519Tokens:
    """EdDSA (Ed25519) JWTs; ``signer`` only when the private key is present (the API side)."""

    def __init__(self, public_key: Ed25519PublicKey, private_key: Ed25519PrivateKey | None = None) -> None:
        self._public = public_key
        self._private = private_key

    def __repr__(self) -> str:
        return f"Ed25519Tokens(can_sign={self._private is not None})"

    @property
    def can_sign(self) -> bool:
        return self._private is not None

    def public_pem(self) -> bytes:
        return self._public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verifier(self) -> Ed25519Tokens:
        """The same keys without the private half: what a media node gets."""
        return Ed25519Tokens(self._public)

    def sign(self, claims: PlayClaims) -> str:
        if self._private is None:
            raise PlayTokenError("this process holds no signing key: media nodes verify, never mint")
        payload = {
            "sid": claims.session,
            "cam": claims.camera_id,
            "str": claims.stream_id,
            "var": claims.variant,
            "trt": claims.treatment,
            "grt": claims.grant,
            "snp": claims.snapshot,
            "vwr": claims.viewer,
            "unt": claims.unit,
            "exp": claims.expires_at,
            "iat": int(time.time()),
            "aud": AUDIENCE,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._private, algorithm=ALGORITHM)

    def verify(self, token: str) -> PlayClaims:
        if not token:
            raise PlayTokenError("play token missing")
        if len(token) > 4096:
            raise PlayTokenError("play token too long")
        try:
            payload = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sid", "cam", "str", "var", "trt"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise PlayTokenError("play token expired") from exc
        except jwt.PyJWTError as exc:
            raise PlayTokenError(f"play token invalid: {exc}") from exc
        try:
            return PlayClaims(
                session=str(payload["sid"]),
                camera_id=str(payload["cam"]),
                stream_id=str(payload["str"]),
                variant=str(payload["var"]),
                treatment=str(payload["trt"]),
                grant=None if payload.get("grt") is None else str(payload["grt"]),
                expires_at=int(payload["exp"]),
                snapshot=payload.get("snp") is True,  # absent: no snapshot (fail safe)
                viewer=None if payload.get("vwr") is None else str(payload["vwr"]),
                unit=None if payload.get("unt") is None else str(payload["unt"]),
            )
        except (TypeError, ValueError) as exc:
            raise PlayTokenError("play token claims malformed") from exc


def load_or_create_tokens(data_dir: Path) -> Ed25519Tokens:
    """The signing key pair in ``<data_dir>/play-token.key``, created when absent (every process reads one key)."""

    def generate() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    path = data_dir / KEY_FILE_NAME
    private = serialization.load_pem_private_key(read_or_create_secret_file(path, generate), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise PlayTokenError(f"{path} does not hold an Ed25519 key")
    return Ed25519Tokens(private.public_key(), private)
