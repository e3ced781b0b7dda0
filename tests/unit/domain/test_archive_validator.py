"""The archive validator: each rule fails on a bad record and passes on a good one."""

from __future__ import annotations

import datetime as dt

import pytest

from xueliang.domain import coords
from xueliang.domain.archive import (
    CameraRecord,
    Crs,
    Finding,
    NamingRule,
    Severity,
    ValidationContext,
)
from xueliang.domain.validator import check_camera
from xueliang.domain.validator import normalise_raw as normalise
from xueliang.domain.validator import validate_record as validate

TODAY = dt.date(2025, 6, 1)
YUAN_SEAT = (116.47459, 31.74012)  # 裕安区 seat, WGS-84
JINZHAI_MOUNTAINS = (115.65, 31.45)  # deep inside 金寨县


def good() -> dict[str, object]:
    """A class 1 camera in 裕安区 that breaks no rule."""
    return {
        "platform_id": "34150300001320000001",
        "name": "裕安区梅山南路与皋城路交叉口东",
        "division_code": "341503",
        "install_address": "六安市裕安区梅山南路与皋城路交叉口",
        "longitude": str(YUAN_SEAT[0]),
        "latitude": str(YUAN_SEAT[1]),
        "camera_type": "球机",
        "point_class": "一类点",
        "position_type": "10",
        "room_type": "室外",
        "direction": "东",
        "supply_light": "红外",
        "network": "视频专网",
        "owner_unit": "LA-GA",
        "management_unit": "LA-GA",
        "management_contact": "0564-1234567",
        "install_time": "2021-03-15",
        "record_save_days": "30",
        "access_protocol": "GB28181",
    }


def run(raw: dict[str, object], **context: object) -> tuple[CameraRecord, list[Finding]]:
    ctx = ValidationContext(today=TODAY, **context)  # type: ignore[arg-type]
    return check_camera(raw, ctx)


def rules(findings: list[Finding]) -> dict[str, Severity]:
    return {f.rule: f.severity for f in findings}


def with_(**changes: object) -> dict[str, object]:
    raw = good()
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


def test_the_good_record_passes_clean() -> None:
    record, findings = run(good())
    assert findings == []
    assert (record.camera_type, record.point_class, record.room_type, record.direction) == ("1", "1", "1", "1")
    assert (record.network, record.access_protocol, record.supply_light) == ("video_private", "gb28181", "2")
    assert record.install_time == dt.date(2021, 3, 15)
    assert record.record_save_days == 30
    assert (record.longitude, record.latitude) == YUAN_SEAT
    assert (record.submitted_longitude, record.submitted_crs) == (YUAN_SEAT[0], "wgs84")


def test_every_finding_is_bilingual_with_field_and_value() -> None:
    raw = with_(
        platform_id="34150300001180000001",
        camera_type="飞碟",
        longitude=str(JINZHAI_MOUNTAINS[0]),
        latitude=str(JINZHAI_MOUNTAINS[1]),
        install_time="2030-01-01",
        record_save_days="7",
        name="梅山南路",
        management_unit=None,
    )
    _record, findings = run(raw)
    assert len(findings) >= 7
    for finding in findings:
        assert finding.field and finding.rule
        assert finding.message_zh and finding.message_en
        assert finding.message_zh != finding.message_en
        if finding.rule != "management_unit.missing":
            assert finding.value, finding


# --------------------------------------------------------------------------------------------- ID rules


@pytest.mark.parametrize(
    ("platform_id", "rule"),
    [
        (None, "id.missing"),
        ("3415030000132000000X", "id.not_digits"),
        ("341503000013200001", "id.legacy_18"),
        ("3415030000132000001", "id.length"),
        ("99150300001320000001", "id.division"),
    ],
)
def test_malformed_ids_are_errors(platform_id: str | None, rule: str) -> None:
    _record, findings = run(with_(platform_id=platform_id))
    finding = only(findings, rule)
    assert finding.severity is Severity.ERROR
    assert finding.field == "platform_id"


def test_18_digit_message() -> None:
    _record, findings = run(with_(platform_id="341503000013200001"))
    assert "18-digit 2011-edition ID" in only(findings, "id.legacy_18").message_en


def test_id_stored_as_a_spreadsheet_number_is_refused() -> None:
    _record, findings = run(with_(platform_id=3.4150300001320003e19))
    assert only(findings, "id.not_digits").severity is Severity.ERROR


def test_duplicate_id_is_an_error() -> None:
    taken = {"34150300001320000001"}
    _record, findings = run(good(), id_taken=taken.__contains__)
    assert only(findings, "id.duplicate").value == "34150300001320000001"
    _record, findings = run(with_(platform_id="34150300001320000002"), id_taken=taken.__contains__)
    assert findings == []


def test_id_division_must_match_the_division_code() -> None:
    _record, findings = run(with_(platform_id="34150200001320000001"))  # 金安区 ID, 裕安区 division
    finding = only(findings, "id.division_mismatch")
    assert "34150200" in finding.message_zh and "341503" in finding.message_en
    # a more general division on either side is consistent
    assert run(with_(division_code="341500"))[1] == []  # named after its county: fine under the city
    assert run(with_(platform_id="34150301001320000001"))[1] == []
    assert run(with_(platform_id="34150000001320000001"))[1] == []


@pytest.mark.parametrize("type_code", ["118", "121", "200", "134"])
def test_non_video_type_is_an_error(type_code: str) -> None:
    _record, findings = run(with_(platform_id=f"3415030000{type_code}0000001"))
    finding = only(findings, "id.not_video_type")
    assert type_code in finding.message_en and "131" in finding.message_en and "132" in finding.message_zh


def test_camera_type_131_passes() -> None:
    assert run(with_(platform_id="34150300001310000001"))[1] == []


# ------------------------------------------------------------------------------------------- code tables


def test_unknown_code_value_lists_the_accepted_values() -> None:
    record, findings = run(with_(camera_type="飞碟"))
    finding = only(findings, "code.unknown")
    assert finding.field == "camera_type" and finding.value == "飞碟"
    assert "1 球机" in finding.message_zh and "3 固定枪机" in finding.message_zh
    assert "1 dome" in finding.message_en
    assert record.camera_type is None


def test_codes_labels_and_synonyms_are_accepted() -> None:
    record, findings = run(with_(camera_type="固定枪机", direction="NE", position_type=10, supply_light=2.0))
    assert (record.camera_type, record.direction, record.position_type, record.supply_light) == ("3", "6", "10", "2")
    # the name ends in 东 but the camera faces north-east
    assert rules(findings) == {"name.naming_rule": Severity.WARNING}


def test_validate_checks_codes_on_records_built_directly() -> None:
    record, _ = normalise(good())
    record.room_type = "7"
    findings = validate(record, ValidationContext(today=TODAY))
    assert only(findings, "code.unknown").field == "room_type"


def test_unknown_division_code_is_an_error() -> None:
    _record, findings = run(with_(division_code="341599", platform_id="34159900001320000001"))
    assert only(findings, "division.unknown").severity is Severity.ERROR


# ----------------------------------------------------------------------------------------- coordinates


def test_coordinates_must_be_numbers() -> None:
    record, findings = run(with_(longitude="东经116度"))
    assert only(findings, "coords.not_number").field == "longitude"
    assert record.longitude is None


def test_coordinates_must_be_complete() -> None:
    _record, findings = run(with_(latitude=None))
    assert only(findings, "coords.incomplete").field == "latitude"


def test_coordinates_outside_wgs84_are_errors() -> None:
    _record, findings = run(with_(longitude="216.47"))
    assert only(findings, "coords.range").severity is Severity.ERROR


def test_zero_zero_is_an_error() -> None:
    _record, findings = run(with_(longitude="0", latitude="0"))
    assert only(findings, "coords.zero").severity is Severity.ERROR


def test_a_point_in_jinzhai_stated_as_yuan_is_an_error_naming_jinzhai() -> None:
    _record, findings = run(with_(longitude=JINZHAI_MOUNTAINS[0], latitude=JINZHAI_MOUNTAINS[1]))
    finding = only(findings, "coords.outside_division")
    assert finding.severity is Severity.ERROR
    assert "金寨县" in finding.message_zh and "裕安区" in finding.message_zh
    assert "341503" in finding.message_en


