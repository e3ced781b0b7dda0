"""Inventory import on both databases: one transaction, units, upsert, dry run, coordinates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from xueliang.app import Platform
from xueliang.catalog.errors import InvalidOptionsError
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.service import CameraQuery
from xueliang.catalog.table import SourceTable
from xueliang.catalog.units import auto_code
from xueliang.domain.archive import Crs
from xueliang.domain.coords import wgs84_to_gcj02
from xueliang.store.cameras import PageRequest
from xueliang.store.models import Camera, Unit

MakeCamera = Callable[..., dict[str, Any]]
MakeTable = Callable[..., SourceTable]


def snapshot(platform: Platform) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every camera and unit row: a failed import must leave both exactly as they were."""
    with platform.sessions() as session:
        cameras = [tuple(r) for r in session.execute(select(Camera.__table__).order_by(Camera.id))]
        units = [tuple(r) for r in session.execute(select(Unit.__table__).order_by(Unit.id))]
    return cameras, units


def stored(platform: Platform, platform_id: str):  # type: ignore[no-untyped-def]
    return platform.catalog.get_camera(platform_id)


def test_import_creates_cameras_and_unknown_units(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    rows = [
        make_camera(1, owner_unit="六安市公安局", management_unit="GA"),
        make_camera(2, owner_unit="JT"),
        make_camera(3, "341503", owner_unit="六安市教育局", management_unit="六安市教育局"),
    ]
    result = platform.catalog.import_table(make_table(rows), ImportOptions())
    assert result.status == "committed", result.problems
    assert (result.rows_created, result.rows_updated, result.error_count) == (3, 0, 0)
    assert [(u.code, u.name, u.kind, u.division_code) for u in result.created_units] == [
        (auto_code("六安市教育局"), "六安市教育局", "department", "341503")
    ]
    assert stored(platform, rows[0]["platform_id"]).record.owner_unit == "GA"
    assert stored(platform, rows[1]["platform_id"]).owner_unit_name == "六安市交通运输局"
    third = stored(platform, rows[2]["platform_id"])
    assert third.record.owner_unit == third.record.management_unit == auto_code("六安市教育局")
    created = {u.code: u for u in platform.catalog.list_units()}[auto_code("六安市教育局")]
    assert created.auto_created and created.name == "六安市教育局"


def test_strict_units_rejects_unknown_units(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    before = snapshot(platform)
    table = make_table([make_camera(1, owner_unit="GA"), make_camera(2, owner_unit="六安市教育局")])
    result = platform.catalog.import_table(table, ImportOptions(strict_units=True))
    assert result.status == "rejected"
    [problem] = [p for p in result.problems if p.severity == "error"]
    assert (problem.row_number, problem.rule, problem.value) == (3, "unit.unknown", "六安市教育局")
    assert problem.column.endswith("Howner_unit")
    assert "--strict-units" in problem.message_en and "六安市教育局" in problem.message_zh
    assert snapshot(platform) == before


def test_a_rejected_import_leaves_the_database_unchanged(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    seed = platform.catalog.import_table(make_table([make_camera(1), make_camera(2)]), ImportOptions())
    assert seed.status == "committed"
    before = snapshot(platform)
    rows = [
        make_camera(10, owner_unit="新单位甲"),  # would create a unit
        make_camera(11),
        make_camera(12, longitude=0, latitude=0),  # (0, 0)
        make_camera(10),  # duplicate of the first row
        make_camera(1),  # already in the archive
    ]
    result = platform.catalog.import_table(make_table(rows), ImportOptions())
    assert result.status == "rejected"
    assert result.rows_rejected == 3
    errors = {(p.row_number, p.rule) for p in result.problems if p.severity == "error"}
    assert {(5, "id.duplicate"), (6, "id.duplicate")} <= errors
    assert any(row == 4 and rule.startswith("coords.") for row, rule in errors)
    assert result.rows_created == 0 and snapshot(platform) == before
    with platform.sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM camera")) == 2


def test_warnings_never_block_and_are_stored(
    platform: Platform, make_camera: MakeCamera, make_table: MakeTable
) -> None:
    row = make_camera(1, name="梅山路路口", record_save_days=7)
    result = platform.catalog.import_table(make_table([row]), ImportOptions())
    assert result.status == "committed"
    rules = {p.rule for p in result.problems}
    assert {"name.naming_rule", "record_save_days.short"} <= rules
    assert {f["rule"] for f in stored(platform, row["platform_id"]).findings} >= {"name.naming_rule"}


def test_dry_run_validates_and_writes_nothing(
    platform: Platform, make_camera: MakeCamera, make_table: MakeTable
) -> None:
    before = snapshot(platform)
    table = make_table([make_camera(1, owner_unit="六安市教育局"), make_camera(2)])
    result = platform.catalog.import_table(table, ImportOptions(dry_run=True))
    assert result.status == "validated" and result.accepted
    assert [u.name for u in result.created_units] == ["六安市教育局"]
    assert result.rows_created == 0
    assert snapshot(platform) == before
    bad = platform.catalog.import_table(make_table([make_camera(1, camera_type="飞碟")]), ImportOptions(dry_run=True))
    assert bad.status == "rejected" and bad.problems[0].rule == "code.unknown"


def test_upsert_overwrites_only_the_fields_the_sheet_supplies(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    first = make_camera(
        1,
        point_class="1",
        owner_unit="GA",
        management_unit="GA",
        management_contact="0564-1234567",
        remark="杆件编号 A-17",
        stream_url="rtsp://admin:pw@10.0.0.9/live",
    )
    assert platform.catalog.import_table(make_table([first]), ImportOptions()).status == "committed"
    before = stored(platform, first["platform_id"])
    update = {
        "platform_id": first["platform_id"],
        "name": "金安区皖西路与梅山路交口东",
        "record_save_days": "90",
    }  # a catalog-style sheet: no coordinates, units, contact, remark, stream
    new = make_camera(2, owner_unit="JT")
    result = platform.catalog.import_table(make_table([update, new]), ImportOptions(mode="upsert", unit="CG"))
    assert result.status == "committed", result.problems
    assert (result.rows_created, result.rows_updated) == (1, 1)
    after = stored(platform, first["platform_id"])
    assert after.record.name == "金安区皖西路与梅山路交口东"
    assert after.record.record_save_days == 90
    for kept in ("remark", "management_contact", "owner_unit", "management_unit", "point_class", "longitude"):
        assert getattr(after.record, kept) == getattr(before.record, kept), kept
    assert after.has_credentials and after.record.stream_url == "rtsp://10.0.0.9/live"
    assert stored(platform, new["platform_id"]).record.owner_unit == "JT"
    found = platform.catalog.list_cameras(CameraQuery(q="皖西路与梅山"), PageRequest())
    assert [c.record.platform_id for c in found.items] == [first["platform_id"]]  # search follows the rename


def test_upsert_creates_with_the_default_unit_and_validates_the_merged_record(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    row = make_camera(1, point_class="2")  # class 2: coordinates required
    assert platform.catalog.import_table(make_table([row]), ImportOptions(unit="CG")).status == "committed"
    assert stored(platform, row["platform_id"]).record.owner_unit == "CG"
    partial = {"platform_id": row["platform_id"], "remark": "复核"}
    result = platform.catalog.import_table(make_table([partial]), ImportOptions(mode="upsert"))
    assert result.status == "committed", result.problems  # the stored coordinates satisfy class 2
    assert stored(platform, row["platform_id"]).record.remark == "复核"
    missing = {"platform_id": "34150200001320999999", "remark": "只有编码"}
    rejected = platform.catalog.import_table(make_table([missing]), ImportOptions(mode="upsert"))
    assert rejected.status == "rejected"


def test_unknown_default_unit_is_an_options_error(
    platform: Platform, make_camera: MakeCamera, make_table: MakeTable
) -> None:
    with pytest.raises(InvalidOptionsError) as caught:
        platform.catalog.import_table(make_table([make_camera(1)]), ImportOptions(unit="NOPE"))
    assert "NOPE" in caught.value.zh and "NOPE" in caught.value.en


def test_coordinates_are_converted_and_the_submitted_ones_kept(
    platform: Platform, make_camera: MakeCamera, make_table: MakeTable
) -> None:
    wgs = make_camera(1)
    lon, lat = wgs["longitude"], wgs["latitude"]
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    rows = [
        make_camera(1, longitude=round(g_lon, 7), latitude=round(g_lat, 7)),
        make_camera(2, crs="wgs84"),  # the row's own 坐标系 column wins over --crs
    ]
    result = platform.catalog.import_table(make_table(rows), ImportOptions(crs=Crs.GCJ02))
    assert result.status == "committed", result.problems
    first = stored(platform, rows[0]["platform_id"]).record
    assert first.submitted_crs == "gcj02"
    assert first.submitted_longitude == pytest.approx(g_lon, abs=1e-7)
    assert first.longitude == pytest.approx(lon, abs=1e-5) and first.latitude == pytest.approx(lat, abs=1e-5)
    second = stored(platform, rows[1]["platform_id"]).record
    assert second.submitted_crs == "wgs84" and second.longitude == pytest.approx(lon)


def test_an_empty_table_is_rejected(platform: Platform, make_table: MakeTable) -> None:
    result = platform.catalog.import_table(make_table([]), ImportOptions())
    assert result.status == "rejected" and result.problems[0].rule == "table.empty"
