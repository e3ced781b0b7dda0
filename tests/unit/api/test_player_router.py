"""The player page routes: the page, its assets with the right content types, no path traversal, and a clear 503
when the vendored players have not been built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from xueliang.api.routers import player
from xueliang.api.routers.player import MISSING_VENDOR_MESSAGE, PlayerAssets, player_assets

MPEGTS_BODY = "/* mpegts.js stand-in */ window.mpegts = {};\n"
HLS_BODY = "/* hls.js stand-in */ window.Hls = {};\n"


@pytest.fixture
def vendor_dir(tmp_path: Path) -> Path:
    """A vendored directory as scripts/build-web leaves it (with small stand-ins for the players)."""
    vendor = tmp_path / "web_dist" / "player" / "vendor"
    vendor.mkdir(parents=True)
    (vendor / "mpegts.js").write_text(MPEGTS_BODY)
    (vendor / "mpegts.js.map").write_text('{"version": 3}')
    (vendor / "hls.min.js").write_text(HLS_BODY)
    (vendor / "mpegts.js.LICENSE").write_text("Apache License")
    (vendor / ".build-stamp").write_text("abc")
    (vendor / "notes.txt").write_text("not an asset type")
    (tmp_path / "secret.js").write_text("window.secret = 1;")  # beside the vendor dir: must stay unreachable
    return vendor


def _client(page_dir: Path, vendor_dir: Path) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(player.router)
    app.dependency_overrides[player_assets] = lambda: PlayerAssets(page_dir=page_dir, vendor_dir=vendor_dir)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(vendor_dir: Path) -> Iterator[TestClient]:
    yield from _client(player.PAGE_DIR, vendor_dir)


@pytest.fixture
def unbuilt_client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(player.PAGE_DIR, tmp_path / "nothing-built-here")


def test_page_is_chinese_by_default_and_names_the_camera(client: TestClient) -> None:
    response = client.get("/play/34020000001320000001")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "实时视频" in html and "抓图" in html
    assert 'data-camera-id="34020000001320000001"' in html
    assert '<code id="camera-id">34020000001320000001</code>' in html
    assert 'href="?lang=en"' in html  # the switch to English
    for script in ("/play/assets/vendor/mpegts.js", "/play/assets/vendor/hls.min.js", "/play/assets/player.js"):
        assert f'<script src="{script}" defer></script>' in html
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_page_in_english(client: TestClient) -> None:
    html = client.get("/play/CAM-1", params={"lang": "en"}).text
    assert '<html lang="en">' in html
    assert "Live video" in html and "Snapshot" in html
    assert "实时视频" not in html
    assert 'href="?lang=zh-CN"' in html


def test_unknown_language_falls_back_to_chinese(client: TestClient) -> None:
    assert '<html lang="zh-CN">' in client.get("/play/CAM-1", params={"lang": "fr"}).text


def test_camera_id_is_escaped(client: TestClient) -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    html = client.get("/play/" + quote(hostile, safe="")).text
    assert "<img src=x" not in html
    assert 'data-camera-id="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html
    assert "<title>实时视频 · &quot;&gt;&lt;img src=x onerror=alert(1)&gt; · " in html


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("player.js", "text/javascript; charset=utf-8"),
        ("player.css", "text/css; charset=utf-8"),
    ],
)
def test_page_sources_are_served(client: TestClient, path: str, content_type: str) -> None:
    response = client.get(f"/play/assets/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (player.PAGE_DIR / path).read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type", "body"),
    [
        ("mpegts.js", "text/javascript; charset=utf-8", MPEGTS_BODY),
        ("hls.min.js", "text/javascript; charset=utf-8", HLS_BODY),
        ("mpegts.js.map", "application/json; charset=utf-8", '{"version": 3}'),
        ("mpegts.js.LICENSE", "text/plain; charset=utf-8", "Apache License"),
    ],
)
def test_vendored_files_are_served(client: TestClient, name: str, content_type: str, body: str) -> None:
    response = client.get(f"/play/assets/vendor/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.text == body


@pytest.mark.parametrize(
    "path",
    [
        "../routers/player.py",
        "..%2Frouters%2Fplayer.py",
        "vendor/..%2F..%2Fsecret.js",
        "vendor/%2E%2E/%2E%2E/secret.js",
        "%2Fetc%2Fpasswd",
        "vendor/.build-stamp",
        "vendor/notes.txt",
        "vendor/missing.js",
        "player.html",  # the template is only served rendered, by /play/{camera_id}
        "other.js",
        "vendor/sub/mpegts.js",
        "",
    ],
)
def test_nothing_outside_the_assets_is_reachable(client: TestClient, path: str) -> None:
    response = client.get(f"/play/assets/{path}")
    assert response.status_code == 404, response.text
    assert "window.secret" not in response.text
    assert "APIRouter" not in response.text


@pytest.mark.parametrize(
    "path", ["vendor/../../secret.js", "../player/player.js", "vendor/../player.js", "/etc/passwd"]
)
def test_dot_segments_are_refused_before_any_file_is_touched(vendor_dir: Path, path: str) -> None:
    """HTTP clients normalise "..", so this calls the handler with the raw path a hostile client could send."""
    assets = PlayerAssets(page_dir=player.PAGE_DIR, vendor_dir=vendor_dir)
    assert player.player_asset(path, assets).status_code == 404


def test_a_symlink_out_of_the_vendor_dir_is_refused(client: TestClient, vendor_dir: Path) -> None:
    (vendor_dir / "escape.js").symlink_to(vendor_dir.parent.parent.parent / "secret.js")
    assert client.get("/play/assets/vendor/escape.js").status_code == 404


def test_unbuilt_players_answer_503_with_what_to_run(unbuilt_client: TestClient) -> None:
    for path in ("/play/CAM-1", "/play/assets/vendor/mpegts.js", "/play/assets/vendor/hls.min.js"):
        response = unbuilt_client.get(path)
        assert response.status_code == 503, path
        assert response.text == MISSING_VENDOR_MESSAGE
        assert "播放器资源未构建，请运行 scripts/bootstrap" in response.text
        assert "run scripts/bootstrap" in response.text
    # the page's own sources are committed and stay available
    assert unbuilt_client.get("/play/assets/player.js").status_code == 200


def test_half_built_players_answer_503(client: TestClient, vendor_dir: Path) -> None:
    (vendor_dir / "hls.min.js").unlink()
    assert client.get("/play/CAM-1").status_code == 503
    assert client.get("/play/assets/vendor/mpegts.js").status_code == 503


def test_default_asset_roots_point_at_the_package() -> None:
    assets = player_assets()
    assert (assets.page_dir / "player.html").is_file()
    assert assets.vendor_dir.parts[-3:] == ("web_dist", "player", "vendor")