def test_swapped_coordinates_get_a_hint() -> None:
    _record, findings = run(with_(longitude=YUAN_SEAT[1], latitude=YUAN_SEAT[0]))
    # 31.7 E, 116.5 N is outside WGS-84 latitude: a range error, not a division error
    assert "coords.range" in rules(findings)
    swapped_in_range = with_(longitude=str(YUAN_SEAT[1]), latitude=str(YUAN_SEAT[1]))
    assert "coords.outside_division" in rules(run(swapped_in_range)[1])


def test_without_a_stated_division_the_ids_division_is_used() -> None:
    raw = with_(division_code=None, longitude=JINZHAI_MOUNTAINS[0], latitude=JINZHAI_MOUNTAINS[1])
    assert "coords.outside_division" in rules(run(raw)[1])
    assert run(with_(division_code=None))[1] == []


@pytest.mark.parametrize("point_class", ["一类点", "二类点"])
def test_class_1_and_2_points_need_coordinates(point_class: str) -> None:
    _record, findings = run(with_(point_class=point_class, longitude=None, latitude=None))
    assert only(findings, "coords.missing").severity is Severity.ERROR


def test_class_3_points_may_lack_coordinates() -> None:
    assert run(with_(point_class="三类点", longitude=None, latitude=None))[1] == []


def test_gcj02_input_is_converted_and_the_submission_kept() -> None:
    gcj = coords.wgs84_to_gcj02(*YUAN_SEAT)
    record, findings = run(with_(longitude=gcj[0], latitude=gcj[1], crs="高德"))
    assert findings == []
    assert record.submitted_crs == "gcj02"
    assert (record.submitted_longitude, record.submitted_latitude) == gcj
    assert record.longitude is not None and record.latitude is not None
    assert coords.haversine_m(record.longitude, record.latitude, *YUAN_SEAT) < 0.5


def test_import_wide_crs_and_bd09() -> None:
    bd = coords.wgs84_to_bd09(*YUAN_SEAT)
    record, findings = check_camera(
        with_(longitude=bd[0], latitude=bd[1]), ValidationContext(today=TODAY), crs=Crs.BD09
    )
    assert findings == []
    assert record.longitude is not None and record.latitude is not None
    assert coords.haversine_m(record.longitude, record.latitude, *YUAN_SEAT) < 0.5


def test_unknown_crs_is_an_error() -> None:
    _record, findings = run(with_(crs="墨卡托"))
    assert only(findings, "crs.unknown").field == "submitted_crs"


# ---------------------------------------------------------------------------------------- install time


def test_install_time_in_the_future_is_an_error() -> None:
    _record, findings = run(with_(install_time="2025-06-02"))
    assert only(findings, "install_time.future").value == "2025-06-02"
    assert run(with_(install_time="2025-06-01"))[1] == []


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("2021年3月15日", dt.date(2021, 3, 15)),
        ("2021/3/15", dt.date(2021, 3, 15)),
        ("20210315", dt.date(2021, 3, 15)),
        ("2021-03-15 08:30:00", dt.date(2021, 3, 15)),
        ("2021-03", dt.date(2021, 3, 1)),
        (44270, dt.date(2021, 3, 15)),  # Excel serial day
        (dt.datetime(2021, 3, 15, 8, 30), dt.date(2021, 3, 15)),
    ],
)
def test_dates_in_the_usual_spellings(value: object, date: dt.date) -> None:
    record, findings = run(with_(install_time=value))
    assert findings == []
    assert record.install_time == date


def test_unreadable_date_is_an_error() -> None:
    _record, findings = run(with_(install_time="去年春天"))
    assert only(findings, "value.not_date").field == "install_time"


# -------------------------------------------------------------------------------------------- warnings


def test_network_digit_contradicting_the_network_is_a_warning() -> None:
    raw = with_(platform_id="34150300001325000001")  # digit 5: police information network in both editions
    finding = only(run(raw)[1], "id.network_mismatch")
    assert finding.severity is Severity.WARNING
    assert "公安信息网" in finding.message_zh and "视频专网" in finding.message_zh


