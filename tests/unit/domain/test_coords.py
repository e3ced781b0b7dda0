"""GCJ-02 / BD-09 <-> WGS-84, ranges and distances."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xueliang.domain import coords
from xueliang.domain.coords import Crs

# Published test vectors of eviltransform (googollee/eviltransform), as (lon, lat): WGS-84 -> GCJ-02.
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_published_vectors(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = coords.wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-9)
    assert lat == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_gcj02_to_wgs84_inverts_within_half_a_metre(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    back = coords.gcj02_to_wgs84(*gcj)
    assert coords.haversine_m(*back, *wgs) < 0.5


def test_bd09_vector_from_eviltransform_ruby_is_close() -> None:
    # eviltransform's Ruby suite lists BD-09 (120.019809, 29.199786) -> WGS-84 (120.00877901, 29.19613161),
    # apparently taken from Baidu's own service; the public formula lands about 10 m away from it.
    wgs = coords.bd09_to_wgs84(120.019809, 29.199786)
    assert coords.haversine_m(*wgs, 120.00877901149691, 29.196131605295484) < 15.0


def test_gcj_offset_in_luan_is_hundreds_of_metres() -> None:
    wgs = (116.4746, 31.7401)  # 裕安区 seat
    gcj = coords.wgs84_to_gcj02(*wgs)
    assert 300 < coords.haversine_m(*wgs, *gcj) < 800
    bd = coords.wgs84_to_bd09(*wgs)
    assert coords.haversine_m(*gcj, *bd) > 500  # BD-09 is a further shift on top of GCJ-02


def test_outside_china_gcj_is_identity() -> None:
    paris = (2.3522, 48.8566)
    assert coords.wgs84_to_gcj02(*paris) == paris
    assert coords.gcj02_to_wgs84(*paris) == paris


china_points = st.tuples(st.floats(min_value=73.5, max_value=135.0), st.floats(min_value=18.0, max_value=53.5))


@given(china_points)
def test_gcj02_round_trip_within_half_a_metre(point: tuple[float, float]) -> None:
    there = coords.wgs84_to_gcj02(*point)
    back = coords.gcj02_to_wgs84(*there)
    assert coords.haversine_m(*back, *point) < 0.5


@given(china_points)
def test_bd09_round_trip_within_half_a_metre(point: tuple[float, float]) -> None:
    there = coords.wgs84_to_bd09(*point)
    back = coords.bd09_to_wgs84(*there)
    assert coords.haversine_m(*back, *point) < 0.5


@given(china_points, st.sampled_from(list(Crs)), st.sampled_from(list(Crs)))
def test_convert_between_any_two_systems_round_trips(point: tuple[float, float], a: Crs, b: Crs) -> None:
    there = coords.convert(*point, a, b)
    back = coords.convert(*there, b, a)
    assert coords.haversine_m(*back, *point) < 0.5


def test_to_wgs84_accepts_names_and_refuses_unknown_systems() -> None:
    gcj = EVILTRANSFORM[0][1]
    assert coords.to_wgs84(*gcj, "gcj02") == coords.gcj02_to_wgs84(*gcj)
    assert coords.to_wgs84(*gcj, Crs.WGS84) == gcj
    with pytest.raises(ValueError):
        coords.to_wgs84(*gcj, "mercator")


@pytest.mark.parametrize(
    ("lon", "lat", "ok"),
    [
        (116.4, 31.7, True),
        (-180.0, -90.0, True),
        (180.0, 90.0, True),
        (180.0001, 31.0, False),
        (116.0, -90.5, False),
        (math.nan, 31.0, False),
        (116.0, math.inf, False),
    ],
)
def test_in_wgs84_range(lon: float, lat: float, ok: bool) -> None:
    assert coords.in_wgs84_range(lon, lat) is ok


def test_in_china_rough() -> None:
    assert coords.in_china_rough(116.47, 31.74)
    assert not coords.in_china_rough(2.35, 48.86)
    assert not coords.in_china_rough(31.74, 116.47)  # swapped


def test_haversine() -> None:
    assert coords.haversine_m(116.0, 31.0, 116.0, 31.0) == 0.0
    # one degree of latitude on the mean-radius sphere: 2 * pi * 6371008.8 / 360
    assert coords.haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195.08, abs=0.1)
    a, b = (121.531541859215, 31.17530398364597), (116.38404722455657, 39.91334545536069)
    assert coords.haversine_m(*a, *b) == pytest.approx(coords.haversine_m(*b, *a))
    assert coords.haversine_m(*a, *b) == pytest.approx(1_077_000, rel=0.01)  # Shanghai - Beijing
