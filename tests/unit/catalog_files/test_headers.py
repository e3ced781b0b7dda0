"""Header words of departments' sheets -> archive fields."""

from __future__ import annotations

import pytest

from xueliang.catalog import headers
from xueliang.catalog.table import TableError
from xueliang.domain.archive import FIELDS, FieldSpec

#: the synonyms the issue and the departments' sheets use
SYNONYMS: dict[str, str] = {
    "设备编码": "platform_id", "设备编号": "platform_id", "国标编码": "platform_id", "国标ID": "platform_id",
    "编码": "platform_id", "DeviceID": "platform_id",
    "设备名称": "name", "点位名称": "name", "摄像机名称": "name",
    "行政区划": "division_code", "行政区划代码": "division_code", "区划代码": "division_code",
    "CivilCode": "division_code",
    "经度": "longitude", "longitude": "longitude", "lng": "longitude", "lon": "longitude",
    "纬度": "latitude", "latitude": "latitude", "lat": "latitude",
    "安装地址": "install_address", "详细地址": "install_address", "地址": "install_address",
    "摄像机类型": "camera_type", "设备类型": "camera_type", "PTZType": "camera_type",
    "点位类型": "point_class", "点位级别": "point_class",
    "位置类型": "position_type", "室内外": "room_type", "监视方向": "direction", "朝向": "direction",
    "补光类型": "supply_light", "补光": "supply_light", "分辨率": "resolution",
    "厂商": "manufacturer", "设备厂商": "manufacturer", "品牌": "manufacturer",
    "型号": "model", "设备型号": "model", "IP地址": "ipv4", "IPv4": "ipv4", "MAC地址": "mac",
    "所属网络": "network", "网络类型": "network", "建设单位": "owner_unit", "所属单位": "owner_unit",
    "管理单位": "management_unit", "维护单位": "management_unit",
    "联系方式": "management_contact", "联系人电话": "management_contact", "联系电话": "management_contact",
    "安装时间": "install_time", "建设时间": "install_time",
    "录像保存天数": "record_save_days", "存储天数": "record_save_days", "用途": "use",
    "接入方式": "access_protocol", "接入协议": "access_protocol", "取流地址": "stream_url",
    "RTSP地址": "stream_url", "是否共享": "shared",
    "坐标系": "crs", "坐标类型": "crs", "crs": "crs",
}  # fmt: skip


@pytest.mark.parametrize(("header", "field"), SYNONYMS.items())
def test_each_synonym_maps_to_its_field(header: str, field: str) -> None:
    hit = headers.match(header)
    assert hit is not None and hit[0] == field


@pytest.mark.parametrize("spec", FIELDS, ids=lambda s: s.name)
def test_every_archive_header_and_field_name_maps(spec: FieldSpec) -> None:
    for text in (spec.zh, spec.en, spec.name):
        hit = headers.match(text)
        assert hit is not None and hit[0] == spec.name, text


@pytest.mark.parametrize(
    ("written", "field"),
    [
        ("经度(WGS84)", "longitude"),
        ("经度（GCJ-02）", "longitude"),
        ("*设备编码", "platform_id"),
        ("＊ 设备名称", "name"),
        (" 设备\n编码 ", "platform_id"),
        ("ＩＰ地址", "ipv4"),
        ("LONGITUDE", "longitude"),
        ("Install Height (m)", "install_height"),
        ("安装高度（米）", "install_height"),
        ("【备注】", "remark"),
        ("纬度：", "latitude"),
    ],
)
def test_matching_ignores_width_spaces_parentheses_markers_and_case(written: str, field: str) -> None:
    hit = headers.match(written)
    assert hit is not None and hit[0] == field


def test_unknown_and_ignored_headers() -> None:
    assert headers.match("负责民警") is None
    assert headers.match("序号") is None
    assert headers.is_ignored("序号") and not headers.is_ignored("负责民警")


def test_a_precise_name_wins_over_a_loose_one_for_the_same_field() -> None:
    resolved = headers.resolve(["序号", "设备编号", "国标编码", "名称", "点位名称", "负责民警"], list("ABCDEF"))
    assert resolved.fields == [None, None, "platform_id", None, "name", None]
    assert resolved.shadowed == ["设备编号", "名称"]
    assert resolved.unknown == ["负责民警"]  # 序号 is understood, not unknown


def test_two_columns_for_one_field_name_both_columns() -> None:
    with pytest.raises(TableError) as caught:
        headers.resolve(["设备编码", "设备名称", "国标编码"], ["A", "B", "C"])
    assert "A" in caught.value.zh and "C" in caught.value.zh
    assert "设备编码" in caught.value.zh and "国标编码" in caught.value.zh
    assert "columns A '设备编码' and C '国标编码'" in caught.value.en


def test_the_same_header_twice_is_a_duplicate() -> None:
    with pytest.raises(TableError, match="both map to the field longitude"):
        headers.resolve(["设备编码", "经度", "经度(GCJ02)"], ["A", "B", "C"])


def test_score_needs_an_id_or_name_column() -> None:
    assert headers.score(["经度", "纬度", "备注"]) == (3, False)
    assert headers.score(["国标编码", "经度", ""]) == (2, True)
    assert headers.score(["设备编码", "国标编码"]) == (1, True)  # one field, named twice
