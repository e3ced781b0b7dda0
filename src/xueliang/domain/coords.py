"""Coordinate reference systems of Chinese maps, and distances.

The archive stores WGS-84 (what GPS and GB/T 28181 devices report). Departments' sheets often carry
coordinates copied from web maps instead:

- GCJ-02 ("火星坐标", Amap/Gaode, Tencent, Google China): WGS-84 plus a non-linear offset of a few hundred
  metres, defined only inside China's rough bounding box (outside it GCJ-02 equals WGS-84);
- BD-09 (Baidu): GCJ-02 plus a further rotation/shift of about a hundred metres.

The forward transforms are the well-known public approximations (as in eviltransform); the inverses iterate
the forward transform until the residual is below 1e-9 degrees (about 0.1 mm), far inside the 0.5 m we promise.
All functions take and return ``(lon, lat)`` in degrees, in that order, like the archive.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable


class Crs(enum.StrEnum):
    """Coordinate systems a submitter may use; the archive stores WGS-84."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


__all__ = [
    "Crs",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "in_china_rough",
    "in_wgs84_range",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_EARTH_RADIUS_M = 6371008.8  # mean radius (IUGG)
_INVERSE_EPSILON_DEG = 1e-9
_INVERSE_MAX_STEPS = 30

LonLat = tuple[float, float]


def in_wgs84_range(lon: float, lat: float) -> bool:
    """True for finite numbers within -180..180 (longitude) and -90..90 (latitude)."""
    return math.isfinite(lon) and math.isfinite(lat) and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def in_china_rough(lon: float, lat: float) -> bool:
    """The rough box GCJ-02 applies inside (72.004..137.8347 E, 0.8293..55.8271 N); loose on purpose."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _offset(lon: float, lat: float) -> LonLat:
    """GCJ-02 minus WGS-84 at a WGS-84 point, in degrees (the public approximation)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = math.sqrt(abs(x))
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> LonLat:
    if not in_china_rough(lon, lat):
        return lon, lat
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_bd09(lon: float, lat: float) -> LonLat:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def wgs84_to_bd09(lon: float, lat: float) -> LonLat:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward: Callable[[float, float], LonLat], lon: float, lat: float) -> LonLat:
    """The point p with forward(p) == (lon, lat), by fixed-point iteration (the offsets vary slowly)."""
    f_lon, f_lat = forward(lon, lat)
    x, y = lon - (f_lon - lon), lat - (f_lat - lat)
    for _ in range(_INVERSE_MAX_STEPS):
        f_lon, f_lat = forward(x, y)
        e_lon, e_lat = f_lon - lon, f_lat - lat
        if abs(e_lon) < _INVERSE_EPSILON_DEG and abs(e_lat) < _INVERSE_EPSILON_DEG:
            break
        x -= e_lon
        y -= e_lat
    return x, y


def gcj02_to_wgs84(lon: float, lat: float) -> LonLat:
    if not in_china_rough(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> LonLat:
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> LonLat:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84: dict[Crs, Callable[[float, float], LonLat]] = {
    Crs.WGS84: lambda lon, lat: (lon, lat),
    Crs.GCJ02: gcj02_to_wgs84,
    Crs.BD09: bd09_to_wgs84,
}
_FROM_WGS84: dict[Crs, Callable[[float, float], LonLat]] = {
    Crs.WGS84: lambda lon, lat: (lon, lat),
    Crs.GCJ02: wgs84_to_gcj02,
    Crs.BD09: wgs84_to_bd09,
}


def to_wgs84(lon: float, lat: float, crs: Crs | str) -> LonLat:
    """Convert a point given in ``crs`` to WGS-84. Raises ValueError for an unknown CRS name."""
    return _TO_WGS84[Crs(crs)](lon, lat)


def from_wgs84(lon: float, lat: float, crs: Crs | str) -> LonLat:
    """Convert a WGS-84 point to ``crs`` (for exports to web maps)."""
    return _FROM_WGS84[Crs(crs)](lon, lat)


def convert(lon: float, lat: float, source: Crs | str, target: Crs | str) -> LonLat:
    if Crs(source) is Crs(target):
        return lon, lat
    return from_wgs84(*to_wgs84(lon, lat, source), target)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres on the mean-radius sphere (error < 0.5 % against the ellipsoid)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    d_p = p2 - p1
    d_l = math.radians(lon2 - lon1)
    h = math.sin(d_p / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_l / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
