"""Every vector under tests/data/manscdp/ parsed whole: what real devices send, and what they should not."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import (
    AlarmNotify,
    CatalogEvent,
    CatalogNotify,
    CatalogResponse,
    Charset,
    DeviceControl,
    DeviceInfo,
    DeviceStatus,
    Keepalive,
    MediaStatus,
    PtzAction,
    RecordInfoResponse,
)

VECTORS = Path(__file__).resolve().parents[3] / "data" / "manscdp"


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def test_catalog_2016_gb2312() -> None:
    parsed = manscdp.parse(vector("catalog_2016_gb2312.xml"))
    assert (parsed.charset, parsed.declared, parsed.repairs) == (Charset.GB2312, "GB2312", ())
    message = parsed.message
    assert isinstance(message, CatalogResponse)
    assert (message.sn, message.device_id, message.sum_num, message.num) == (17, "34150300001180000001", 4, 4)
    assert [item.device_id for item in message.items] == [f"3415030000131000000{i}" for i in range(1, 5)]
    first, second, third, fourth = message.items
    assert first.name == "裕安区梅山南路与解放路交叉口东北角"
    assert (first.manufacturer, first.model, first.civil_code) == ("Hikvision", "DS-2DE4425IW-DE", "341503")
    assert (first.longitude, first.latitude, first.port, first.parental) == (116.4912, 31.7413, 8000, 0)
    assert (first.ptz_type, first.position_type, first.use_type, first.direction_type) == ("1", "10", "1", "6")
    assert (first.resolution, first.download_speed, first.status, first.online) == ("6/5/3", "1/2/4", "ON", True)
    assert first.password == "Hik12345"
    assert "Hik12345" not in repr(first) and "Hik12345" not in repr(message)
    assert first.owner is None  # the literal placeholder "Owner"
    assert second.civil_code is None  # the literal placeholder "CivilCode"
    assert second.address == "六安市裕安区人民路步行街北口"  # leading space stripped
    assert (third.longitude, third.latitude, third.online) == (None, None, False)  # "null"
    assert third.malformed == {}
    assert fourth.extra == {"StreamNum": "2"}  # vendor element kept
    assert all(item.is_video_channel for item in message.items)


def test_catalog_2022_gb18030() -> None:
    parsed = manscdp.parse(vector("catalog_2022_gb18030.xml"))
    assert (parsed.charset, parsed.repairs) == (Charset.GB18030, ())
    message = parsed.message
    assert isinstance(message, CatalogResponse)
    group, camera, school = message.items
    assert group.business_group_id == group.device_id == "34150300002150000001"
    assert not group.is_video_channel
    assert camera.name == "裕安区苏埠镇䶮塘村村口"  # 䶮 is outside GB 2312 and GBK
    assert camera.parent_ids == ("34150000002000000001", "34150300002160000003")
    assert (camera.security_level_code, camera.block, camera.business_group_id) == ("A", "苏埠派出所", group.device_id)
    assert (camera.grassroots_code, camera.point_type, camera.point_common_name) == (
        "341503107201",
        "2",
        "䶮塘村老槐树",
    )
    assert (camera.horizontal_field_angle, camera.vertical_field_angle, camera.max_view_distance) == (98.5, 52.0, 60.0)
    assert (camera.mac, camera.install_time, camera.record_save_days) == ("4C-11-BF-2A-7E-01", "2021-06-18", 30)
    assert camera.management_unit == "六安市公安局裕安分局苏埠派出所"
    assert camera.stream_number_list == "0/1"
    assert school.parent_ids == ("34150300002160000003",)
    assert (school.point_type, school.record_save_days, school.online) == ("1", 90, False)


def test_utf8_bytes_declared_gb2312_decode_as_utf8() -> None:
    parsed = manscdp.parse(vector("catalog_utf8_declared_gb2312.xml"))
    assert (parsed.charset, parsed.declared) == (Charset.UTF8, "gb2312")
    assert "charset.mismatch" in parsed.repairs
    assert isinstance(parsed.message, CatalogResponse)
    assert [item.name for item in parsed.message.items] == ["裕安区城南镇卫生院门口", "裕安区城南镇农贸市场东入口"]


def test_keepalive_lowercase_elements() -> None:
    parsed = manscdp.parse(vector("keepalive_lowercase_elements.xml"))
    assert parsed.message == Keepalive(4711, "34150300001320000031", "OK", ("34150300001310000032",))
    assert parsed.charset is Charset.GB2312
    assert isinstance(parsed.message, Keepalive) and parsed.message.ok


def test_keepalive_without_declaration_is_utf8() -> None:
    parsed = manscdp.parse(vector("keepalive.xml"))
    assert parsed.message == Keepalive(43, "34150300001320000031")
    assert (parsed.charset, parsed.declared) == (Charset.UTF8, None)


def test_unescaped_ampersand_is_recovered() -> None:
    parsed = manscdp.parse(vector("catalog_unescaped_ampersand.xml"))
    assert "unescaped_ampersand" in parsed.repairs
    assert isinstance(parsed.message, CatalogResponse)
    (item,) = parsed.message.items
    assert item.name == "裕安区万达广场A&B座连廊"
    assert item.manufacturer == "Tiandy & Co"
    assert item.address == "六安市裕安区万达广场A座&B座之间&nbsp;连廊"  # escaped entity kept, unknown one literal


def test_trailing_garbage_is_cut() -> None:
    parsed = manscdp.parse(vector("catalog_trailing_garbage.xml"))
    assert "trailing_garbage" in parsed.repairs
    assert isinstance(parsed.message, CatalogResponse)
    assert [item.name for item in parsed.message.items] == ["裕安区独山镇红色旅游区停车场"]


def test_garbled_name_is_stored_and_flagged() -> None:
    parsed = manscdp.parse(vector("catalog_garbled_name.xml"))
    assert isinstance(parsed.message, CatalogResponse)
    (item,) = parsed.message.items
    assert item.name == "裕安区石婆店镇政府门".encode().decode("gbk")
    assert item.name_garbled


@pytest.mark.parametrize(
    "name",
    [
        "catalog_2016_gb2312_truncated.xml",
        "catalog_2022_gb18030_truncated.xml",
        "keepalive_truncated.xml",
    ],
)
def test_truncated_bodies_are_refused_not_read_short(name: str) -> None:
    with pytest.raises(manscdp.XmlError) as caught:
        manscdp.parse(vector(name))
    assert caught.value.rule == "xml.truncated"


def test_billion_laughs_is_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(manscdp.XmlError) as caught:
        manscdp.parse(vector("billion_laughs_invalid.xml"))
    assert caught.value.rule == "xml.dtd"
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("name", "error", "rule"),
    [
        ("keepalive_missing_sn_invalid.xml", manscdp.MessageError, "message.sn"),
        ("not_manscdp_root_invalid.xml", manscdp.MessageError, "message.root"),
        ("devicecontrol_ptz_bad_checksum_invalid.xml", manscdp.PtzError, "ptz.checksum"),
    ],
)
def test_invalid_vectors(name: str, error: type[manscdp.RemoteError], rule: str) -> None:
    with pytest.raises(error) as caught:
        manscdp.parse(vector(name))
    assert caught.value.rule == rule
    assert isinstance(caught.value, manscdp.RemoteError)


def test_deviceinfo_hikvision() -> None:
    message = manscdp.parse(vector("deviceinfo_hikvision.xml")).message
    assert message == DeviceInfo(
        17430,
        "34150300001180000001",
        device_name="裕安区鼓楼街道NVR-01",
        manufacturer="Hikvision",
        model="DS-7932N-R4",
        firmware="V4.62.210 build 230410",
        channel=32,
        extra={"DeviceType": "NVR", "MaxCamera": "32", "MaxAlarm": "16"},
    )


def test_declaration_with_dash_standalone_and_space() -> None:
    parsed = manscdp.parse(vector("deviceinfo_encoding_dash.xml"))
    assert (parsed.charset, parsed.declared) == (Charset.GB2312, "gb2312")
    assert isinstance(parsed.message, DeviceInfo)
    assert parsed.message.device_name == "裕安区罗集乡政府球机"
    assert parsed.message.manufacturer is None  # the literal placeholder "Manufacturer"


def test_alarm_notify() -> None:
    message = manscdp.parse(vector("alarm_notify.xml")).message
    assert isinstance(message, AlarmNotify)
    assert (message.priority, message.method, message.time) == (1, 5, dt.datetime(2024, 5, 1, 8, 30, 15))
    assert (message.alarm_type, message.event_type) == ("6", "1")
    assert message.description == "裕安区梅山南路口区域入侵报警"
    assert (message.longitude, message.latitude) == (116.4912, 31.7413)
    assert message.priority_valid and message.method_valid
    answer = manscdp.CommandResponse.answer(message)
    assert manscdp.parse(answer.encode()).message == answer
    assert b"<CmdType>Alarm</CmdType>" in bytes(answer) and b"<Result>OK</Result>" in bytes(answer)


def test_mediastatus_121() -> None:
    message = manscdp.parse(vector("mediastatus_121.xml")).message
    assert message == MediaStatus(210, "34150300001310000001", 121)
    assert isinstance(message, MediaStatus) and message.is_end


def test_recordinfo_fragment() -> None:
    message = manscdp.parse(vector("recordinfo_fragment.xml")).message
    assert isinstance(message, RecordInfoResponse)
    assert (message.sum_num, message.num, len(message.items)) == (3, 2, 2)
    first, second = message.items
    assert first.file_path == "ch01_00000000002000100"
    assert (first.start_time, first.end_time) == (dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 1, 1))
    assert (first.file_size, first.address, first.type) == (1073741824, None, "time")
    assert second.recorder_id == "34150300001310000001"


def test_devicestatus_response() -> None:
    message = manscdp.parse(vector("devicestatus_response.xml")).message
    assert isinstance(message, DeviceStatus)
    assert message.is_online and message.online == "ONLINE"
    assert (message.status, message.encode_status, message.record_status) == ("OK", "ON", "OFF")
    assert message.device_time == dt.datetime(2024, 5, 1, 8, 30, 0, 250_000)
    assert [(a.device_id[-1], a.duty_status) for a in message.alarm_status] == [("1", "ONDUTY"), ("2", "ALARM")]


def test_devicecontrol_ptz() -> None:
    message = manscdp.parse(vector("devicecontrol_ptz_up.xml")).message
    assert isinstance(message, DeviceControl)
    assert message.ptz is not None and message.ptz.action is PtzAction.UP
    assert message.ptz.tilt_speed == 0x80
    assert message.extra == {"Info/ControlPriority": "5"}


def test_catalog_notify_events() -> None:
    message = manscdp.parse(vector("catalog_notify_events.xml")).message
    assert isinstance(message, CatalogNotify)
    events = [(event, item.device_id[-1]) for event, item in message.events()]
    assert events == [
        (CatalogEvent.OFF, "1"),
        (CatalogEvent.VLOST, "2"),  # "vlost" upper-cased
        (CatalogEvent.DEL, "3"),
        (CatalogEvent.ADD, "5"),
    ]
    added = message.items[3]
    assert added.name == "裕安区新安镇集镇十字路口" and added.online


def test_every_vector_parses_or_raises_remote_error() -> None:
    for path in sorted(VECTORS.glob("*.xml")):
        data = path.read_bytes()
        if "invalid" in path.name or "truncated" in path.name:
            with pytest.raises(manscdp.RemoteError):
                manscdp.parse(data)
        else:
            assert manscdp.parse(data).message.sn >= 0, path.name
