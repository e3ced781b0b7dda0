"""encode -> parse gives the message back, in both editions and the three charsets devices use; vectors parsed,
encoded and parsed again keep what the edition's layout carries."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import (
    AlarmNotify,
    AlarmStatusItem,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    Charset,
    CommandResponse,
    DeviceControl,
    DeviceInfo,
    DeviceInfoQuery,
    DeviceStatus,
    DeviceStatusQuery,
    Edition,
    HomePosition,
    Keepalive,
    Kind,
    MediaStatus,
    Message,
    PtzCmd,
    RecordInfoQuery,
    RecordInfoResponse,
    RecordItem,
    Result,
    UnknownMessage,
)
from xueliang.protocol.manscdp.catalog_item import FIELD_NAMES

VECTORS = Path(__file__).resolve().parents[3] / "data" / "manscdp"
EDITIONS = [Edition.GB2016, Edition.GB2022]
CHARSETS = [Charset.GB2312, Charset.GB18030, Charset.UTF8]
NVR = "34150300001180000001"
CAMERA = "34150300001320000011"

FULL_ITEM = CatalogItem(
    device_id=CAMERA,
    name="裕安区苏埠镇䶮塘村村口 A&B <东>",
    manufacturer="Dahua",
    model="DH-IPC-HFW4443M-I2",
    owner="六安市公安局裕安分局",
    civil_code="34150322",
    block="苏埠派出所",
    address="六安市裕安区苏埠镇䶮塘村村委会东侧",
    parental=0,
    parent_id="34150000002000000001/34150300002160000003",
    safety_way=0,
    register_way=1,
    security_level_code="A",
    cert_num="CERT-2021-0001",
    certifiable=0,
    err_code=400,
    end_time=dt.datetime(2030, 12, 31, 23, 59, 59),
    secrecy=0,
    ip_address="10.34.18.22",
    port=37777,
    password="admin12345",
    status="ON",
    longitude=116.3812,
    latitude=31.6205,
    business_group_id="34150300002150000001",
    ptz_type="1",
    photoelectric_imaging_type="1/2",
    capture_position_type="3",
    position_type="8",
    room_type="1",
    use_type="1",
    supply_light_type="2",
    direction_type="3",
    resolution="6/3",
    stream_number_list="0/1",
    download_speed="1/2/4/8",
    svc_space_support_mode=0,
    svc_time_support_mode=1,
    ssvc_ratio_support_list="4:3/2:1",
    mobile_device_type=9,
    horizontal_field_angle=98.5,
    vertical_field_angle=52.25,
    max_view_distance=60.0,
    grassroots_code="341503107201",
    point_type="2",
    point_common_name="䶮塘村老槐树",
    mac="4C-11-BF-2A-7E-01",
    function_type="1",
    encode_type="2",
    install_time="2021-06-18",
    management_unit="六安市公安局裕安分局苏埠派出所",
    contact_info="0564-3321110",
    record_save_days=30,
    industrial_classification="S",
    extra={"StreamNum": "2", "Info/MaxCamera": "1", "Vendor/Sub": "x"},
)
RECORD_ITEM = RecordItem(
    device_id=CAMERA,
    name="裕安区苏埠镇䶮塘村村口",
    file_path="/mnt/hdd1/ch01/20240501000000.ps",
    address="苏埠派出所机房",
    start_time=dt.datetime(2024, 5, 1),
    end_time=dt.datetime(2024, 5, 1, 0, 59, 59, 500_000),
    secrecy=0,
    type="time",
    recorder_id=CAMERA,
    file_size=536870912,
    record_location="1",
    stream_number=0,
)

MESSAGES: list[Message] = [
    Keepalive(1, CAMERA),
    Keepalive(2**40, NVR, "ERROR", ("34150300001310000002", "34150300001310000003")),
    CatalogQuery(3, NVR),
    CatalogQuery(4, NVR, dt.datetime(2024, 5, 1, 8), dt.datetime(2024, 5, 2, 8)),
    CatalogResponse(5, NVR, 10, (FULL_ITEM, CatalogItem("34150300001310000002", name="裕安区平桥乡"))),
    CatalogResponse(6, NVR, 0),
    CatalogNotify(7, NVR, 2, (CatalogItem(CAMERA, event="DEL"), dataclasses.replace(FULL_ITEM, event="UPDATE"))),
    DeviceInfoQuery(8, NVR),
    DeviceInfo(9, NVR, Result.OK, "裕安区鼓楼街道NVR-01", "Hikvision", "DS-7932N-R4", "V4.62", 32, {"MaxCamera": "32"}),
    DeviceInfo(10, NVR, Result.ERROR),
    DeviceStatusQuery(11, NVR),
    DeviceStatus(
        12,
        NVR,
        Result.OK,
        "ONLINE",
        "OK",
        None,
        "ON",
        "OFF",
        dt.datetime(2024, 5, 1, 8, 30),
        (AlarmStatusItem("34150300001340000001", "ONDUTY"),),
    ),
    RecordInfoQuery(13, CAMERA, dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2), type="all", secrecy=0),
    RecordInfoQuery(14, CAMERA, dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2), stream_number=1, alarm_type="2"),
    RecordInfoResponse(15, CAMERA, 3, (RECORD_ITEM,), name="裕安区苏埠镇䶮塘村村口"),
    DeviceControl.ptz_command(16, CAMERA, PtzCmd.for_action("up_left", speed=0x40)),
    DeviceControl.reboot(17, NVR),
    DeviceControl(18, CAMERA, record_cmd="Record"),
    DeviceControl(19, CAMERA, guard_cmd="SetGuard"),
    DeviceControl.reset_alarm(20, CAMERA, "5", "6"),
    DeviceControl(21, CAMERA, iframe=True),
    DeviceControl(22, CAMERA, home_position=HomePosition(True, 60, 3)),
    DeviceControl(23, CAMERA, home_position=HomePosition(False)),
    AlarmNotify(
        24, "34150300001340000001", 1, 5, dt.datetime(2024, 5, 1, 8, 30, 15), "区域入侵", 116.49, 31.74, "6", "1"
    ),
    AlarmNotify(25, "34150300001340000001", 4, 2),
    MediaStatus(26, CAMERA),
    CommandResponse("DeviceControl", 27, CAMERA),
    CommandResponse("Alarm", 28, CAMERA, Result.ERROR, "设备忙"),
    UnknownMessage(Kind.QUERY, "PresetQuery", 29, CAMERA, {"Extra/Deep": "1"}),
]


def _expected(message: Message, edition: Edition) -> Message:
    """What a message keeps when written in ``edition``'s layout."""
    if isinstance(message, CatalogResponse | CatalogNotify):
        return dataclasses.replace(message, items=tuple(i.for_edition(edition) for i in message.items))
    if isinstance(message, RecordInfoResponse):
        return dataclasses.replace(message, items=tuple(i.for_edition(edition) for i in message.items))
    if isinstance(message, RecordInfoQuery) and edition is Edition.GB2016:
        return dataclasses.replace(message, stream_number=None, alarm_method=None, alarm_type=None)
    return message


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{type(m).__name__}-{m.sn}")
def test_encode_then_parse(message: Message, edition: Edition, charset: Charset) -> None:
    data = message.encode(edition, charset)
    assert data.startswith(f'<?xml version="1.0" encoding="{charset.label}"?>'.encode())
    parsed = manscdp.parse(data)
    assert parsed.repairs == ()
    assert parsed.charset is charset or data.isascii()
    assert parsed.message == _expected(message, edition)


