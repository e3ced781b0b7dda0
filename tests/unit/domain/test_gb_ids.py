"""The 20-digit GB/T 28181 ID codec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xueliang.domain import ids
from xueliang.domain.ids import Edition, GbId, IdError

LUAN_IPC = "34150300001320000001"  # 裕安区, industry 00, type 132 IPC, network 0, serial 1


def test_parse_splits_every_part() -> None:
    gb = GbId.parse(f"  {LUAN_IPC}\n")
    assert gb.text == LUAN_IPC
    assert (gb.province, gb.city, gb.county, gb.grassroots) == ("34", "15", "03", "00")
    assert (gb.division, gb.division_prefix) == ("34150300", "341503")
    assert (gb.industry, gb.type_code, gb.network, gb.serial) == ("00", "132", "0", "000001")
    assert gb.prefix14 == "34150300001320"
    assert gb.is_video_channel
    assert str(gb) == LUAN_IPC


def test_explain_2016_camera() -> None:
    rows = {row[1]: row for row in ids.explain("34150300051311000123")}
    assert rows["centre code (division)"][3] == "安徽省六安市裕安区"
    assert rows["province"][2:] == ("34", "安徽省", "Anhui (34)")
    assert rows["city"][3] == "六安市"
    assert rows["county"][3] == "裕安区"
    assert rows["grassroots unit"][3] == "未使用"
    assert rows["industry"][2:] == ("05", "交通卡口接入", "traffic: checkpoints and junctions")
    assert rows["type"][3] == "摄像机（视频通道）"
    # digit 1: 2016 video private network, 2022 police video transmission network
    assert rows["network"][3] == "2016版：监控报警专网；2022版：公安视频传输网"
    assert rows["serial"][2:] == ("000123", "123", "123")
    assert all(len(row) == 5 and all(row) for row in rows.values())


def test_explain_2022_additions_show_both_editions() -> None:
    rows = {row[1]: row for row in ids.explain("34150201121212000007")}
    assert rows["grassroots unit"][3] == "基层接入单位01"
    assert rows["industry"][3] == "2016版：政府机关预留；2022版：民航接入"
    assert "civil aviation" in rows["industry"][4]
    assert rows["type"][3] == "视频卡口（2022版新增）"
    assert "video channel" not in rows["type"][4]
    assert rows["network"][3] == "2016版：监控报警专网；2022版：行业专网"


def test_explain_province_level_platform() -> None:
    rows = {row[1]: row for row in ids.explain("34000000002000000001")}
    assert rows["centre code (division)"][3] == "安徽省"
    assert rows["city"][3] == rows["county"][3] == "未使用"
    assert rows["type"][3] == "中心信令控制服务器（平台）"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "id.empty"),
        ("   ", "id.empty"),
        ("3415030000132000000A", "id.not_digits"),
        ("３４１５０３００００１３２００００００１", "id.not_digits"),  # full-width digits
        ("3415030000132000-001", "id.not_digits"),
        ("3415030000132000001", "id.length"),
        ("341503000013200000011", "id.length"),
        ("00150300001320000001", "id.division"),
        ("99150300001320000001", "id.division"),
        ("34000300001320000001", "id.division"),  # a county under an empty city level
    ],
)
def test_invalid_ids_are_refused_with_a_rule(text: str, rule: str) -> None:
    with pytest.raises(IdError) as caught:
        GbId.parse(text)
    assert caught.value.rule == rule
    assert caught.value.message_zh and caught.value.message_en
    assert isinstance(caught.value, ValueError)
    assert ids.id_error(text.strip()) is not None


def test_18_digit_2011_ids_are_recognised() -> None:
    with pytest.raises(IdError) as caught:
        GbId.parse("341503000013200001")
    assert caught.value.rule == "id.legacy_18"
    assert "18-digit 2011-edition ID" in caught.value.message_en
    assert "18位" in caught.value.message_zh
    with pytest.raises(IdError, match="18-digit 2011-edition ID"):
        ids.explain("341503000013200001")


def test_constructor_validates_too() -> None:
    with pytest.raises(IdError):
        GbId("123")
    assert ids.id_error(LUAN_IPC) is None


def test_build_pads_the_division_and_serial() -> None:
    gb = GbId.build("341503", "00", "132", "0", 42)
    assert gb.text == "34150300001320000042"
    with pytest.raises(IdError):
        GbId.build("341503", "00", "132", "0", 1_000_000)


@pytest.mark.parametrize(
    ("type_code", "video"),
    [("131", True), ("132", True), (132, True), ("118", False), ("121", False), ("122", False), ("200", False)],
)
def test_is_video_channel_type(type_code: str | int, video: bool) -> None:
    assert ids.is_video_channel_type(type_code) is video


def test_network_digit_meaning_differs_between_editions() -> None:
    assert ids.network_digit_meaning("2", Edition.GB2016) == ("监控报警专网", "monitoring and alarm private network")
    assert ids.network_digit_meaning("2", "2022") == ("行业专网", "industry private network")
    assert ids.network_digit_meaning("8", "2016")[0] == "社会资源接入网"
    assert ids.network_digit_meaning("8", "2022")[0] == "专线"


@pytest.mark.parametrize(
    ("digit", "network", "expected"),
    [
        ("0", "video_private", True),
        ("1", "video_private", True),
        ("2", "video_private", True),  # 2016 meaning
        ("2", "industry_private", True),  # 2022 meaning
        ("5", "video_private", False),  # police information network in both editions
        ("6", "gov_extranet", True),
        ("7", "gov_extranet", False),
        ("7", "internet", True),
        ("3", "integration", None),  # 整合域 has no digit
        ("9", "internet", None),  # reserved
    ],
)
def test_network_digit_matches(digit: str, network: str, expected: bool | None) -> None:
    assert ids.network_digit_matches(digit, network) is expected


def test_default_network_digit_means_the_network_in_both_editions() -> None:
    for network in ("video_private", "gov_extranet", "internet"):
        digit = ids.default_network_digit(network)
        assert digit is not None
        assert ids.network_digit_matches(digit, network) is True
    assert ids.default_network_digit("integration") is None


PREFIX = "34150300001320"


def test_next_free_serial_starts_at_one() -> None:
    assert ids.next_free_serial(PREFIX, []) == PREFIX + "000001"


def test_next_free_serial_goes_above_the_highest_not_into_gaps() -> None:
    used = [PREFIX + "000001", PREFIX + "000002", PREFIX + "000005", "34150300001320", "34150200001320000900"]
    assert ids.next_free_serial(PREFIX, used) == PREFIX + "000006"


def test_next_free_serial_falls_back_to_the_lowest_gap_when_999999_is_used() -> None:
    used = [PREFIX + "000001", PREFIX + "000002", PREFIX + "000004", PREFIX + "999999"]
    assert ids.next_free_serial(PREFIX, used) == PREFIX + "000003"


def test_next_free_serial_raises_when_full() -> None:
    used = (f"{PREFIX}{n:06d}" for n in range(1, 1_000_000))
    with pytest.raises(IdError) as caught:
        ids.next_free_serial(PREFIX, used)
    assert caught.value.rule == "id.full"


@pytest.mark.parametrize("prefix", ["3415030000132", "341503000013201", "3415030000132x", "00150300001320"])
def test_next_free_serial_refuses_bad_prefixes(prefix: str) -> None:
    with pytest.raises(IdError):
        ids.next_free_serial(prefix, [])


def test_next_free_serial_result_parses() -> None:
    assert GbId.parse(ids.next_free_serial(PREFIX, [PREFIX + "000041"])).serial == "000042"


# ------------------------------------------------------------------------------------------ properties

provinces = st.sampled_from(sorted(ids.PROVINCES_EN))
two = st.integers(0, 99).map(lambda n: f"{n:02d}")
nonzero_two = st.integers(1, 99).map(lambda n: f"{n:02d}")


@st.composite
def id_parts(draw: st.DrawFn) -> tuple[str, str, str, str, str]:
    province = draw(provinces)
    below = draw(nonzero_two) + draw(two) + draw(two)
    division = province + (below if draw(st.booleans()) else "000000")
    industry = draw(two)
    type_code = f"{draw(st.integers(0, 999)):03d}"
    network = str(draw(st.integers(0, 9)))
    serial = f"{draw(st.integers(0, ids.MAX_SERIAL)):06d}"
    return division, industry, type_code, network, serial


@given(id_parts())
def test_build_then_parse_round_trips(parts: tuple[str, str, str, str, str]) -> None:
    division, industry, type_code, network, serial = parts
    gb = GbId.build(division, industry, type_code, network, int(serial))
    again = GbId.parse(str(gb))
    assert again == gb
    assert (again.division, again.industry, again.type_code, again.network, again.serial) == parts
    assert again.text == "".join(parts)
    assert again.is_video_channel is (type_code in {"131", "132"})


@given(id_parts())
def test_explain_covers_all_twenty_digits(parts: tuple[str, str, str, str, str]) -> None:
    rows = ids.explain("".join(parts))
    whole = rows[0][2] + "".join(row[2] for row in rows[5:])
    assert whole == "".join(parts)
    assert "".join(row[2] for row in rows[1:5]) == parts[0]


@given(st.text(alphabet="0123456789", min_size=0, max_size=30).filter(lambda t: len(t) != 20))
def test_any_other_length_is_refused(text: str) -> None:
    with pytest.raises(IdError) as caught:
        GbId.parse(text)
    expected = {0: "id.empty", 18: "id.legacy_18"}.get(len(text), "id.length")
    assert caught.value.rule == expected
