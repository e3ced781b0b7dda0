"""Administrative divisions (GB/T 2260) with names and loose boundaries, shipped in the package.

Codes: a province is ``xx0000``, a prefecture-level city ``xxyy00``, a county-level division ``xxyyzz``.
GB/T 28181 adds two grassroots digits (8-digit centre codes, ``xxyyzzgg``); grassroots units are local and have
no national table, so an 8-digit code is known when its county is, and uses its county's boundary. Functions
accept 2, 4, 6 or 8 significant digits or codes padded with zeros (``34``, ``3415``, ``341500``,
``34150000``, ``341500000000``).

Boundaries (``data/division_shapes.json.gz``, built by ``data/build_divisions.py``; sources in
docs/data-sources.md) are simplified rings in WGS-84 for county-level divisions; a city or province is the union
of its counties. :func:`contains` is deliberately loose: a point counts as inside when it lies in the ring set
(even-odd rule) or within the shape's border tolerance of its boundary (400 m for the detailed Anhui counties,
1.5 km elsewhere), because a wrong "outside" blocks an import while a miss only lets a slightly misplaced
camera through.

Data is loaded lazily, once per process; each shape builds a small grid index on first use, so a point test
is usually a bounding-box check and one table lookup.
"""

from __future__ import annotations

import csv
import enum
import gzip
import itertools
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

__all__ = [
    "Division",
    "Level",
    "ancestors",
    "bbox",
    "children",
    "contains",
    "full_name",
    "get",
    "is_known",
    "iter_divisions",
    "locate",
    "normalise_code",
    "prefix",
    "tolerance_m",
]


