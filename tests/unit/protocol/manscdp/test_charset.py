"""Charsets: the declaration however it is spelt, UTF-8 first when the bytes say so, GB 18030 as the fallback,
and answers written in the charset the device used."""

from __future__ import annotations

import pytest

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import Charset, charset_from_label, decode, encode, looks_garbled
from xueliang.protocol.manscdp.charset import declared_label

NAME = "裕安区梅山南路"


@pytest.mark.parametrize(
    ("label", "charset"),
    [
        ("GB2312", Charset.GB2312),
        ("gb2312", Charset.GB2312),
        ("GB_2312-80", Charset.GB2312),
        ("EUC-CN", Charset.GB2312),
        ("GBK", Charset.GBK),
        ("cp936", Charset.GBK),
        ("GB18030", Charset.GB18030),
        ("utf-8", Charset.UTF8),
        ("UTF8", Charset.UTF8),
        ("US-ASCII", Charset.UTF8),
        ("ISO-8859-1", None),
        ("", None),
        (None, None),
    ],
)
def test_labels(label: str | None, charset: Charset | None) -> None:
    assert charset_from_label(label) is charset


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (b'<?xml version="1.0" encoding="GB2312"?>', "GB2312"),
        (b'<?xml version="1.0" encoding="gb2312"?>', "gb2312"),
        (b"<?xml version='1.0' encoding='GBK'?>", "GBK"),
        (b'<?xml version="1.0" encoding-"gb2312"?>', "gb2312"),
        (b'<?xml version="1.0" encoding = "UTF-8" standalone="yes" ?>', "UTF-8"),
        (b'<?xml version="1.0" standalone="yes"?>', None),
        (b'<?xml version="1.0"?>', None),
        (b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>', "UTF-8"),
        (b'\r\n  <?xml version="1.0" encoding="GB18030" ?>', "GB18030"),
        (b"<Notify>", None),
    ],
)
def test_declared_label(head: bytes, label: str | None) -> None:
    assert declared_label(head + b"\r\n<Notify></Notify>") == label


def test_ascii_body_takes_the_declared_charset() -> None:
    assert decode(b'<?xml version="1.0" encoding="GB2312"?><a/>').charset is Charset.GB2312
    assert decode(b"<a/>").charset is Charset.UTF8


def test_gb2312_bytes() -> None:
    data = f'<?xml version="1.0" encoding="GB2312"?><a>{NAME}</a>'.encode("gb2312")
    decoded = decode(data)
    assert (decoded.charset, decoded.declared, decoded.mismatch, decoded.lossy) == (Charset.GB2312, "GB2312", 0, 0)
    assert NAME in decoded.text


def test_gbk_declared_gb2312_decodes_with_gb18030() -> None:
    name = "裕安区䶮塘村镕"  # GB18030-only and GBK-only characters under a GB2312 declaration
    data = f'<?xml version="1.0" encoding="gb2312"?><a>{name}</a>'.encode("gb18030")
    decoded = decode(data)
    assert decoded.charset is Charset.GB2312 and not decoded.mismatch
    assert name in decoded.text


def test_utf8_bytes_under_a_gb_declaration_are_utf8() -> None:
    decoded = decode(f'<?xml version="1.0" encoding="GB2312"?><a>{NAME}</a>'.encode())
    assert (decoded.charset, decoded.mismatch) == (Charset.UTF8, True)
    assert NAME in decoded.text


def test_gb_bytes_under_a_utf8_declaration_fall_back_to_gb18030() -> None:
    decoded = decode(f'<?xml version="1.0" encoding="UTF-8"?><a>{NAME}</a>'.encode("gb18030"))
    assert (decoded.charset, decoded.mismatch) == (Charset.GB18030, True)
    assert NAME in decoded.text


def test_gb_bytes_without_declaration_are_gb18030() -> None:
    decoded = decode(f"<a>{NAME}</a>".encode("gbk"))
    assert (decoded.charset, decoded.declared, decoded.mismatch) == (Charset.GB18030, None, False)
    assert NAME in decoded.text


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    decoded = decode(b"<a>\xff\xfe\x80</a>")
    assert decoded.lossy and "\ufffd" in decoded.text


def test_bom_is_removed() -> None:
    decoded = decode(b"\xef\xbb\xbf" + f"<a>{NAME}</a>".encode())
    assert decoded.charset is Charset.UTF8 and decoded.text.startswith("<a>")


@pytest.mark.parametrize("charset", list(Charset))
def test_encode_writes_a_matching_declaration(charset: Charset) -> None:
    data = encode(f"<a>{NAME}</a>", charset)
    assert data.startswith(f'<?xml version="1.0" encoding="{charset.label}"?>\r\n'.encode())
    decoded = decode(data)
    assert decoded.charset is charset and NAME in decoded.text


def test_encode_replaces_an_existing_declaration() -> None:
    data = encode('<?xml version="1.0" encoding="UTF-8"?>\n<a>x</a>', Charset.GB18030)
    assert data.count(b"<?xml") == 1 and b'encoding="GB18030"' in data


def test_characters_outside_the_charset_become_references() -> None:
    name = "䶮塘村€"
    data = encode(f"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>{name}</DeviceID></Notify>", "gb2312")
    assert b"&#19886;" in data  # 䶮 is not in GB 2312
    assert manscdp.parse(data).message.device_id == name


def test_looks_garbled() -> None:
    assert looks_garbled(NAME.encode().decode("gbk", errors="replace"))
    assert looks_garbled("裕安\ufffd")
    assert not looks_garbled(NAME)
    assert not looks_garbled("Hikvision DS-2CD")
    assert not looks_garbled("")


def test_gbk_bytes_that_happen_to_be_valid_utf8_are_read_as_declared() -> None:
    # 貋 in GBK is D8 81, which is also the UTF-8 of U+0601 (found by hypothesis)
    body = encode("<Notify><Name>貋</Name></Notify>", Charset.GBK)
    body.decode("utf-8")  # the trap: valid UTF-8
    decoded = decode(body)
    assert decoded.charset is Charset.GBK
    assert "貋" in decoded.text


def test_utf8_chinese_declared_gb2312_is_still_read_as_utf8() -> None:
    body = '<?xml version="1.0" encoding="gb2312"?><Notify><Name>裕安区梅山路东</Name></Notify>'.encode()
    decoded = decode(body)
    assert decoded.charset is Charset.UTF8
    assert "裕安区梅山路东" in decoded.text
