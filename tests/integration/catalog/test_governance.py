"""Governance report on both databases: completeness, accuracy, findings, duplicate-construction candidates."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from xueliang.app import Platform
from xueliang.catalog.governance import CameraRef, find_duplicates
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.service import CameraQuery
from xueliang.catalog.table import SourceTable
from xueliang.domain.coords import haversine_m

MakeCamera = Callable[..., dict[str, Any]]
MakeTable = Callable[..., SourceTable]
M_PER_DEG_LAT = 6371008.8 * math.pi / 180


def north_of(camera: dict[str, Any], metres: float) -> dict[str, float]:
    return {"longitude": camera["longitude"], "latitude": round(camera["latitude"] + metres / M_PER_DEG_LAT, 7)}


def east_of(camera: dict[str, Any], metres: float) -> dict[str, float]:
    per_deg = M_PER_DEG_LAT * math.cos(math.radians(camera["latitude"]))
    return {"longitude": round(camera["longitude"] + metres / per_deg, 7), "latitude": camera["latitude"]}


def test_duplicates_are_flagged_by_distance_direction_and_unit(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    police = make_camera(1, owner_unit="GA", direction="1")
    rows = [
        police,
        make_camera(2, owner_unit="JT", direction="1", **north_of(police, 10)),  # 10 m, same direction: flagged
        make_camera(3, owner_unit="CG", direction="1", **east_of(police, 20)),  # 20 m: not
        make_camera(4, owner_unit="CG", direction="2", **east_of(police, 5)),  # 5 m, other direction: not
        make_camera(5, owner_unit="GA", direction="1", **north_of(police, -5)),  # 5 m, same unit: not
    ]
    assert platform.catalog.import_table(make_table(rows), ImportOptions()).status == "committed"
    report = platform.catalog.governance_report()
    pairs = {(d.first.platform_id, d.second.platform_id) for d in report.duplicates}
    assert pairs == {(rows[0]["platform_id"], rows[1]["platform_id"])}
    [pair] = report.duplicates
    assert 9.5 < pair.distance_m < 10.5
    assert {pair.first.owner_unit_name, pair.second.owner_unit_name} == {"六安市公安局", "六安市交通运输局"}
    wider = platform.catalog.governance_report(distance_m=25)
    # 1-2 10 m, 1-3 20 m, 2-3 22.4 m, 2-5 15 m, 3-5 20.6 m; never 1-5 (one unit) nor 4 (other direction)
    assert len(wider.duplicates) == 5


def test_completeness_and_accuracy_per_unit_and_division(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    rows = [
        make_camera(1, owner_unit="GA"),
        make_camera(2, owner_unit="GA", install_address=None),  # incomplete
        make_camera(3, "341503", owner_unit="JT", point_class="1"),  # class 1 without management unit/contact
        make_camera(4, "341503", owner_unit="JT", name="随便起的名字"),  # naming rule warning
    ]
    assert platform.catalog.import_table(make_table(rows), ImportOptions()).status == "committed"
    report = platform.catalog.governance_report().to_dict()
    assert report["total"]["cameras"] == 4
    assert report["total"]["complete"] == 2
    assert report["total"]["completeness_rate"] == 0.5
    by_unit = {g["code"]: g for g in report["by_unit"]}
    assert (by_unit["GA"]["cameras"], by_unit["GA"]["complete"]) == (2, 1)
    assert by_unit["GA"]["field_fill_rates"]["install_address"] == 0.5
    assert by_unit["JT"]["with_warnings"] == 2 and by_unit["JT"]["name"] == "六安市交通运输局"
    by_division = {g["code"]: g for g in report["by_division"]}
    assert set(by_division) == {"341502", "341503"}
    assert by_division["341503"]["name"] == "安徽省六安市裕安区"
    rules = {(f["platform_id"], f["rule"]) for f in report["findings"]}
    assert (rows[3]["platform_id"], "name.naming_rule") in rules
    assert (rows[2]["platform_id"], "management_contact.missing") in rules
    assert report["total"]["accuracy_rate"] == 1.0
    scoped = platform.catalog.governance_report(CameraQuery(division="341503")).to_dict()
    assert scoped["total"]["cameras"] == 2 and [g["code"] for g in scoped["by_unit"]] == ["JT"]


def test_grid_finds_the_same_pairs_as_comparing_all_of_them() -> None:
    import random

    rng = random.Random(7)
    cameras = [
        CameraRef(f"{i:020d}", "", rng.choice("AB"), "", 116.5 + rng.random() * 0.002, 31.7 + rng.random() * 0.002,
                  rng.choice("12"))
        for i in range(400)
    ]  # fmt: skip
    expected = {
        (a.platform_id, b.platform_id)
        for i, a in enumerate(cameras)
        for b in cameras[i + 1 :]
        if a.owner_unit != b.owner_unit
        and a.direction == b.direction
        and haversine_m(a.longitude, a.latitude, b.longitude, b.latitude) <= 15
    }
    found = {(d.first.platform_id, d.second.platform_id) for d in find_duplicates(cameras, 15)}
    assert expected and found == expected
