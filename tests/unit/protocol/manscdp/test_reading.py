"""Safe reading: bounds, refused DTDs, repairs of device faults, case-insensitive access, every prefix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import CatalogResponse, Keepalive, read_document

VECTORS = Path(__file__).resolve().parents[3] / "data" / "manscdp"
KEEPALIVE = (
    b"<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>5</SN>\r\n"
    b"<DeviceID>34150300001320000031</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
)


def test_size_bound() -> None:
    with pytest.raises(manscdp.XmlError) as caught:
        manscdp.parse(KEEPALIVE, max_size=len(KEEPALIVE) - 1)
    assert caught.value.rule == "xml.too_large"
    assert isinstance(manscdp.parse(KEEPALIVE, max_size=len(KEEPALIVE)).message, Keepalive)


@pytest.mark.parametrize("data", [b"", b"   \r\n", b"Keepalive", b"\x00\x01\x02"])
def test_no_element(data: bytes) -> None:
    with pytest.raises(manscdp.XmlError) as caught:
        manscdp.parse(data)
    assert caught.value.rule == "xml.empty"


@pytest.mark.parametrize(
    "dtd",
    [
        b'<!DOCTYPE Notify [<!ENTITY x "y">]>',
        b'<!doctype Notify SYSTEM "http://example.com/x.dtd">',
        b'<!DOCTYPE Notify [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    ],
)
def test_dtds_are_refused(dtd: bytes) -> None:
    with pytest.raises(manscdp.XmlError) as caught:
        manscdp.parse(b'<?xml version="1.0"?>' + dtd + KEEPALIVE.replace(b"OK", b"&x;"))
    assert caught.value.rule == "xml.dtd"


def test_quadratic_blowup_without_dtd_is_cheap() -> None:
    body = KEEPALIVE.replace(b"OK", b"&lol9;" * 100_000)
    started = time.perf_counter()
    message = manscdp.parse(body).message
    assert time.perf_counter() - started < 2
    assert isinstance(message, Keepalive) and message.status.startswith("&lol9;")  # literal, never expanded


def test_entity_references_that_are_defined_are_read() -> None:
    body = KEEPALIVE.replace(b"<Status>OK", b"<Status>&#x516D;&#23433;&lt;&amp;&gt;")
    message = manscdp.parse(body).message
    assert isinstance(message, Keepalive) and message.status == "六安<&>"


def test_control_characters_bom_and_leading_garbage_are_repaired() -> None:
    body = b"\xef\xbb\xbf\x00junk" + KEEPALIVE.replace(b"<Status>OK", b"<Status>O\x01\x1fK")
    parsed = manscdp.parse(body)
    assert parsed.message == Keepalive(5, "34150300001320000031", "OK")
    assert {"control_characters", "leading_garbage"} <= set(parsed.repairs)


def test_trailing_data_after_a_whole_message() -> None:
    for tail in (b"\x00\x00", b"garbage", b"<Notify><CmdType>", KEEPALIVE):
        parsed = manscdp.parse(KEEPALIVE + tail)
        assert parsed.message == Keepalive(5, "34150300001320000031", "OK")


def test_namespaces_comments_cdata_and_self_closing_elements() -> None:
    body = (
        b'<Notify xmlns="urn:example"><!-- vendor --><CmdType>Keepalive</CmdType><SN>5</SN>'
        b"<DeviceID><![CDATA[34150300001320000031]]></DeviceID><Status/><Info/></Notify>"
    )
    assert manscdp.parse(body).message == Keepalive(5, "34150300001320000031", "")


def test_an_empty_root_is_a_message_error() -> None:
    with pytest.raises(manscdp.MessageError):
        manscdp.parse(b"<Notify/>")


def test_mismatched_inner_tags_are_recovered() -> None:
    body = KEEPALIVE.replace(b"<Status>OK</Status>", b"<Status>OK</status>")
    parsed = manscdp.parse(body)
    assert isinstance(parsed.message, Keepalive) and "recovered" in parsed.repairs


def test_node_access_is_case_insensitive() -> None:
    root = read_document(
        b"<RESPONSE><cmdtype>x</cmdtype><DeviceList nUm='3'><item/><ITEM/></DeviceList></RESPONSE>"
    ).root
    assert root.text("CmdType") == "x" and root.has("cmdType") and root.child("devicelist") is not None
    device_list = root.child("DeviceList")
    assert device_list is not None
    assert device_list.attribute("Num") == "3"
    assert len(list(device_list.children("Item"))) == 2


def test_from_bytes_checks_the_kind() -> None:
    assert Keepalive.from_bytes(KEEPALIVE).sn == 5
    with pytest.raises(manscdp.MessageError) as caught:
        CatalogResponse.from_bytes(KEEPALIVE)
    assert caught.value.rule == "message.unexpected"


@pytest.mark.parametrize("name", ["catalog_2016_gb2312.xml", "catalog_2022_gb18030.xml", "keepalive.xml"])
def test_every_prefix_parses_or_raises_a_remote_error(name: str) -> None:
    """The vector cut at every byte: a RemoteError or a message, never another exception or a short catalog."""
    data = (VECTORS / name).read_bytes()
    whole = manscdp.parse(data).message
    for end in range(len(data)):
        try:
            parsed = manscdp.parse(data[:end])
        except manscdp.RemoteError:
            continue
        # only cuts inside the trailing line break parse, and they give the whole message
        assert parsed.message == whole, end
