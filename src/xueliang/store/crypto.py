"""Secrets the platform must replay (RTSP credentials, later SIP and upper-platform passwords), encrypted at rest.

The key lives outside the database, in ``<data_dir>/secret.key`` (created with mode 0600 on first use). The
cipher sits behind :class:`Cipher` so an SM4 implementation (GB 35114, 密评) can replace or sit beside Fernet.
Nothing here logs a secret; a cipher's ``repr`` hides its key.

Stream URLs are stored without their credentials: :func:`split_credentials` takes ``user:password@`` out of the
URL, the store keeps the URL in clear (it is searchable and shown) and the credentials encrypted.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE_NAME = "secret.key"


class CipherError(Exception):
    """A stored secret cannot be decrypted (wrong key file, corrupted value)."""


class Cipher(Protocol):
    """Symmetric, authenticated encryption of short secrets to printable text."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


class FernetCipher:
    """AES-128-CBC + HMAC-SHA256 (Fernet), the default :class:`Cipher`."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:
        return "FernetCipher(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise CipherError("stored secret cannot be decrypted with this key file") from exc


_KEY_LOCK = threading.Lock()


def load_or_create_key(data_dir: Path) -> bytes:
    """The key in ``<data_dir>/secret.key``, created (mode 0600, atomically) when absent."""
    return read_or_create_secret_file(data_dir / KEY_FILE_NAME, Fernet.generate_key).strip()


def read_or_create_secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of a key file, created with ``make()`` (mode 0600) when absent.

    Several processes may start at once: the content is written to a private temporary file and linked into
    place, so exactly one key wins and every process reads the same one.
    """
    with _KEY_LOCK:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(make())
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
        return path.read_bytes()


def cipher_for(data_dir: Path) -> Cipher:
    return FernetCipher(load_or_create_key(data_dir))


def split_credentials(url: str) -> tuple[str, str | None]:
    """``rtsp://user:pw@host/p`` -> (``rtsp://host/p``, ``"user:pw"``); URLs without credentials pass unchanged."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), userinfo or None


def join_credentials(url: str, userinfo: str | None) -> str:
    """The inverse of :func:`split_credentials`, for the media service when it pulls the stream."""
    if not userinfo:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))
