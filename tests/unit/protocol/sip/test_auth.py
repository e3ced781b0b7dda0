"""Digest authentication: RFC vectors, SM3, header parsing, the server-side challenger and the client side."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from xueliang.protocol.sip import (
    DigestChallenge,
    DigestChallenger,
    DigestCredentials,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Verdict,
    answer_challenge,
    credentials_in,
    digest_response,
)

Vector = Callable[[str], bytes]
SECRET = b"0123456789abcdef0123456789abcdef"
REALM = "3402000000"
DEVICE = "34020000001320000001"
URI = "sip:34020000002000000001@3402000000"
NOW = 1_714_550_400.0  # 2024-05-01 08:00 UTC


# ------------------------------------------------------------------------------------------------ vectors


def test_rfc_2617_md5_example() -> None:
    assert (
        digest_response(
            algorithm="MD5",
            username="Mufasa",
            realm="testrealm@host.com",
            password="Circle Of Life",
            method="GET",
            uri="/dir/index.html",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_examples(algorithm: str, expected: str) -> None:
    assert (
        digest_response(
            algorithm=algorithm,
            username="Mufasa",
            realm="http-auth@example.org",
            password="Circle of Life",
            method="GET",
            uri="/dir/index.html",
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop="auth",
            nc="00000001",
            cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        )
        == expected
    )


def _rol(value: int, bits: int) -> int:
    bits %= 32
    return ((value << bits) | (value >> (32 - bits))) & 0xFFFFFFFF


def sm3_reference(data: bytes) -> str:
    """GB/T 32905-2016 SM3 written out from the standard, independent of OpenSSL (slow; for tests)."""
    state = [0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E]
    padded = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + (len(data) * 8).to_bytes(8, "big")
    for offset in range(0, len(padded), 64):
        w = [int.from_bytes(padded[offset + 4 * i : offset + 4 * i + 4], "big") for i in range(16)]
        for j in range(16, 68):
            x = w[j - 16] ^ w[j - 9] ^ _rol(w[j - 3], 15)
            w.append((x ^ _rol(x, 15) ^ _rol(x, 23)) ^ _rol(w[j - 13], 7) ^ w[j - 6])
        w1 = [w[j] ^ w[j + 4] for j in range(64)]
        a, b, c, d, e, f, g, h = state
        for j in range(64):
            t = 0x79CC4519 if j < 16 else 0x7A879D8A
            ss1 = _rol((_rol(a, 12) + e + _rol(t, j)) & 0xFFFFFFFF, 7)
            ss2 = ss1 ^ _rol(a, 12)
            ff = a ^ b ^ c if j < 16 else (a & b) | (a & c) | (b & c)
            gg = e ^ f ^ g if j < 16 else (e & f) | (~e & g)
            tt1 = (ff + d + ss2 + w1[j]) & 0xFFFFFFFF
            tt2 = (gg + h + ss1 + w[j]) & 0xFFFFFFFF
            d, c, b, a = c, _rol(b, 9), a, tt1
            h, g, f, e = g, _rol(f, 19), e, tt2 ^ _rol(tt2, 9) ^ _rol(tt2, 17)
        state = [x ^ y for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True)]
    return "".join(f"{x:08x}" for x in state)


def test_sm3_primitive_matches_the_standard_examples() -> None:
    abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    abcd16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert sm3_reference(b"abc") == hashlib.new("sm3", b"abc").hexdigest() == abc
    assert sm3_reference(b"abcd" * 16) == hashlib.new("sm3", b"abcd" * 16).hexdigest() == abcd16


def test_sm3_digest_vector_cross_checked_by_formula() -> None:
    params = {"nonce": "a1b2c3d4e5f60718", "nc": "00000001", "cnonce": "0a4f113b", "qop": "auth"}
    response = digest_response(
        algorithm="SM3", username=DEVICE, realm=REALM, password="12345678", method="REGISTER", uri=URI, **params
    )
    ha1 = sm3_reference(f"{DEVICE}:{REALM}:12345678".encode())
    ha2 = sm3_reference(f"REGISTER:{URI}".encode())
    by_formula = sm3_reference(f"{ha1}:a1b2c3d4e5f60718:00000001:0a4f113b:auth:{ha2}".encode())
    assert response == by_formula == "7df0915be65105280990774b5b494193b1599862f23eb82d3b06b81d91094b29"


def test_sess_and_auth_int_and_no_qop_formulas() -> None:
    def md5(text: str | bytes) -> str:
        return hashlib.md5(text.encode() if isinstance(text, str) else text).hexdigest()

    common = {"username": "u", "realm": "r", "password": "p", "method": "MESSAGE", "uri": "sip:h", "nonce": "n"}
    ha1 = md5("u:r:p")
    assert digest_response(algorithm="MD5", **common) == md5(f"{ha1}:n:{md5('MESSAGE:sip:h')}")
    body = b"<Notify/>"
    ha2_int = md5(f"MESSAGE:sip:h:{md5(body)}")
    assert digest_response(algorithm="md5", qop="auth-int", nc="00000002", cnonce="c", body=body, **common) == md5(
        f"{ha1}:n:00000002:c:auth-int:{ha2_int}"
    )
    sess = md5(f"{ha1}:n:c")
    assert digest_response(algorithm="MD5-sess", qop="auth", nc="00000001", cnonce="c", **common) == md5(
        f"{sess}:n:00000001:c:auth:{md5('MESSAGE:sip:h')}"
    )
    with pytest.raises(RemoteProtocolError):
        digest_response(algorithm="SHA-512-256", **common)


def test_captured_vectors_verify_with_the_device_password(vector: Vector) -> None:
    for name, password in (("dahua_register_auth.sip", "12345678"), ("hikvision_register_auth_admin.sip", "hik12345")):
        request = Request.parse(vector(name))
        credentials = credentials_in(request)
        assert credentials is not None
        for candidate, ok in ((password, True), ("wrong", False)):
            computed = digest_response(
                algorithm=credentials.algorithm or "MD5",
                username=credentials.username,
                realm=credentials.realm,
                password=candidate,
                method=request.method,
                uri=credentials.uri,
                nonce=credentials.nonce,
                qop=credentials.qop,
                nc=credentials.nc,
                cnonce=credentials.cnonce,
            )
            assert (computed == credentials.response) is ok


# ------------------------------------------------------------------------------------------------ headers


@pytest.mark.parametrize(
    ("text", "qop", "opaque", "algorithm"),
    [
        ('Digest realm="3402000000", nonce="abc", qop="auth", algorithm=MD5', ("auth",), None, "MD5"),
        ('Digest realm="3402000000",nonce="abc",qop=auth,algorithm=SM3', ("auth",), None, "SM3"),
        ('Digest realm="3402000000", nonce="abc"', (), None, None),
        ('digest realm="hik",nonce="abc",opaque="o\\"x",qop="auth,auth-int"', ("auth", "auth-int"), 'o"x', None),
        ('Digest  realm = "3402000000" ,nonce="abc",, stale=TRUE', (), None, None),
    ],
)
def test_challenge_parsing(text: str, qop: tuple[str, ...], opaque: str | None, algorithm: str | None) -> None:
    challenge = DigestChallenge.parse(text)
    assert challenge.nonce == "abc"
    assert (challenge.qop, challenge.opaque, challenge.algorithm) == (qop, opaque, algorithm)
    assert DigestChallenge.parse(str(challenge)) == challenge


@pytest.mark.parametrize(
    "text",
    [
        'Basic realm="x"',
        'Digest nonce="abc"',
        'Digest realm="x"',
        'Digest realm="x" nonce="abc"',
        'Digest realm="x", realm="y", nonce="n"',
        'Digest realm="x, nonce="n"',
        "Digest =x",
    ],
)
def test_bad_challenges(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        DigestChallenge.parse(text)


def test_credentials_parsing_and_str() -> None:
    text = (
        'Digest username="admin",realm="hik",nonce="n1",uri="sip:3402000000",response="ABCDEF",'
        'algorithm=MD5,cnonce="c1",opaque="o1",qop="auth",nc=0000000a'
    )
    credentials = DigestCredentials.parse(text)
    assert (credentials.username, credentials.qop, credentials.nc, credentials.opaque) == (
        "admin",
        "auth",
        "0000000a",
        "o1",
    )
    assert DigestCredentials.parse(str(credentials)) == credentials
    assert "qop=auth, nc=0000000a" in str(credentials)
    for bad in (
        text.replace(",nc=0000000a", ""),  # qop without nc
        text.replace("nc=0000000a", "nc=12"),
        text.replace('username="admin",', ""),
        text.replace('response="ABCDEF",', ""),
    ):
        with pytest.raises(RemoteProtocolError):
            DigestCredentials.parse(bad)
    with pytest.raises(LocalProtocolError):
        DigestCredentials(username="a\r\n", realm="r", nonce="n", uri="u", response="x")


# ------------------------------------------------------------------------------------------------ challenger


def register_answer(challenge: DigestChallenge, password: str = "12345678", nc: int = 1) -> DigestCredentials:
    return answer_challenge(challenge, username=DEVICE, password=password, method="REGISTER", uri=URI, nc=nc)


@pytest.mark.parametrize("algorithm", ["MD5", "SM3", "SHA-256"])
def test_challenge_answer_verify(algorithm: str) -> None:
    challenger = DigestChallenger(REALM, SECRET, algorithm=algorithm)
    challenge = challenger.challenge(NOW)
    assert challenge.qop == ("auth",) and challenge.algorithm == algorithm and len(challenge.nonce) == 64
    answer = register_answer(challenge)
    assert answer.qop == "auth" and answer.nc == "00000001" and answer.cnonce
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW + 1) is Verdict.OK
    # the same nonce with a higher nc is fine; the same nc again is a replay
    assert (
        challenger.verify(register_answer(challenge, nc=2), method="REGISTER", password="12345678", now=NOW + 2)
        is Verdict.OK
    )
    replay = challenger.verify(answer, method="REGISTER", password="12345678", now=NOW + 3)
    assert replay is Verdict.REPLAY and replay.status_hint == 401


def test_wrong_password_is_403() -> None:
    challenger = DigestChallenger(REALM, SECRET)
    verdict = challenger.verify(
        register_answer(challenger.challenge(NOW), password="guess"), method="REGISTER", password="12345678", now=NOW
    )
    assert verdict is Verdict.WRONG_PASSWORD and verdict.status_hint == 403


def test_the_method_is_part_of_the_digest() -> None:
    challenger = DigestChallenger(REALM, SECRET)
    answer = register_answer(challenger.challenge(NOW))
    assert challenger.verify(answer, method="MESSAGE", password="12345678", now=NOW) is Verdict.WRONG_PASSWORD


def test_expired_nonce_with_the_right_password_is_stale() -> None:
    challenger = DigestChallenger(REALM, SECRET, nonce_lifetime=300)
    answer = register_answer(challenger.challenge(NOW))
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW + 301) is Verdict.STALE
    assert challenger.verify(answer, method="REGISTER", password="nope", now=NOW + 301) is Verdict.WRONG_PASSWORD
    assert challenger.challenge(NOW, stale=True).stale


def test_nonces_are_signed_stateless_and_bound_to_secret_and_realm() -> None:
    challenger = DigestChallenger(REALM, SECRET)
    nonce = challenger.challenge(NOW).nonce
    assert challenger.nonce_issued_at(nonce) == int(NOW)
    other_process = DigestChallenger(REALM, SECRET)  # no shared state, same secret
    assert (
        other_process.verify(
            register_answer(DigestChallenge(realm=REALM, nonce=nonce)), method="REGISTER", password="12345678", now=NOW
        )
        is Verdict.OK
    )
    tampered = nonce[:15] + ("0" if nonce[15] != "0" else "1") + nonce[16:]  # the issue time moved
    for bad in (tampered, "deadbeef", "zz" * 32, ""):
        assert challenger.nonce_issued_at(bad) is None
        answer = register_answer(DigestChallenge(realm=REALM, nonce=bad or "x"))
        assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW) is Verdict.BAD_NONCE
    assert DigestChallenger(REALM, b"another secret of 32 bytes......").nonce_issued_at(nonce) is None
    assert DigestChallenger("hik", SECRET).nonce_issued_at(nonce) is None


def test_nonce_from_the_future_is_refused() -> None:
    challenger = DigestChallenger(REALM, SECRET, clock_skew=30)
    answer = register_answer(challenger.challenge(NOW + 3600))
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW) is Verdict.BAD_NONCE


def test_without_qop_a_nonce_is_good_once() -> None:
    challenger = DigestChallenger(REALM, SECRET, qop=False)
    challenge = challenger.challenge(NOW)
    assert challenge.qop == ()
    answer = register_answer(challenge)
    assert answer.qop is None and answer.nc is None and answer.cnonce is None
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW) is Verdict.OK
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW) is Verdict.STALE
    strict = DigestChallenger(REALM, SECRET, require_qop=True)
    bad = strict.verify(
        register_answer(DigestChallenge(realm=REALM, nonce=strict.new_nonce(NOW))),
        method="REGISTER",
        password="12345678",
        now=NOW,
    )
    assert bad is Verdict.BAD_REQUEST


def test_realm_algorithm_and_opaque_must_match() -> None:
    challenger = DigestChallenger(REALM, SECRET, opaque="op4que")
    challenge = challenger.challenge(NOW)
    answer = register_answer(challenge)
    assert answer.opaque == "op4que"
    assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW) is Verdict.OK
    other_realm = register_answer(DigestChallenge(realm="hik", nonce=challenge.nonce, opaque="op4que", qop=("auth",)))
    assert challenger.verify(other_realm, method="REGISTER", password="12345678", now=NOW) is Verdict.WRONG_REALM
    no_opaque = register_answer(DigestChallenge(realm=REALM, nonce=challenge.nonce, qop=("auth",)))
    assert challenger.verify(no_opaque, method="REGISTER", password="12345678", now=NOW) is Verdict.BAD_NONCE
    sm3 = register_answer(DigestChallenge(realm=REALM, nonce=challenge.nonce, algorithm="SM3", opaque="op4que"))
    assert challenger.verify(sm3, method="REGISTER", password="12345678", now=NOW) is Verdict.WRONG_ALGORITHM


def test_the_replay_memory_is_bounded_and_fails_closed() -> None:
    challenger = DigestChallenger(REALM, SECRET, max_tracked=3)
    challenges = [challenger.challenge(NOW + index) for index in range(6)]
    first_unused = challenges[0]
    for index, challenge in enumerate(challenges[1:], start=1):
        answer = register_answer(challenge)
        assert challenger.verify(answer, method="REGISTER", password="12345678", now=NOW + index) is Verdict.OK
    assert len(challenger._seen) == 3
    # a nonce the memory had to forget cannot be replayed ...
    forgotten = register_answer(challenges[1])
    assert challenger.verify(forgotten, method="REGISTER", password="12345678", now=NOW + 10) is Verdict.STALE
    # ... and neither can an older one never seen (it might have been forgotten too)
    unused = register_answer(first_unused)
    assert challenger.verify(unused, method="REGISTER", password="12345678", now=NOW + 10) is Verdict.STALE
    # expired entries are dropped as time moves on
    fresh = challenger.challenge(NOW + 1000)
    assert (
        challenger.verify(register_answer(fresh), method="REGISTER", password="12345678", now=NOW + 1000) is Verdict.OK
    )
    assert len(challenger._seen) == 1


def test_client_side_answers() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="hik",nonce="6fa0d59bd8e04c26",opaque="5ccc",qop=auth,algorithm=MD5'
    )
    answer = answer_challenge(
        challenge,
        username="34150000002000000001",
        password="pw",
        method="REGISTER",
        uri="sip:34150000002000000001@3415000000",
        cnonce="c0ffee",
        nc=3,
    )
    assert (answer.realm, answer.opaque, answer.nc, answer.cnonce, answer.algorithm) == (
        "hik",
        "5ccc",
        "00000003",
        "c0ffee",
        "MD5",
    )
    assert answer.response == digest_response(
        algorithm="MD5",
        username="34150000002000000001",
        realm="hik",
        password="pw",
        method="REGISTER",
        uri="sip:34150000002000000001@3415000000",
        nonce="6fa0d59bd8e04c26",
        qop="auth",
        nc="00000003",
        cnonce="c0ffee",
    )
    int_only = DigestChallenge(realm="r", nonce="n", qop=("auth-int",))
    assert (
        answer_challenge(int_only, username="u", password="p", method="MESSAGE", uri="sip:h", body=b"x").qop
        == "auth-int"
    )
    with pytest.raises(RemoteProtocolError):
        answer_challenge(
            DigestChallenge(realm="r", nonce="n", qop=("token",)), username="u", password="p", method="M", uri="sip:h"
        )


def test_challenger_configuration_errors() -> None:
    with pytest.raises(LocalProtocolError):
        DigestChallenger(REALM, b"short")
    with pytest.raises(LocalProtocolError):
        DigestChallenger(REALM, SECRET, algorithm="CRC32")