def test_network_digit_that_fits_either_edition_passes() -> None:
    assert run(with_(platform_id="34150300001322000001"))[1] == []  # 2016: video private network
    assert run(with_(platform_id="34150300001322000001", network="行业专网"))[1] == []  # 2022 meaning
    assert run(with_(platform_id="34150300001325000001", network="整合域"))[1] == []  # 整合域 has no digit


@pytest.mark.parametrize(
    ("days", "position", "warned"),
    [("29", "10", True), ("30", "10", False), ("60", "3", True), ("90", "3", False), ("89天", "8", True)],
)
def test_record_save_days(days: str, position: str, warned: bool) -> None:
    findings = run(with_(record_save_days=days, position_type=position))[1]
    assert ("record_save_days.short" in rules(findings)) is warned
    assert all(f.severity is Severity.WARNING for f in findings)


def test_record_save_days_thresholds_are_configurable() -> None:
    raw = with_(record_save_days="20", position_type="3")
    assert "record_save_days.short" in rules(run(raw)[1])
    assert run(raw, min_save_days=15, min_save_days_key=15)[1] == []
    assert run(with_(record_save_days="60", position_type="3"), key_position_types=frozenset({"1"}))[1] == []


@pytest.mark.parametrize("missing", ["management_unit", "management_contact", "install_time", "record_save_days"])
def test_class_1_points_missing_management_data_are_warned(missing: str) -> None:
    findings = run(with_(**{missing: None}))[1]
    assert rules(findings) == {f"{missing}.missing": Severity.WARNING}
    assert run(with_(point_class="二类点", **{missing: None}))[1] == []


def test_name_not_following_the_rule_is_a_warning() -> None:
    finding = only(run(with_(name="梅山南路与皋城路交叉口"))[1], "name.naming_rule")
    assert finding.severity is Severity.WARNING
    assert "行政区划名称+地址+监视方向" in finding.message_zh


def test_naming_rule_is_configurable() -> None:
    raw = with_(name="梅山南路与皋城路交叉口")
    assert run(raw, naming_rule=NamingRule(enabled=False))[1] == []
    assert run(with_(name="裕安区-梅山南路"), naming_rule=NamingRule(template="{division}-{address}"))[1] == []


def test_missing_name_is_an_error() -> None:
    assert only(run(with_(name="  "))[1], "name.missing").severity is Severity.ERROR


# ------------------------------------------------------------------------------------------- normalise


def test_empty_markers_mean_not_supplied() -> None:
    record, findings = run(with_(resolution="/", model="null", manufacturer="  "))
    assert findings == []
    assert (record.resolution, record.model, record.manufacturer) == (None, None, None)


def test_numbers_typed_into_text_fields_lose_the_spreadsheet_dot_zero() -> None:
    record, findings = run(with_(management_contact=13800000000.0, division_code=341503.0))
    assert findings == []
    assert record.management_contact == "13800000000"
    assert record.division_code == "341503"


def test_statistical_division_codes_are_cut_to_the_county() -> None:
    record, findings = run(with_(division_code="341503100000"))
    assert findings == []
    assert record.division_code == "341503"


def test_too_long_text_is_an_error() -> None:
    record, findings = run(with_(model="X" * 101))
    assert only(findings, "value.too_long").field == "model"
    assert record.model is None


@pytest.mark.parametrize(("value", "expected"), [("是", True), ("否", False), ("Y", True), (0, False), (True, True)])
def test_booleans(value: object, expected: bool) -> None:
    record, findings = run(with_(shared=value))
    assert findings == []
    assert record.shared is expected


def test_bad_boolean_and_out_of_range_numbers() -> None:
    _record, findings = run(with_(shared="也许", install_height="-3", record_save_days="十天"))
    assert rules(findings) == {
        "value.not_bool": Severity.ERROR,
        "value.out_of_range": Severity.ERROR,
        "value.not_integer": Severity.ERROR,
        "record_save_days.missing": Severity.WARNING,  # unreadable, so missing on this class 1 point
    }


def test_memoised_conversions_still_report_every_row() -> None:
    for _ in range(3):
        _record, findings = run(with_(camera_type="飞碟"))
        assert rules(findings) == {"code.unknown": Severity.ERROR}