class Level(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    GRASSROOTS = "grassroots"


@dataclass(frozen=True, slots=True)
class Division:
    code: str  # 6 digits (GB/T 2260), or 8 digits for a grassroots unit
    name: str
    level: Level
    parent_code: str | None


#: Names GB/T 2260 gives to grouping levels; they are left out of full names.
_GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_M_PER_DEG_LAT = 110_574.0  # the smallest length of a degree of latitude: distances err on the generous side
_M_PER_DEG_LON_EQUATOR = 111_320.0


# ------------------------------------------------------------------------------------------------------ codes


def normalise_code(code: str) -> str | None:
    """The 6-digit code (or 8-digit grassroots code) a division code means, or None when it is not one.

    ``"34"`` -> ``"340000"``, ``"3415"`` -> ``"341500"``, ``"34150300"`` -> ``"341503"``,
    ``"34150301"`` -> ``"34150301"``, ``"341500000000"`` -> ``"341500"``.
    """
    text = code.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    n = len(text)
    if n in (2, 4):
        return text.ljust(6, "0")
    if n == 6:
        return text
    if n == 8:
        return text[:6] if text.endswith("00") else text
    if n == 12 and text.endswith("000000"):  # statistical code padded to 12 digits
        return text[:6]
    return None


def prefix(code: str) -> str:
    """The significant digits of a code, for "this division and everything under it" filters.

    ``"341500"`` -> ``"3415"``, ``"340000"`` -> ``"34"``, ``"34150201"`` -> ``"34150201"``,
    ``"34150200"`` -> ``"341502"``. A string that is not a division code is returned stripped, unchanged.
    """
    norm = normalise_code(code)
    if norm is None:
        return code.strip()
    if len(norm) == 8:
        return norm
    if norm.endswith("0000"):
        return norm[:2]
    if norm.endswith("00"):
        return norm[:4]
    return norm


# ------------------------------------------------------------------------------------------------------ table


@dataclass(frozen=True, slots=True)
class _Table:
    by_code: dict[str, Division]
    children: dict[str, tuple[str, ...]]


@cache
def _table() -> _Table:
    by_code: dict[str, Division] = {}
    kids: dict[str, list[str]] = {}
    source = resources.files("xueliang.domain").joinpath("data", "divisions.csv")
    with source.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parent = row["parent"] or None
            by_code[row["code"]] = Division(row["code"], row["name"], Level(row["level"]), parent)
            if parent is not None:
                kids.setdefault(parent, []).append(row["code"])
    return _Table(by_code, {k: tuple(sorted(v)) for k, v in kids.items()})


def get(code: str) -> Division | None:
    """The division a code names; None when unknown. 8-digit grassroots codes yield a grassroots Division
    (named ``基层接入单位NN``) whose parent is the county."""
    norm = normalise_code(code)
    if norm is None:
        return None
    table = _table()
    if len(norm) == 6:
        return table.by_code.get(norm)
    county = table.by_code.get(norm[:6])
    if county is None or county.level is not Level.COUNTY:
        return None
    return Division(norm, f"基层接入单位{norm[6:]}", Level.GRASSROOTS, county.code)


def is_known(code: str) -> bool:
    return get(code) is not None


def ancestors(code: str) -> list[Division]:
    """The divisions above ``code``, province first (the division itself not included)."""
    division = get(code)
    out: list[Division] = []
    table = _table().by_code
    while division is not None and division.parent_code is not None:
        division = table.get(division.parent_code)
        if division is not None:
            out.append(division)
    out.reverse()
    return out


def full_name(code: str) -> str:
    """``安徽省六安市裕安区`` for ``341503``; grouping levels (市辖区, 县 ...) left out; "" when unknown.
    A grassroots code reads ``安徽省六安市裕安区（基层接入单位01）``."""
    division = get(code)
    if division is None:
        return ""
    chain = [*ancestors(code), division]
    parts: list[str] = []
    for d in chain:
        if d.level is Level.GRASSROOTS:
            parts.append(f"（{d.name}）")
        elif d.name not in _GROUPING_NAMES and (not parts or parts[-1] != d.name):
            parts.append(d.name)
    return "".join(parts)


def children(code: str) -> list[Division]:
    """Direct sub-divisions, by code (grassroots units are not listed: they have no national table)."""
    division = get(code)
    if division is None or division.level is Level.GRASSROOTS:
        return []
    table = _table()
    return [table.by_code[c] for c in table.children.get(division.code, ())]


def iter_divisions(level: Level | None = None) -> Iterator[Division]:
    for division in _table().by_code.values():
        if level is None or division.level is level:
            yield division


# ------------------------------------------------------------------------------------------------- geometry


class _Shape:
    """One division's rings in local metres, with a uniform grid of edge lists for fast point tests."""

    __slots__ = (
        "_cell",
        "_cells",
        "_nx",
        "_ny",
        "_row_edges",
        "_status",
        "bbox",
        "ex1",
        "ex2",
        "ey1",
        "ey2",
        "kx",
        "lat0",
        "lon0",
        "tolerance",
    )

    def __init__(self, rings: list[list[tuple[float, float]]], tolerance: float) -> None:
        lons = [p[0] for r in rings for p in r]
        lats = [p[1] for r in rings for p in r]
        self.tolerance = tolerance
        self.bbox = (min(lons), min(lats), max(lons), max(lats))
        max_abs_lat = max(abs(self.bbox[1]), abs(self.bbox[3]))
        self.kx = _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(max_abs_lat))
        self.lon0 = self.bbox[0] - tolerance / self.kx
        self.lat0 = self.bbox[1] - tolerance / _M_PER_DEG_LAT
        ex1: list[float] = []
        ey1: list[float] = []
        ex2: list[float] = []
        ey2: list[float] = []
        for ring in rings:
            pts = [self._xy(lon, lat) for lon, lat in ring]
            for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
                ex1.append(x1)
                ey1.append(y1)
                ex2.append(x2)
                ey2.append(y2)
        self.ex1, self.ey1, self.ex2, self.ey2 = ex1, ey1, ex2, ey2
        width = (self.bbox[2] + tolerance / self.kx - self.lon0) * self.kx
        height = (self.bbox[3] + tolerance / _M_PER_DEG_LAT - self.lat0) * _M_PER_DEG_LAT
        target_cells = min(4096, max(64, 2 * len(ex1)))
        cell = max(math.sqrt(width * height / target_cells), tolerance / 2.0, 1.0)
        self._cell = cell
        self._nx = max(1, math.ceil(width / cell))
        self._ny = max(1, math.ceil(height / cell))
        cells: dict[int, list[int]] = {}
        rows: list[list[int]] = [[] for _ in range(self._ny)]
        nx, ny, tol = self._nx, self._ny, tolerance
        for k in range(len(ex1)):
            lo_x, hi_x = min(ex1[k], ex2[k]), max(ex1[k], ex2[k])
            lo_y, hi_y = min(ey1[k], ey2[k]), max(ey1[k], ey2[k])
            for iy in range(max(0, int(lo_y / cell)), min(ny - 1, int(hi_y / cell)) + 1):
                rows[iy].append(k)
            ix0, ix1 = max(0, int((lo_x - tol) / cell)), min(nx - 1, int((hi_x + tol) / cell))
            iy0, iy1 = max(0, int((lo_y - tol) / cell)), min(ny - 1, int((hi_y + tol) / cell))
            for iy in range(iy0, iy1 + 1):
                base = iy * nx
                for ix in range(ix0, ix1 + 1):
                    cells.setdefault(base + ix, []).append(k)
        self._cells = cells
        self._row_edges = rows
        self._status: dict[int, bool] = {}  # inside/outside of cells far from every edge, filled on demand

    def _xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * _M_PER_DEG_LAT

    def _inside(self, x: float, y: float, iy: int) -> bool:
        """Even-odd ray cast to +x over the edges that reach row ``iy``."""
        ex1, ey1, ex2, ey2 = self.ex1, self.ey1, self.ex2, self.ey2
        inside = False
        for k in self._row_edges[iy]:
            y1, y2 = ey1[k], ey2[k]
            if (y1 > y) != (y2 > y):
                x1 = ex1[k]
                if x < x1 + (y - y1) * (ex2[k] - x1) / (y2 - y1):
                    inside = not inside
        return inside

    def _near_edge(self, x: float, y: float, edges: list[int]) -> bool:
        ex1, ey1, ex2, ey2 = self.ex1, self.ey1, self.ex2, self.ey2
        tol2 = self.tolerance * self.tolerance
        for k in edges:
            ax, ay = ex1[k], ey1[k]
            dx, dy = ex2[k] - ax, ey2[k] - ay
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
            px, py = ax + t * dx - x, ay + t * dy - y
            if px * px + py * py <= tol2:
                return True
        return False

    def contains(self, lon: float, lat: float, *, strict: bool = False) -> bool:
        x, y = self._xy(lon, lat)
        cell = self._cell
        ix, iy = int(x // cell), int(y // cell)
        if not (0 <= ix < self._nx and 0 <= iy < self._ny):
            return False
        index = iy * self._nx + ix
        edges = self._cells.get(index)
        if edges is None:
            status = self._status.get(index)
            if status is None:
                status = self._inside((ix + 0.5) * cell, (iy + 0.5) * cell, iy)
                self._status[index] = status
            return status
        if self._inside(x, y, iy):
            return True
        return not strict and self._near_edge(x, y, edges)


@dataclass(slots=True)
class _Shapes:
    raw: dict[str, tuple[float, list[list[tuple[float, float]]]]]
    built: dict[str, _Shape]
    lock: threading.Lock


@cache
def _shapes() -> _Shapes:
    source = resources.files("xueliang.domain").joinpath("data", "division_shapes.json.gz")
    payload = json.loads(gzip.decompress(source.read_bytes()))
    scale = float(payload["scale"])
    raw: dict[str, tuple[float, list[list[tuple[float, float]]]]] = {}
    for code, shape in payload["shapes"].items():
        rings: list[list[tuple[float, float]]] = []
        for flat in shape["r"]:
            xs = list(itertools.accumulate(flat[0::2]))
            ys = list(itertools.accumulate(flat[1::2]))
            rings.append([(x / scale, y / scale) for x, y in zip(xs, ys, strict=True)])
        raw[code] = (float(shape["t"]), rings)
    return _Shapes(raw, {}, threading.Lock())


def _own_shape(code6: str) -> _Shape | None:
    shapes = _shapes()
    shape = shapes.built.get(code6)
    if shape is None:
        entry = shapes.raw.get(code6)
        if entry is None:
            return None
        with shapes.lock:
            shape = shapes.built.get(code6)
            if shape is None:
                shape = _Shape(entry[1], entry[0])
                shapes.built[code6] = shape
    return shape


@cache
def _shape_codes(code6: str) -> tuple[str, ...]:
    """The codes whose own shapes make up ``code6``: itself if it has one, else its descendants'."""
    if code6 in _shapes().raw:
        return (code6,)
    out: list[str] = []
    for child in _table().children.get(code6, ()):
        out.extend(_shape_codes(child))
    return tuple(out)


@cache
def _parts(code6: str) -> tuple[tuple[str, float, float, float, float], ...]:
    """(code, box padded by the tolerance) of every shape that makes up ``code6``."""
    out: list[tuple[str, float, float, float, float]] = []
    for c in _shape_codes(code6):
        shape = _own_shape(c)
        if shape is None:
            continue
        b, t = shape.bbox, shape.tolerance
        pad_lat, pad_lon = t / _M_PER_DEG_LAT, t / shape.kx
        out.append((c, b[0] - pad_lon, b[1] - pad_lat, b[2] + pad_lon, b[3] + pad_lat))
    return tuple(out)


#: per multi-part division, the part that answered last (rows of an import cluster in one county)
_last_hit: dict[str, int] = {}


@lru_cache(maxsize=4096)
def _geometry_code(code: str) -> str | None:
    division = get(code)
    if division is None:
        return None
    return division.parent_code if division.level is Level.GRASSROOTS else division.code


def contains(code: str, lon: float, lat: float) -> bool | None:
    """True when (lon, lat) in WGS-84 lies in the division or within its border tolerance; False when it
    does not; None when the code is unknown, has no boundary data, or the coordinates are not finite."""
    code6 = _geometry_code(code)
    if code6 is None or not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    parts = _parts(code6)
    if not parts:
        return None
    start = _last_hit.get(code6, 0)
    count = len(parts)
    for step in range(count):
        k = (start + step) % count
        c, min_lon, min_lat, max_lon, max_lat = parts[k]
        if min_lon <= lon <= max_lon and min_lat <= lat <= max_lat:
            shape = _own_shape(c)
            if shape is not None and shape.contains(lon, lat):
                _last_hit[code6] = k
                return True
    return False


def locate(lon: float, lat: float) -> Division | None:
    """The county-level division whose boundary strictly contains the point (no tolerance), if any.
    Scans every shape's box: meant for error messages, not for hot paths."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    table = _table().by_code
    for code, (min_lon, min_lat, max_lon, max_lat) in _raw_boxes().items():
        if min_lon <= lon <= max_lon and min_lat <= lat <= max_lat:
            shape = _own_shape(code)
            if shape is not None and shape.contains(lon, lat, strict=True):
                return table.get(code)
    return None


@cache
def _raw_boxes() -> dict[str, tuple[float, float, float, float]]:
    out: dict[str, tuple[float, float, float, float]] = {}
    for code, (_tolerance, rings) in _shapes().raw.items():
        lons = [p[0] for r in rings for p in r]
        lats = [p[1] for r in rings for p in r]
        out[code] = (min(lons), min(lats), max(lons), max(lats))
    return out


def bbox(code: str) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) of the division's boundary data in WGS-84, without tolerance."""
    code6 = _geometry_code(code)
    if code6 is None:
        return None
    boxes = [_raw_boxes()[c] for c in _shape_codes(code6)]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def tolerance_m(code: str) -> float | None:
    """The border tolerance :func:`contains` applies for a division (the largest of its parts)."""
    code6 = _geometry_code(code)
    if code6 is None:
        return None
    tolerances = [_shapes().raw[c][0] for c in _shape_codes(code6)]
    return max(tolerances) if tolerances else None
