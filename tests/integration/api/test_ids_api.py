"""/api/v1/ids and ``xueliang id next``: explain an ID, and the next free serial under a prefix given the archive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from xueliang.cli import app

MakeCamera = Callable[..., dict[str, Any]]
PREFIX = "34150200" + "00" + "132" + "0"


def test_next_free_id_follows_the_archive(client: TestClient, units: dict[str, str], make_camera: MakeCamera) -> None:
    assert client.get("/api/v1/ids/next", params={"prefix": PREFIX}).json()["id"] == PREFIX + "000001"
    for serial in (1, 2, 7):
        raw = make_camera(serial, owner_unit="六安市公安局")
        assert client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw).status_code == 201
    answer = client.get("/api/v1/ids/next", params={"prefix": PREFIX})
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == PREFIX + "000008"
    assert any(part["digits"] == "132" for part in body["parts"])
    other = client.get("/api/v1/ids/next", params={"prefix": "34150300001320"})  # another county: untouched
    assert other.json()["id"] == "34150300001320000001"


def test_malformed_prefix_and_id_are_4xx_with_a_reason(client: TestClient) -> None:
    bad = client.get("/api/v1/ids/next", params={"prefix": "3415"}, headers={"accept-language": "en"})
    assert bad.status_code == 422
    assert "14 digits" in bad.json()["message"]
    explained = client.get("/api/v1/ids/341502000013200000")  # 18 digits: the 2011 edition
    assert explained.status_code == 422
    assert explained.json()["error"] == "id.legacy_18"
    good = client.get("/api/v1/ids/34150200001320000001").json()
    assert good["parts"][0]["digits"] == "34150200"


def test_cli_id_next(engine: Engine, tmp_path: Path) -> None:
    env = {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
    }
    runner = CliRunner()
    result = runner.invoke(app, ["id", "next", PREFIX], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == PREFIX + "000001"
    assert runner.invoke(app, ["id", "next", "12"], env=env).exit_code == 2
