"""Administrative divisions: names, the code tree, and the loose boundary check."""

from __future__ import annotations

import math

import pytest

from xueliang.domain import divisions
from xueliang.domain.divisions import Level

LUAN_COUNTIES = ("341502", "341503", "341504", "341522", "341523", "341524", "341525")

# County seats from cpca 0.5.5 (adcodes.csv, GCJ-02) converted to WGS-84, rounded to 5 decimals.
LUAN_SEATS = {
    "341502": (116.53413, 31.75223),  # 金安区
    "341503": (116.47459, 31.74012),  # 裕安区
    "341504": (115.92017, 31.86591),  # 叶集区
    "341522": (116.27268, 32.35514),  # 霍邱县
    "341523": (116.94362, 31.46439),  # 舒城县
    "341524": (115.92927, 31.72935),  # 金寨县
    "341525": (116.34662, 31.41246),  # 霍山县
}


@pytest.mark.parametrize("code", ["34", "340000", "34000000", "340000000000"])
def test_get_accepts_any_padding(code: str) -> None:
    division = divisions.get(code)
    assert division is not None
    assert (division.code, division.name, division.level, division.parent_code) == (
        "340000",
        "安徽省",
        Level.PROVINCE,
        None,
    )


def test_get_city_county_and_grassroots() -> None:
    city = divisions.get("3415")
    assert city is not None and (city.code, city.name, city.level) == ("341500", "六安市", Level.CITY)
    county = divisions.get("34150300")
    assert county is not None and (county.name, county.parent_code) == ("裕安区", "341500")
    grassroots = divisions.get("34150301")
    assert grassroots is not None
    assert (grassroots.level, grassroots.parent_code) == (Level.GRASSROOTS, "341503")


@pytest.mark.parametrize("code", ["", "abc", "3", "341", "341599", "34159901", "999999", "341521", "1234567"])
def test_unknown_codes(code: str) -> None:
    # 341521 was 寿县 until it moved to Huainan (340422) in 2015
    assert divisions.get(code) is None
    assert not divisions.is_known(code)


def test_is_known() -> None:
    assert divisions.is_known("341503")
    assert divisions.is_known("34150399")
    assert divisions.is_known("340422")  # 寿县 today


@pytest.mark.parametrize(
    ("code", "full"),
    [
        ("341503", "安徽省六安市裕安区"),
        ("34150300", "安徽省六安市裕安区"),
        ("34150301", "安徽省六安市裕安区（基层接入单位01）"),
        ("341500", "安徽省六安市"),
        ("110101", "北京市东城区"),
        ("500229", "重庆市城口县"),
        ("419001", "河南省济源市"),
        ("440300", "广东省深圳市"),
        ("999999", ""),
    ],
)
def test_full_name(code: str, full: str) -> None:
    assert divisions.full_name(code) == full


def test_ancestors_and_children() -> None:
    assert [d.code for d in divisions.ancestors("341503")] == ["340000", "341500"]
    assert [d.code for d in divisions.ancestors("34150301")] == ["340000", "341500", "341503"]
    assert divisions.ancestors("340000") == []
    assert tuple(d.code for d in divisions.children("341500")) == LUAN_COUNTIES
    names = ["金安区", "裕安区", "叶集区", "霍邱县", "舒城县", "金寨县", "霍山县"]
    assert [d.name for d in divisions.children("341500")] == names
    assert len(divisions.children("340000")) == 16
    assert divisions.children("341503") == []


@pytest.mark.parametrize(
    ("code", "significant"),
    [
        ("341500", "3415"),
        ("340000", "34"),
        ("34150201", "34150201"),
        ("34150200", "341502"),
        ("341502", "341502"),
        ("3415", "3415"),
        ("x1", "x1"),
    ],
)
def test_prefix(code: str, significant: str) -> None:
    assert divisions.prefix(code) == significant


def test_anhui_is_complete_to_county_level() -> None:
    counties = [d for d in divisions.iter_divisions(Level.COUNTY) if d.code.startswith("34")]
    cities = [d for d in divisions.iter_divisions(Level.CITY) if d.code.startswith("34")]
    assert len(cities) == 16
    assert len(counties) == 104
    for county in counties:
        assert divisions.bbox(county.code) is not None, county
        assert divisions.tolerance_m(county.code) is not None


def test_every_province_and_city_of_china_has_a_name_and_a_box() -> None:
    provinces = list(divisions.iter_divisions(Level.PROVINCE))
    cities = list(divisions.iter_divisions(Level.CITY))
    assert len(provinces) == 34
    assert len(cities) > 330
    for division in provinces + cities:
        assert division.name
        box = divisions.bbox(division.code)
        assert box is not None, division
        assert 73 < box[0] <= box[2] < 136 and 3 < box[1] <= box[3] < 54, division


@pytest.mark.parametrize("county", LUAN_COUNTIES)
def test_each_luan_county_seat_is_inside_its_own_county_only(county: str) -> None:
    lon, lat = LUAN_SEATS[county]
    assert divisions.contains(county, lon, lat) is True
    for other in LUAN_COUNTIES:
        if other != county:
            assert divisions.contains(other, lon, lat) is False, other
    assert divisions.contains("341500", lon, lat) is True
    assert divisions.contains("340000", lon, lat) is True
    assert divisions.contains(county + "01", lon, lat) is True  # grassroots codes use their county


def test_a_point_in_jinzhai_stated_as_yuan_is_caught() -> None:
    jinzhai_mountains = (115.65, 31.45)
    assert divisions.contains("341503", *jinzhai_mountains) is False
    assert divisions.contains("341524", *jinzhai_mountains) is True
    found = divisions.locate(*jinzhai_mountains)
    assert found is not None and found.code == "341524"


def test_the_border_tolerance_accepts_points_just_outside_and_refuses_far_ones() -> None:
    shape = divisions._own_shape("341503")
    assert shape is not None
    tolerance = divisions.tolerance_m("341503")
    assert tolerance == 400
    # walk from the county seat eastwards until we leave the shape (strictly), then test around there
    lon, lat = LUAN_SEATS["341503"]
    step = 20.0 / (111_320.0 * math.cos(math.radians(lat)))  # 20 m
    while shape.contains(lon, lat, strict=True):
        lon += step
    assert divisions.contains("341503", lon + 10 * step, lat) is True  # 200 m out: within tolerance
    assert divisions.contains("341503", lon + 150 * step, lat) is False  # 3 km out


@pytest.mark.parametrize(
    ("point", "inside", "outside"),
    [
        # Tiananmen (西城区 is within the 1.5 km tolerance, so it is not listed as outside)
        ((116.3975, 39.9087), ["110000", "110100", "110101"], ["120000", "110108"]),
        ((121.4737, 31.2304), ["310000", "310101"], ["320000"]),  # People's Square, Shanghai
        ((113.2644, 23.1291), ["440000", "440100"], ["440300"]),  # Guangzhou
        ((114.0579, 22.5431), ["440300"], ["440100", "810000"]),  # Shenzhen civic centre
        ((87.6168, 43.8256), ["650000", "650100"], ["540000"]),  # Urumqi
        ((91.1409, 29.6456), ["540000", "540100"], ["650000"]),  # Lhasa
        ((117.2272, 31.8206), ["340000", "340100"], ["341500"]),  # Hefei
        ((114.1694, 22.3193), ["810000"], ["440300"]),  # Hong Kong
        ((113.7518, 23.0207), ["441900"], ["440100"]),  # Dongguan (a city without counties)
    ],
)
def test_provinces_and_cities_elsewhere(point: tuple[float, float], inside: list[str], outside: list[str]) -> None:
    for code in inside:
        assert divisions.contains(code, *point) is True, code
    for code in outside:
        assert divisions.contains(code, *point) is False, code


def test_contains_returns_none_when_it_cannot_judge() -> None:
    assert divisions.contains("999999", 116.47, 31.74) is None
    assert divisions.contains("341503", math.nan, 31.74) is None
    assert divisions.bbox("999999") is None
    assert divisions.locate(math.nan, 0.0) is None
    assert divisions.locate(2.35, 48.86) is None  # Paris


def test_bbox_of_luan() -> None:
    box = divisions.bbox("341500")
    assert box is not None
    min_lon, min_lat, max_lon, max_lat = box
    assert 115.2 < min_lon < 115.5 and 117.1 < max_lon < 117.4
    assert 30.9 < min_lat < 31.1 and 32.5 < max_lat < 32.7
