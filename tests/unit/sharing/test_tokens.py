"""Play tokens: signed by the API side, verified by media nodes, refused when forged, expired or tampered with."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest

from xueliang.sharing.tokens import KEY_FILE_NAME, PlayClaims, PlayTokenError, load_or_create_tokens


def _claims(**overrides: object) -> PlayClaims:
    values: dict[str, object] = {
        "session": "s1",
        "camera_id": "34150000001310000001",
        "stream_id": "34150000001310000001-0",
        "variant": "native",
        "treatment": "full",
        "grant": None,
        "expires_at": int(time.time()) + 60,
    }
    values.update(overrides)
    return PlayClaims(**values)  # type: ignore[arg-type]


def test_round_trip_and_key_file(tmp_path: Path) -> None:
    tokens = load_or_create_tokens(tmp_path)
    claims = _claims(grant="g7")
    assert tokens.verify(tokens.sign(claims)) == claims
    mode = stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode)
    assert mode == 0o600
    again = load_or_create_tokens(tmp_path)  # a second process reads the same key
    assert again.verify(tokens.sign(claims)) == claims
    assert repr(tokens) == "Ed25519Tokens(can_sign=True)"  # no key material in reprs


def test_media_side_verifies_but_cannot_mint(tmp_path: Path) -> None:
    tokens = load_or_create_tokens(tmp_path)
    verifier = tokens.verifier()
    assert not verifier.can_sign
    assert verifier.verify(tokens.sign(_claims())).session == "s1"
    with pytest.raises(PlayTokenError, match="verify, never mint"):
        verifier.sign(_claims())


def test_expired_forged_tampered_and_garbage_are_refused(tmp_path: Path) -> None:
    tokens = load_or_create_tokens(tmp_path / "a")
    other = load_or_create_tokens(tmp_path / "b")
    with pytest.raises(PlayTokenError, match="expired"):
        tokens.verify(tokens.sign(_claims(expires_at=int(time.time()) - 60)))
    with pytest.raises(PlayTokenError, match="invalid"):
        tokens.verify(other.sign(_claims()))
    header, _payload, signature = tokens.sign(_claims()).split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sid":"x","cam":"y","str":"z","var":"v","trt":"t","exp":9999999999}')
    with pytest.raises(PlayTokenError, match="invalid"):
        tokens.verify(f"{header}.{forged_payload.decode()}.{signature}")
    for garbage in ("", "abc", "a.b.c", "x" * 5000):
        with pytest.raises(PlayTokenError):
            tokens.verify(garbage)


def test_a_token_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    tokens = load_or_create_tokens(tmp_path)
    hmac_token = jwt.encode({"sid": "s", "exp": int(time.time()) + 60, "aud": "xueliang-media"}, "k", algorithm="HS256")
    with pytest.raises(PlayTokenError, match="invalid"):
        tokens.verify(hmac_token)