def test_bytes_is_the_2016_gb2312_encoding() -> None:
    message = Keepalive(1, CAMERA)
    assert bytes(message) == message.encode(Edition.GB2016, Charset.GB2312)


def test_catalog_layouts_differ_by_edition() -> None:
    response = CatalogResponse(5, NVR, 1, (FULL_ITEM,))
    old = response.to_xml(Edition.GB2016)
    new = response.to_xml(Edition.GB2022)
    for element in ("Owner", "SafetyWay", "CertNum", "Certifiable", "ErrCode", "EndTime", "PositionType", "UseType"):
        assert f"<{element}>" in old and f"<{element}>" not in new
    for element in ("SecurityLevelCode", "GrassrootsCode", "PointCommonName", "MAC", "RecordSaveDays"):
        assert f"<{element}>" not in old and f"<{element}>" in new
    # BusinessGroupID: inside Info in 2016, on the item in 2022
    assert old.index("<BusinessGroupID>") > old.index("<Info>")
    assert new.index("<BusinessGroupID>") < new.index("<Info>")
    assert '<DeviceList Num="1">' in old and "<SumNum>1</SumNum>" in old


def test_iframe_element_per_edition() -> None:
    message = DeviceControl(21, CAMERA, iframe=True)
    assert "<IFameCmd>Send</IFameCmd>" in message.to_xml(Edition.GB2016)
    assert "<IFrameCmd>Send</IFrameCmd>" in message.to_xml(Edition.GB2022)


def test_item_field_table_matches_the_dataclass() -> None:
    fields = [f.name for f in dataclasses.fields(CatalogItem)]
    assert fields == [*FIELD_NAMES, "extra", "malformed"]
    assert all(getattr(FULL_ITEM, name) is not None for name in FIELD_NAMES if name != "event")


