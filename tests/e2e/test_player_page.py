"""The player page (/play/{camera_id}) in headless Chromium, against real media made by ffmpeg.

Two real HTTP servers: the "platform" (the player router plus a stand-in for POST /api/v1/cameras/{id}/play) and,
on another origin as in production, a stand-in "media node" serving an H.264 FLV file as live HTTP-FLV and WS-FLV
(tags paced by their timestamps), an fMP4 HLS stream (ffmpeg -f hls -hls_segment_type fmp4) and a JPEG snapshot,
all behind a token. The page must play each format for real: currentTime advances, readyState >= 2 and the
picture drawn to a canvas is not blank. The end-to-end test against `xueliang serve` and a simulated camera builds
on this harness.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from xueliang.api.routers import player
from xueliang.api.routers.player import player_assets

from .conftest import IN_CI, LiveServer, require_tool, start_server

CAMERA = "34020000001320000001"
CAMERA_NAME = "测试路口东向西"
TOKEN = "t0k3n-for-tests"
WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 25, 12
FLV_HEADER_BYTES = 9 + 4  # FLV header, then PreviousTagSize0
FLV_TAG_HEADER_BYTES = 11
WATCH_SECONDS = 2.0
MIN_ADVANCE_S = 1.2  # of the 2 s watched: the page must really play, not creep
MIN_PIXEL_VARIANCE = 400.0  # testsrc2 is far above this; a black or flat frame is ~0
SILENT_FOREVER_S = 3600
STOP_AFTER_MS = 1500

pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Media:
    flv: Path
    hls_dir: Path
    snapshot: Path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """A moving test pattern (testsrc2) as H.264: an FLV file, an fMP4 HLS stream and a JPEG."""
    ffmpeg = require_tool("ffmpeg", "it makes the test video")
    out = tmp_path_factory.mktemp("media")
    source = out / "clip.mp4"
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [
            *quiet,
            *("-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={SECONDS}"),
            *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p"),
            *("-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0", str(source)),
        ],
        check=True,
    )
    flv = out / "clip.flv"
    subprocess.run([*quiet, "-i", str(source), "-c", "copy", "-f", "flv", str(flv)], check=True)
    hls_dir = out / "hls"
    hls_dir.mkdir()
    subprocess.run(
        [
            *quiet,
            *("-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"),
            *("-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"),
            *("-hls_segment_filename", str(hls_dir / "seg%03d.m4s"), str(hls_dir / "index.m3u8")),
        ],
        check=True,
    )
    snapshot = out / "snapshot.jpg"
    subprocess.run([*quiet, "-i", str(source), "-frames:v", "1", str(snapshot)], check=True)
    return Media(flv=flv, hls_dir=hls_dir, snapshot=snapshot)


def flv_tags(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The FLV header and each tag (with its PreviousTagSize) with its timestamp in ms, to pace them live."""
    tags: list[tuple[int, bytes]] = []
    offset = FLV_HEADER_BYTES
    while offset + FLV_TAG_HEADER_BYTES <= len(data):
        size = int.from_bytes(data[offset + 1 : offset + 4], "big")
        timestamp = int.from_bytes(data[offset + 4 : offset + 7], "big") | (data[offset + 7] << 24)
        end = offset + FLV_TAG_HEADER_BYTES + size + 4
        tags.append((timestamp, data[offset:end]))
        offset = end
    return data[:FLV_HEADER_BYTES], tags


async def paced_flv(path: Path, stop_after_ms: int | None = None, hold_open: bool = False) -> AsyncIterator[bytes]:
    """The file as a live source sends it: each tag when its timestamp is due. A source that stops sending after
    ``stop_after_ms`` either closes the stream or (``hold_open``) keeps the connection open and silent."""
    header, tags = flv_tags(path.read_bytes())
    yield header
    loop = asyncio.get_running_loop()
    started = loop.time()
    for timestamp, tag in tags:
        if stop_after_ms is not None and timestamp > stop_after_ms:
            if hold_open:
                await asyncio.sleep(SILENT_FOREVER_S)
            return
        delay = started + timestamp / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield tag


