"""Factories shared by the archive's integration tests: valid raw camera records, units, source tables.

A raw camera is what a clerk or an API client sends: field name -> value, labels allowed. The defaults make a
valid class-3 point in the centre of its county with a name that follows the default naming rule.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from xueliang.app import Platform
from xueliang.catalog.sheets import column_letter
from xueliang.catalog.table import SourceColumn, SourceRow, SourceTable
from xueliang.domain import divisions
from xueliang.store.db import transaction
from xueliang.store.units import NewUnit, UnitRepository

COUNTY_NAMES = {"341502": "金安区", "341503": "裕安区", "341504": "叶集区", "341522": "霍邱县"}
DIRECTION_LABELS = {"1": "东", "2": "西", "3": "南", "4": "北"}


def centre(county: str) -> tuple[float, float]:
    box = divisions.bbox(county)
    assert box is not None
    return round((box[0] + box[2]) / 2, 6), round((box[1] + box[3]) / 2, 6)


def raw_camera(
    serial: int,
    county: str = "341502",
    *,
    address: str = "梅山路与解放路路口",
    direction: str = "1",
    network_digit: str = "0",
    network: str = "video_private",
    type_code: str = "132",
    **fields: Any,
) -> dict[str, Any]:
    lon, lat = centre(county)
    raw: dict[str, Any] = {
        "platform_id": f"{county}0000{type_code}{network_digit}{serial:06d}",
        "name": f"{COUNTY_NAMES[county]}{address}{DIRECTION_LABELS[direction]}",
        "division_code": county,
        "install_address": f"安徽省六安市{COUNTY_NAMES[county]}{address}",
        "longitude": lon,
        "latitude": lat,
        "camera_type": "1",
        "point_class": "3",
        "position_type": "10",
        "room_type": "1",
        "direction": direction,
        "network": network,
        "record_save_days": 30,
        "install_time": "2020-05-01",
        "manufacturer": "海康威视",
    }
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not None}


def as_cells(raw: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in raw.items() if v is not None and str(v) != ""}


def source_table(rows: Sequence[dict[str, Any]], filename: str = "清单.xlsx", first_row: int = 2) -> SourceTable:
    """A SourceTable as the sheet reader would make it: one column per field, data from ``first_row``."""
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    columns = [SourceColumn(i, column_letter(i), f"H{name}", name) for i, name in enumerate(fields)]
    source_rows = [SourceRow(first_row + i, as_cells(row)) for i, row in enumerate(rows)]
    return SourceTable(filename, "Sheet1", first_row - 1, columns, source_rows)


@pytest.fixture
def make_camera() -> Callable[..., dict[str, Any]]:
    return raw_camera


@pytest.fixture
def make_table() -> Callable[..., SourceTable]:
    return source_table


@pytest.fixture
def units(platform: Platform) -> dict[str, str]:
    """Three registered units: code -> name."""
    known = {"GA": "六安市公安局", "JT": "六安市交通运输局", "CG": "六安市城市管理局"}
    with transaction(platform.sessions) as session:
        UnitRepository(session).create_many(
            [NewUnit(code, name, "department", "341500") for code, name in known.items()]
        )
    return known


SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = Path(__file__).parent / "media" / "rtsp_server.py"
RTSP_PASSWORD = "s3cret-pw"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _gstreamer_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def rtsp_url() -> Iterator[str]:
    """A live H.264 test camera over RTSP (GStreamer's server, run by the system Python), with basic auth."""
    if not _gstreamer_available():
        if IN_CI:
            pytest.fail("GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) missing under CI")
        pytest.skip("GStreamer RTSP server packages are not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), str(port), "admin", RTSP_PASSWORD], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield f"rtsp://admin:{RTSP_PASSWORD}@127.0.0.1:{port}/cam"
    finally:
        process.terminate()
        process.wait(10)


REDIS_URL = os.environ.get("XUELIANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The real Redis (CI runs one at 127.0.0.1:6379): skipped locally without it, a failure under CI=true."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL
