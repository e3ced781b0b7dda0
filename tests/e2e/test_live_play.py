"""Live video end to end: a real ``xueliang serve``, simulated cameras streaming real H.264/H.265 in PS over RTP, and
the player page in headless Chromium.

One platform process and one simulator process per module. Each simulated device is an IPC with one channel; the
test sets the device's media transport through the API (UDP, TCP passive, TCP active) before it plays, so the three
ways RTP reaches the media node are each exercised by a browser that must see the picture move:

- for H.264 and H.265, each transport, HTTP-FLV (mpegts.js) and HLS (hls.js), and once WebSocket-FLV, the page
  plays: ``currentTime`` must advance and a frame drawn to a canvas must not be blank;
- H.265 plays in Chromium (which has no HEVC decoder) through the transcoded H.264 variant, chosen by the page;
- the snapshot URL gives a real JPEG of the stream's size;
- ending the session (the page's DELETE) leaves ``GET /api/v1/streams`` without that session.

Every browser signs in through the sign-in page first, as the unit administrator of the platform's own unit
(made with ``xueliang user create`` before the platform starts), which owns the simulated cameras; the test's own
API calls carry that user's Bearer token.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page

from .conftest import XUELIANG_CLI, child_env, free_port, free_udp_tcp_port, healthy, open_signed_in

PLATFORM_ID = "34150000002000000001"
PASSWORD = "e2e-password-1"
PREFIXES = {"h264": "3415020000", "h265": "3415030000"}  # the simulator's ID prefix tells the codec apart
PLAYING_TIMEOUT_MS = 30_000
ADMIN = "admin"
ADMIN_PASSWORD = "E2e-Live-Passw0rd!"


@dataclass(frozen=True)
class Live:
    http: httpx.Client
    base: str
    log: Path
    devices: dict[str, str]  # codec -> device ID


def _wait(check: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; log tail:\n" + "\n".join(log.read_text().splitlines()[-40:]))


def _sim(workdir: Path, sip_port: int, video: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "xueliang.sim.cli", "devices",
        "--server", f"127.0.0.1:{sip_port}",
        "--server-id", PLATFORM_ID,
        "--password", PASSWORD,
        "--count", "1",
        "--channels", "1",
        "--prefix", PREFIXES[video],
        "--video", video,
        "--video-size", "320x240",
        "--quiet",
    ]  # fmt: skip
    log = (workdir / f"sim-{video}.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("live")
    http_port, sip_port = free_port(), free_udp_tcp_port()
    env = child_env(
        40000 + (os.getpid() % 200) * 100,
        XUELIANG_ACCESS_TOKEN_TTL="3600",  # the module's Bearer token outlives the module
        XUELIANG_MEDIA_LINGER="2",
    )
    command = [
        *XUELIANG_CLI, "serve",
        "--data-dir", str(workdir / "data"),
        "--http-host", "127.0.0.1", "--http-port", str(http_port),
        "--sip-host", "127.0.0.1", "--sip-port", str(sip_port),
        "--sip-id", PLATFORM_ID, "--sip-password", PASSWORD,
        "--accept-unknown-devices",
    ]  # fmt: skip
    log_path = workdir / "serve.log"
    base = f"http://127.0.0.1:{http_port}"
    sims: list[subprocess.Popen[bytes]] = []
    create_admin = [
        *XUELIANG_CLI, "user", "create", ADMIN,
        "--password", ADMIN_PASSWORD, "--role", "unit_admin", "--data-dir", str(workdir / "data"),
    ]  # fmt: skip
    created = subprocess.run(create_admin, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr
    with log_path.open("wb") as log, httpx.Client(base_url=base, timeout=30.0) as http:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(lambda: healthy(base), 30, "the platform to start", log_path)
            token = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD})
            assert token.status_code == 200, token.text
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            sims.append(_sim(workdir, sip_port, "h264"))
            sims.append(_sim(workdir, sip_port, "h265"))
            devices: dict[str, str] = {}
            _wait(lambda: _devices_ready(http, devices), 60, "both devices online with a channel", log_path)
            yield Live(http, base, log_path, devices)
        finally:
            for sim in sims:
                sim.terminate()
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            for sim in sims:
                sim.wait(timeout=10)


def _devices_ready(http: httpx.Client, found: dict[str, str]) -> bool:
    for item in http.get("/api/v1/devices").json()["items"]:
        if not item["online"]:
            continue
        channels = http.get(f"/api/v1/devices/{item['id']}").json().get("channels") or []
        if channels and channels[0].get("camera_id"):  # the catalog is merged: the channel is an archive camera
            for codec, prefix in PREFIXES.items():
                if item["id"].startswith(prefix):
                    found[codec] = item["id"]
    return len(found) == len(PREFIXES)


def _camera_of(live: Live, device_id: str) -> str:
    channels = live.http.get(f"/api/v1/devices/{device_id}").json()["channels"]
    return str(channels[0]["camera_id"])


def _set_transport(live: Live, device_id: str, transport: str) -> None:
    response = live.http.patch(f"/api/v1/devices/{device_id}", json={"media_transport": transport})
    assert response.status_code == 200, response.text


def _stop_all_streams(live: Live) -> None:
    for stream in live.http.get("/api/v1/streams").json()["items"]:
        live.http.delete(f"/api/v1/streams/{stream['stream_id']}")


def _assert_playing(page: Page, url: str) -> dict[str, float]:
    open_signed_in(page, url, ADMIN, ADMIN_PASSWORD)
    page.wait_for_selector("body[data-state=playing]", timeout=PLAYING_TIMEOUT_MS)
    first = page.evaluate("window.xueliangPlayer.video.currentTime")
    page.wait_for_timeout(2500)
    measured: dict[str, float] = page.evaluate(
        """() => {
            const video = window.xueliangPlayer.video;
            const canvas = document.createElement('canvas');
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            const context = canvas.getContext('2d');
            context.drawImage(video, 0, 0);
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let sum = 0, squares = 0, count = 0;
            for (let i = 0; i < pixels.length; i += 16) { sum += pixels[i]; squares += pixels[i] * pixels[i]; count++; }
            const mean = sum / count;
            return {time: video.currentTime, width: video.videoWidth, height: video.videoHeight,
                    variance: squares / count - mean * mean, ready: video.readyState};
        }"""
    )
    assert measured["time"] - first > 1.0, f"currentTime did not advance: {first} -> {measured['time']}"
    assert measured["ready"] >= 2
    assert (measured["width"], measured["height"]) == (320, 240)
    assert measured["variance"] > 100, "the picture is blank"
    return measured


TRANSPORTS = ("udp", "tcp_passive", "tcp_active")


@pytest.mark.parametrize("player_format", ["flv", "hls"])
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_camera_plays_in_chromium(live: Live, page: Page, codec: str, transport: str, player_format: str) -> None:
    """Every codec, media transport and player: the picture must move. H.265 plays through the transcoded H.264
    variant, which the page picks itself (Chromium has no HEVC decoder)."""
    _stop_all_streams(live)
    _set_transport(live, live.devices[codec], transport)
    camera = _camera_of(live, live.devices[codec])
    _assert_playing(page, f"{live.base}/play/{camera}?format={player_format}")
    assert page.evaluate("document.body.dataset.variant") == ("h264" if codec == "h265" else "native")
    assert page.evaluate("document.body.dataset.treatment") == "full"  # the unit's own camera: no grant, no mask
    (stream,) = [s for s in live.http.get("/api/v1/streams").json()["items"] if s["camera_id"] == camera]
    assert (stream["transport"], stream["codec"]) == (transport, codec)
    assert stream["sessions"], "the page's viewing session is listed"
    if codec == "h265":
        assert "h264" in stream["variants"]


def test_websocket_flv_plays(live: Live, page: Page) -> None:
    _stop_all_streams(live)
    _set_transport(live, live.devices["h264"], "udp")
    _assert_playing(page, f"{live.base}/play/{_camera_of(live, live.devices['h264'])}?format=ws-flv")


def test_play_api_snapshot_and_session_end(live: Live) -> None:
    camera = _camera_of(live, live.devices["h264"])
    _set_transport(live, live.devices["h264"], "udp")
    response = live.http.post(f"/api/v1/cameras/{camera}/play", json={})
    assert response.status_code == 200, response.text
    play = response.json()
    assert (play["treatment"], play["grant"]) == ("full", None)
    for key in ("flv", "ws_flv", "hls", "snapshot"):
        assert play[key].split("://")[1].startswith("127.0.0.1:"), play[key]
        assert "token=" in play[key]
    snapshot = httpx.get(play["snapshot"], timeout=30)
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(snapshot.content))
    assert picture.size == (320, 240)
    assert httpx.get(play["snapshot"].split("?")[0], timeout=10).status_code == 422  # no token, no picture
    forged = play["snapshot"].replace("token=", "token=x")
    assert httpx.get(forged, timeout=10).status_code == 403
    assert live.http.delete(f"/api/v1/play-sessions/{play['session']}").status_code == 204
    sessions = [s["session"] for item in live.http.get("/api/v1/streams").json()["items"] for s in item["sessions"]]
    assert play["session"] not in sessions
    assert httpx.get(play["snapshot"], timeout=10).status_code == 410


def test_play_errors_say_what_went_wrong(live: Live) -> None:
    unknown = live.http.post("/api/v1/cameras/34150000001310099999/play", json={})
    assert unknown.status_code == 404
    assert unknown.json()["message_en"]
    invalid = live.http.post("/api/v1/cameras/not-an-id/play", json={})
    assert invalid.status_code == 404
