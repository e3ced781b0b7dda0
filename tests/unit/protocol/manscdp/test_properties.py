"""Property-based: arbitrary and mutated bytes never raise anything but the layer's RemoteError; arbitrary
text in names survives every charset; catalog items survive both editions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import CatalogItem, CatalogResponse, Charset, Edition

VECTORS = Path(__file__).resolve().parents[3] / "data" / "manscdp"
SAMPLES = [path.read_bytes() for path in sorted(VECTORS.glob("*.xml"))]
NVR = "34150300001180000001"


def _parses_or_remote_error(data: bytes) -> None:
    try:
        parsed = manscdp.parse(data)
    except manscdp.RemoteError:
        return
    assert isinstance(parsed.message.sn, int)
    # whatever parsed can be written back out
    parsed.message.encode(Edition.GB2022, parsed.charset)


@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    _parses_or_remote_error(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"&", b"<", b"</Item>", b"\x00", b"<!DOCTYPE x>", b"&lt", b"\xff"]))
        elif data:
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_vectors(data: bytes) -> None:
    _parses_or_remote_error(data)


@given(
    st.lists(
        st.sampled_from(
            [
                "<Response>",
                "<Notify>",
                "<CmdType>Catalog</CmdType>",
                "<SN>1</SN>",
                f"<DeviceID>{NVR}</DeviceID>",
                "<SumNum>",
                "x",
                "</SumNum>",
                "<DeviceList Num='x'>",
                "<Item>",
                "</Item>",
                "<Info>",
                "</Info>",
                "<PTZCmd>A50F</PTZCmd>",
                "&",
                "</Response>",
                "<Longitude>1e309</Longitude>",
                "<AlarmTime>2024-13-45T99:99</AlarmTime>",
                "<CmdType>DeviceControl</CmdType>",
                "<Control>",
                "</Control>",
                "</Notify>",
            ]
        ),
        max_size=40,
    )
)
def test_tag_soup(parts: list[str]) -> None:
    _parses_or_remote_error("".join(parts).encode())


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s and s.casefold() not in {"null", "owner", "civilcode", "manufacturer", "address"})


@given(names, st.sampled_from(list(Charset)), st.sampled_from([Edition.GB2016, Edition.GB2022]))
def test_any_name_survives_every_charset(name: str, charset: Charset, edition: Edition) -> None:
    item = CatalogItem("34150300001320000001", name=name, address=name, point_common_name=name)
    message = CatalogResponse(1, NVR, 1, (item,))
    parsed = manscdp.parse(message.encode(edition, charset))
    assert parsed.message == CatalogResponse(1, NVR, 1, (item.for_edition(edition),))


items = st.builds(
    CatalogItem,
    device_id=st.from_regex(r"\A3415030000(13[12]|118|215)[0-9]{7}\Z"),
    name=st.sampled_from(["裕安区梅山南路", "六安市裕安区平桥乡政府", "固镇镇汽车站", None]),
    parental=st.sampled_from([0, 1, None]),
    parent_id=st.sampled_from([NVR, f"{NVR}/34150300002160000003", None]),
    owner=st.sampled_from(["裕安分局", None]),
    port=st.integers(0, 65535) | st.none(),
    longitude=st.floats(115.0, 117.0) | st.none(),
    latitude=st.floats(31.0, 32.5) | st.none(),
    end_time=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 1, 1)).map(lambda t: t.replace(microsecond=0))
    | st.none(),
    security_level_code=st.sampled_from(["A", "B", "C", None]),
    record_save_days=st.integers(0, 3650) | st.none(),
    max_view_distance=st.floats(0, 5000) | st.none(),
    password=st.sampled_from(["admin12345", None]),
)


@given(st.lists(items, max_size=6), st.sampled_from([Edition.GB2016, Edition.GB2022]), st.sampled_from(list(Charset)))
def test_catalog_round_trip(generated: list[CatalogItem], edition: Edition, charset: Charset) -> None:
    message = CatalogResponse(7, NVR, len(generated), tuple(generated))
    parsed = manscdp.parse(message.encode(edition, charset)).message
    assert parsed == CatalogResponse(7, NVR, len(generated), tuple(i.for_edition(edition) for i in generated))