def test_for_edition_drops_what_the_layout_lacks() -> None:
    old, new = FULL_ITEM.for_edition("2016"), FULL_ITEM.for_edition("2022")
    assert old.owner and old.position_type and old.grassroots_code is None and old.security_level_code is None
    assert new.owner is None and new.use_type is None and new.grassroots_code and new.security_level_code


def test_malformed_numbers_are_kept_raw() -> None:
    body = (
        CatalogResponse(5, NVR, 1, (CatalogItem(CAMERA),))
        .to_xml()
        .replace(
            f"<DeviceID>{CAMERA}</DeviceID>",
            f"<DeviceID>{CAMERA}</DeviceID><Longitude>116.5E</Longitude><Port>80a</Port><Parental>1.0</Parental>",
        )
    )
    message = manscdp.parse(body.encode()).message
    assert isinstance(message, CatalogResponse)
    (item,) = message.items
    assert (item.longitude, item.port, item.parental) == (None, None, 1)
    assert item.malformed == {"Longitude": "116.5E", "Port": "80a"}


def test_items_without_device_id_are_dropped_and_counted() -> None:
    body = (
        CatalogResponse(5, NVR, 2, (CatalogItem(CAMERA),))
        .to_xml()
        .replace("</DeviceList>", "<Item><Name>x</Name></Item></DeviceList>")
    )
    message = manscdp.parse(body.encode()).message
    assert isinstance(message, CatalogResponse)
    assert (len(message.items), message.dropped) == (1, 1)
    assert message.num_mismatch  # Num="1" was written for the one good item, two came


def test_credentials_in_vendor_elements_are_not_kept() -> None:
    body = (
        CatalogResponse(5, NVR, 1, (CatalogItem(CAMERA),))
        .to_xml()
        .replace(
            f"<DeviceID>{CAMERA}</DeviceID>",
            f"<DeviceID>{CAMERA}</DeviceID><LoginName>admin</LoginName><LoginPassword>x</LoginPassword>",
        )
    )
    message = manscdp.parse(body.encode()).message
    assert isinstance(message, CatalogResponse)
    assert message.items[0].extra == {"LoginName": "admin"}


@pytest.mark.parametrize(
    "name", sorted(p.name for p in VECTORS.glob("*.xml") if "invalid" not in p.name and "truncated" not in p.name)
)
@pytest.mark.parametrize("edition", EDITIONS)
def test_vectors_survive_a_round_trip(name: str, edition: Edition) -> None:
    parsed = manscdp.parse((VECTORS / name).read_bytes())
    again = manscdp.parse(parsed.message.encode(edition, parsed.charset))
    assert again.message == _expected(parsed.message, edition)


def test_response_without_payload_is_a_command_response() -> None:
    for cmd in ("Catalog", "RecordInfo", "DeviceControl", "Alarm", "ConfigDownload"):
        body = (
            f"<Response><CmdType>{cmd}</CmdType><SN>1</SN><DeviceID>{NVR}</DeviceID><Result>Error</Result></Response>"
        )
        message = manscdp.parse(body.encode()).message
        assert message == CommandResponse(cmd, 1, NVR, Result.ERROR)


def test_unknown_command_is_kept() -> None:
    body = (
        f"<Notify><CmdType>MobilePosition</CmdType><SN>9</SN><DeviceID>{CAMERA}</DeviceID><Speed>3.5</Speed></Notify>"
    )
    message = manscdp.parse(body.encode()).message
    assert message == UnknownMessage(Kind.NOTIFY, "MobilePosition", 9, CAMERA, {"Speed": "3.5"})


@pytest.mark.parametrize(
    ("header", "edition"),
    [
        ("2.0", Edition.GB2016),
        ("3.0", Edition.GB2022),
        (" 3.0 ", Edition.GB2022),
        ("1.0", Edition.GB2016),
        (None, Edition.GB2016),
        ("", Edition.GB2016),
        ("v3", Edition.GB2016),
        ("3", Edition.GB2022),
    ],
)
def test_edition_from_header(header: str | None, edition: Edition) -> None:
    assert manscdp.edition_from_header(header) is edition


def test_header_for_edition() -> None:
    assert (manscdp.header_for_edition("2016"), manscdp.header_for_edition(Edition.GB2022)) == ("2.0", "3.0")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Keepalive(-1, CAMERA),
        lambda: Keepalive(1, ""),
        lambda: CatalogQuery(1, "x" * 65),
        lambda: Keepalive(1, "3415\n0300"),
    ],
)
def test_invalid_construction_is_a_local_error(build: object) -> None:
    with pytest.raises(manscdp.LocalError):
        build()  # type: ignore[operator]