@dataclass
class FakePlatform:
    """What the stand-in servers were asked, and how the play API answers next."""

    media_url: str = ""
    play_status: int = 200
    play_error: str = ""
    codec: str = "h264"
    flv_stop_after_ms: int | None = None
    flv_hold_open: bool = False
    sign_playlists: bool = False
    play_requests: list[dict[str, Any]] = field(default_factory=list)
    ended_sessions: list[str] = field(default_factory=list)
    media_requests: list[str] = field(default_factory=list)

    def answer(self, camera_id: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.play_requests.append(request)
        if self.play_status != 200:
            return self.play_status, {"detail": self.play_error}
        variants = ["native", "h264"] if self.codec == "h265" else ["native"]
        variant = request.get("variant") or "native"
        base = f"{self.media_url}/live/{camera_id}/{variant}"
        return 200, {
            "session": uuid.uuid4().hex,
            "camera_id": camera_id,
            "stream_id": f"{camera_id}-{variant}",
            "codec": self.codec,
            "variant": variant,
            "variants": variants,
            "flv": f"{base}.flv?token={TOKEN}",
            "ws_flv": f"{base.replace('http://', 'ws://')}.flv?token={TOKEN}",
            "hls": f"{base}/hls/index.m3u8?token={TOKEN}",
            "snapshot": f"{base}/snapshot.jpg?token={TOKEN}",
            "expires_at": "2099-01-01T00:00:00Z",
            "width": WIDTH,
            "height": HEIGHT,
        }


CORS = {"Access-Control-Allow-Origin": "*"}


def media_app(fake: FakePlatform, media: Media) -> Starlette:
    """The media node stand-in: every output demands the token, and answers with CORS as the real one must."""

    def refused(request: Request) -> Response | None:
        fake.media_requests.append(str(request.url))
        if request.query_params.get("token") != TOKEN:
            return Response("bad token", status_code=403, headers=CORS)
        return None

    async def flv(request: Request) -> Response:
        stream = paced_flv(media.flv, fake.flv_stop_after_ms, fake.flv_hold_open)
        return refused(request) or StreamingResponse(stream, media_type="video/x-flv", headers=CORS)

    async def ws_flv(websocket: WebSocket) -> None:
        fake.media_requests.append(str(websocket.url))
        if websocket.query_params.get("token") != TOKEN:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        try:
            async for chunk in paced_flv(media.flv):
                await websocket.send_bytes(chunk)
        except WebSocketDisconnect:
            return

    async def hls(request: Request) -> Response:
        name = request.path_params["name"]
        found = media.hls_dir / name
        if "/" in name or not found.is_file():
            return Response(status_code=404, headers=CORS)
        if not name.endswith(".m3u8"):
            return refused(request) or FileResponse(found, media_type="video/mp4", headers=CORS)
        playlist = found.read_text()
        if fake.sign_playlists:  # as the media node must, for players that cannot add the token themselves
            playlist = re.sub(r"^([^#\n].*)$", rf"\1?token={TOKEN}", playlist, flags=re.MULTILINE)
            playlist = playlist.replace('URI="init.mp4"', f'URI="init.mp4?token={TOKEN}"')
        return refused(request) or Response(playlist, media_type="application/vnd.apple.mpegurl", headers=CORS)

    async def snapshot(request: Request) -> Response:
        return refused(request) or FileResponse(media.snapshot, media_type="image/jpeg", headers=CORS)

    return Starlette(
        routes=[
            Route("/live/{camera}/{variant}.flv", flv),
            WebSocketRoute("/live/{camera}/{variant}.flv", ws_flv),
            Route("/live/{camera}/{variant}/hls/{name}", hls),
            Route("/live/{camera}/{variant}/snapshot.jpg", snapshot),
        ]
    )


def platform_app(fake: FakePlatform) -> Starlette:
    """The player router as the platform mounts it, plus the API calls the page makes."""
    pages = FastAPI()
    pages.include_router(player.router)

    async def play(request: Request) -> Response:
        raw = await request.body()
        status, answer = fake.answer(request.path_params["camera"], json.loads(raw) if raw else {})
        return JSONResponse(answer, status_code=status)

    async def end_session(request: Request) -> Response:
        fake.ended_sessions.append(request.path_params["session"])
        return Response(status_code=204)

    async def camera(request: Request) -> Response:
        return JSONResponse({"platform_id": request.path_params["camera"], "name": CAMERA_NAME})

    return Starlette(
        routes=[
            Route("/api/v1/cameras/{camera}/play", play, methods=["POST"]),
            Route("/api/v1/cameras/{camera}", camera),
            Route("/api/v1/play-sessions/{session}", end_session, methods=["DELETE"]),
            Mount("/", app=pages),
        ]
    )


@pytest.fixture(scope="session")
def vendored() -> None:
    if not player_assets().vendor_ready():
        message = "the player is not built: run scripts/build-web (npm ci + build in web/player)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def servers(media: Media, vendored: None) -> Iterator[tuple[FakePlatform, LiveServer]]:
    fake = FakePlatform()
    media_server = start_server(media_app(fake, media))
    fake.media_url = media_server.url
    platform_server = start_server(platform_app(fake))
    yield fake, platform_server
    platform_server.stop()
    media_server.stop()


READ_PICTURE = """() => {
  const video = window.xueliangPlayer.video;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, squares = 0, count = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const luma = 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
    sum += luma; squares += luma * luma; count++;
  }
  const mean = sum / count;
  return {width: canvas.width, height: canvas.height, mean: mean, variance: squares / count - mean * mean};
}"""


def assert_playing(page: Page) -> None:
    """The video really plays: time advances like a clock, a frame is decoded and the picture is not blank."""
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    before = page.evaluate("window.xueliangPlayer.video.currentTime")
    page.wait_for_timeout(WATCH_SECONDS * 1000)
    after = page.evaluate("window.xueliangPlayer.video.currentTime")
    assert after - before >= MIN_ADVANCE_S, (before, after)
    assert page.evaluate("window.xueliangPlayer.video.readyState") >= 2
    picture = page.evaluate(READ_PICTURE)
    assert (picture["width"], picture["height"]) == (WIDTH, HEIGHT)
    assert picture["variance"] > MIN_PIXEL_VARIANCE, picture
    assert page.evaluate("window.xueliangPlayer.state") == "playing"
    assert page.evaluate("window.xueliangPlayer.error") is None


@pytest.mark.parametrize("fmt", ["flv", "ws-flv", "hls", "native-hls"])
def test_each_format_plays_in_chromium(servers: tuple[FakePlatform, LiveServer], page: Page, fmt: str) -> None:
    fake, platform = servers
    fake.sign_playlists = fmt == "native-hls"
    page.goto(f"{platform.url}/play/{CAMERA}?format={fmt}")
    assert_playing(page)
    assert page.locator("body").get_attribute("data-format") == fmt
    expect(page.locator("#camera-name")).to_have_text(CAMERA_NAME)
    assert len(fake.play_requests) == 1
    assert "variant" not in fake.play_requests[0]
    assert sorted(fake.play_requests[0]["formats"]) == ["flv", "hls", "ws_flv"]  # what this browser can play
    assert fake.media_requests, "the media node was never asked"
    assert all(f"token={TOKEN}" in url for url in fake.media_requests), fake.media_requests
    if fmt.endswith("hls"):  # segments too, although the playlist names them without the token
        assert any(url.split("?")[0].endswith(".m4s") for url in fake.media_requests)


@pytest.mark.parametrize(("hold_open", "final_state"), [(True, "stalled"), (False, "ended")])
def test_a_stream_that_stops_is_not_shown_as_playing(
    servers: tuple[FakePlatform, LiveServer], page: Page, hold_open: bool, final_state: str
) -> None:
    """A source that falls silent shows "stalled"; one whose server closes the stream shows "ended"."""
    fake, platform = servers
    fake.flv_stop_after_ms, fake.flv_hold_open = STOP_AFTER_MS, hold_open
    page.goto(f"{platform.url}/play/{CAMERA}?format=flv")
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", "playing")
    expect(body).to_have_attribute("data-state", final_state)
    frozen = page.evaluate("window.xueliangPlayer.video.currentTime")
    assert frozen <= STOP_AFTER_MS / 1000 + 0.5
    page.wait_for_timeout(1000)
    assert page.evaluate("window.xueliangPlayer.video.currentTime") == frozen
    assert page.evaluate("window.xueliangPlayer.state") == final_state


def test_snapshot_shows_the_picture(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    _, platform = servers
    page.goto(f"{platform.url}/play/{CAMERA}?format=flv")
    expect(page.locator("#snapshot")).to_be_enabled()
    page.locator("#snapshot").click()
    image = page.locator("#snapshot-image")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("naturalWidth", WIDTH)  # a real JPEG, decoded
    expect(image).to_have_js_property("naturalHeight", HEIGHT)


def test_play_error_shows_the_server_detail(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    fake, platform = servers
    fake.play_status = 409
    fake.play_error = "设备离线：34020000001320000001 / the device is offline"
    page.goto(f"{platform.url}/play/{CAMERA}?lang=en")
    expect(page.locator("body")).to_have_attribute("data-state", "error")
    expect(page.locator("#error")).to_have_text(fake.play_error)
    expect(page.locator("#status")).to_have_text("error")
    assert page.evaluate("window.xueliangPlayer.error") == fake.play_error
    assert fake.media_requests == []


def test_leaving_the_page_ends_the_viewing_session(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    fake, platform = servers
    page.goto(f"{platform.url}/play/{CAMERA}?format=hls")
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    session = page.evaluate("window.xueliangPlayer.session")
    assert session and fake.ended_sessions == []
    page.goto("about:blank")
    page.wait_for_timeout(500)
    assert fake.ended_sessions == [session]


def test_h265_camera_is_switched_to_the_h264_variant(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    """Chromium on Linux cannot decode H.265: the page asks for the transcoded variant itself."""
    fake, platform = servers
    fake.codec = "h265"
    page.goto(f"{platform.url}/play/{CAMERA}?format=flv")
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    if page.evaluate("window.xueliangPlayer.capabilities.hvc1"):
        assert [r.get("variant") for r in fake.play_requests] == [None]
        return
    assert [r.get("variant") for r in fake.play_requests] == [None, "h264"]
    assert page.evaluate("window.xueliangPlayer.variant") == "h264"
    first_session = page.evaluate("window.xueliangPlayer.ended_sessions[0]")
    page.wait_for_timeout(300)
    assert fake.ended_sessions == [first_session]  # the native session was given back at once
    expect(page.locator("#variant-label")).to_be_visible()
    assert page.locator("#variant option").evaluate_all("options => options.map(o => o.value)") == ["native", "h264"]
    assert all("/h264" in url for url in fake.media_requests)


def test_chromium_media_capabilities(servers: tuple[FakePlatform, LiveServer], page: Page, artifacts_dir: Path) -> None:
    """What this Chromium's MSE accepts (recorded as an artefact): H.264 must play; H.265 decides the variant."""
    _, platform = servers
    page.goto(f"{platform.url}/play/{CAMERA}?format=flv")
    capabilities = page.evaluate("window.xueliangPlayer.capabilities")
    native_hls = page.evaluate("window.xueliangPlayer.video.canPlayType('application/vnd.apple.mpegurl')")
    (artifacts_dir / "chromium_native_hls.txt").write_text(
        f"canPlayType(application/vnd.apple.mpegurl) = {native_hls!r}\n"
    )
    (artifacts_dir / "chromium_media_capabilities.json").write_text(json.dumps(capabilities, indent=2) + "\n")
    assert capabilities["avc1"] is True
    assert set(capabilities) == {"avc1", "hvc1", "hev1"}
