"""The player page (/play/{camera_id}) in headless Chromium, against real media made by ffmpeg.

Two real HTTP servers: the "platform" (the player and sign-in pages, the real /api/v1/auth routes on a real
database, and stand-ins for the play API behind the real authentication: cookie plus X-CSRF-Token) and, on another
origin as in production, a stand-in "media node" serving an H.264 FLV file as live HTTP-FLV and WS-FLV
(tags paced by their timestamps), an fMP4 HLS stream (ffmpeg -f hls -hls_segment_type fmp4) and a JPEG snapshot,
all behind a token. The page must play each format for real: currentTime advances, readyState >= 2 and the
picture drawn to a canvas is not blank. Every test first opens the player signed out and signs in through the
sign-in page. The end-to-end test against `xueliang serve` and a simulated camera builds on this harness.
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
from fastapi import APIRouter, Depends, FastAPI
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from tests.conftest import TEST_PASSWORD, Users

from xueliang.api.auth_deps import CurrentPrincipal, current_principal, install_auth_errors
from xueliang.api.errors import install_error_handlers
from xueliang.api.routers import auth, login_page, player
from xueliang.app import Platform
from xueliang.sharing.sessions import CSRF_HEADER, SessionService

from .conftest import SQLITE_ONLY, LiveServer, open_signed_in, require_tool, start_server

CAMERA = "34020000001320000001"
CAMERA_NAME = "测试路口东向西"
VIEWER = "zhang"
TOKEN = "t0k3n-for-tests"
WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 25, 12
FLV_HEADER_BYTES = 9 + 4  # FLV header, then PreviousTagSize0
FLV_TAG_HEADER_BYTES = 11
WATCH_SECONDS = 2.0
MIN_ADVANCE_S = 1.2  # of the 2 s watched: the page must really play, not creep
MIN_PIXEL_VARIANCE = 400.0  # testsrc2 is far above this; a black or flat frame is ~0
SILENT_FOREVER_S = 3600
STOP_AFTER_MS = 1500

pytestmark = [pytest.mark.slow, SQLITE_ONLY]


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
    play_code: str = ""  # set: the refusal comes as the platform's errors do (error, message_zh, message_en)
    play_error_en: str = ""
    codec: str = "h264"
    treatment: str = "full"
    grant: str | None = None
    flv_stop_after_ms: int | None = None
    flv_hold_open: bool = False
    sign_playlists: bool = False
    play_requests: list[dict[str, Any]] = field(default_factory=list)
    ended_sessions: list[str] = field(default_factory=list)
    media_requests: list[str] = field(default_factory=list)
    viewers: list[str] = field(default_factory=list)  # who the real authentication said each play call came from
    csrf_tokens: list[str | None] = field(default_factory=list)  # the X-CSRF-Token of each POST and DELETE

    def answer(self, camera_id: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.play_requests.append(request)
        if self.play_status != 200 and self.play_code:
            english = self.play_error_en or self.play_error
            return self.play_status, {
                "error": self.play_code,
                "message": self.play_error,
                "message_zh": self.play_error,
                "message_en": english,
                "detail": None,
            }
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
            "treatment": self.treatment,
            "grant": self.grant,
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


def platform_app(fake: FakePlatform, sessions: SessionService) -> FastAPI:
    """The pages as the platform mounts them, the real /api/v1/auth on a real database (``app.state.auth``), and
    stand-ins for the API calls the player makes, behind the real authentication (cookie, and X-CSRF-Token on
    POST and DELETE)."""
    app = FastAPI()
    app.state.auth = sessions
    install_error_handlers(app)
    install_auth_errors(app)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(current_principal)])

    @api.post("/cameras/{camera}/play")
    async def play(camera: str, request: Request, principal: CurrentPrincipal) -> Response:
        fake.viewers.append(principal.id)
        fake.csrf_tokens.append(request.headers.get(CSRF_HEADER))
        raw = await request.body()
        status, answer = fake.answer(camera, json.loads(raw) if raw else {})
        return JSONResponse(answer, status_code=status)

    @api.delete("/play-sessions/{session}")
    async def end_session(session: str, request: Request) -> Response:
        fake.csrf_tokens.append(request.headers.get(CSRF_HEADER))
        fake.ended_sessions.append(session)
        return Response(status_code=204)

    @api.get("/cameras/{camera}")
    async def camera(camera: str) -> Response:
        return JSONResponse({"platform_id": camera, "name": CAMERA_NAME})

    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(api)
    app.include_router(login_page.router)
    app.include_router(player.router)
    return app


@pytest.fixture
def servers(
    media: Media, vendored: None, platform: Platform, users: Users
) -> Iterator[tuple[FakePlatform, LiveServer]]:
    users.create(VIEWER, "operator")
    fake = FakePlatform()
    media_server = start_server(media_app(fake, media))
    fake.media_url = media_server.url
    platform_server = start_server(platform_app(fake, platform.auth))
    yield fake, platform_server
    platform_server.stop()
    media_server.stop()


def open_player(page: Page, url: str) -> None:
    open_signed_in(page, url, VIEWER, TEST_PASSWORD)


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
    open_player(page, f"{platform.url}/play/{CAMERA}?format={fmt}")
    assert_playing(page)
    assert page.locator("body").get_attribute("data-format") == fmt
    expect(page.locator("#camera-name")).to_have_text(CAMERA_NAME)
    assert len(fake.play_requests) == 1
    assert fake.viewers == [VIEWER]  # the cookie session, with its CSRF token (the real dependency checks it)
    assert fake.csrf_tokens == [page.evaluate("window.xueliangPlayer.csrf")]
    expect(page.locator("#user")).to_contain_text(VIEWER)
    expect(page.locator("#treatment")).to_be_hidden()
    assert page.locator("body").get_attribute("data-treatment") == "full"
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
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
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
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
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
    open_player(page, f"{platform.url}/play/{CAMERA}?lang=en")
    expect(page.locator("body")).to_have_attribute("data-state", "error")
    expect(page.locator("#error")).to_have_text(fake.play_error)
    expect(page.locator("#status")).to_have_text("error")
    assert page.evaluate("window.xueliangPlayer.error") == fake.play_error
    assert fake.media_requests == []


def test_leaving_the_page_ends_the_viewing_session(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    fake, platform = servers
    open_player(page, f"{platform.url}/play/{CAMERA}?format=hls")
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    session = page.evaluate("window.xueliangPlayer.session")
    assert session and fake.ended_sessions == []
    page.goto("about:blank")
    page.wait_for_timeout(500)
    assert fake.ended_sessions == [session]
    assert len(set(fake.csrf_tokens)) == 1 and None not in fake.csrf_tokens  # the DELETE carried it too


def test_h265_camera_is_switched_to_the_h264_variant(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    """Chromium on Linux cannot decode H.265: the page asks for the transcoded variant itself."""
    fake, platform = servers
    fake.codec = "h265"
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
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
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
    capabilities = page.evaluate("window.xueliangPlayer.capabilities")
    native_hls = page.evaluate("window.xueliangPlayer.video.canPlayType('application/vnd.apple.mpegurl')")
    (artifacts_dir / "chromium_native_hls.txt").write_text(
        f"canPlayType(application/vnd.apple.mpegurl) = {native_hls!r}\n"
    )
    (artifacts_dir / "chromium_media_capabilities.json").write_text(json.dumps(capabilities, indent=2) + "\n")
    assert capabilities["avc1"] is True
    assert set(capabilities) == {"avc1", "hvc1", "hev1"}


def test_a_desensitised_grant_shows_the_badge(servers: tuple[FakePlatform, LiveServer], page: Page) -> None:
    """The server decides the treatment; the page says so (and shows the grant)."""
    fake, platform = servers
    fake.treatment, fake.grant = "masked", "g-7f3a"
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
    assert_playing(page)
    badge = page.locator("#treatment")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("已脱敏")
    assert page.locator("body").get_attribute("data-treatment") == "masked"
    assert page.evaluate("window.xueliangPlayer.grant") == fake.grant
    expect(page.locator("#info")).to_contain_text(fake.grant)


@pytest.mark.parametrize(
    ("status", "code", "zh", "en"),
    [
        (403, "no_grant", "无有效授权", "no valid grant covers this camera, mode and time"),
        (
            429,
            "unit_stream_limit",
            "本单位同时观看的视频已达上限（2 路）",
            "your unit already holds 2 viewing sessions",
        ),
    ],
    ids=["no_grant", "unit_stream_limit"],
)
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_refusal_shows_the_server_message(
    servers: tuple[FakePlatform, LiveServer], page: Page, status: int, code: str, zh: str, en: str, lang: str
) -> None:
    fake, platform = servers
    fake.play_status, fake.play_code, fake.play_error, fake.play_error_en = status, code, zh, en
    open_player(page, f"{platform.url}/play/{CAMERA}?lang={lang}")
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", "error")
    expect(body).to_have_attribute("data-error-code", code)
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(en if lang == "en" else zh)
    assert page.evaluate("window.xueliangPlayer.error_code") == code
    assert fake.media_requests == []
    assert page.url.startswith(f"{platform.url}/play/")  # refused is not signed out: the page stays


def test_signing_out_ends_the_session_and_the_player_asks_to_sign_in(
    servers: tuple[FakePlatform, LiveServer], page: Page
) -> None:
    fake, platform = servers
    url = f"{platform.url}/play/{CAMERA}?format=hls"
    open_player(page, url)
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    session = page.evaluate("window.xueliangPlayer.session")
    page.locator("#logout").click()
    page.wait_for_url(f"{platform.url}/login?next=%2Fplay%2F{CAMERA}%3Fformat%3Dhls")
    assert fake.ended_sessions == [session]  # ended before the login was
    assert page.request.get(f"{platform.url}/api/v1/auth/me").status == 401
    page.goto(url)
    page.wait_for_url(f"{platform.url}/login?next=%2Fplay%2F{CAMERA}%3Fformat%3Dhls")
    assert len(fake.play_requests) == 1


def test_a_post_with_the_cookie_but_without_the_csrf_header_is_refused(
    servers: tuple[FakePlatform, LiveServer], page: Page
) -> None:
    """What a forged cross-site request looks like from the browser: the cookie alone. 403, and never reaches the
    play API; the same request with the session's token does."""
    fake, platform = servers
    open_player(page, f"{platform.url}/play/{CAMERA}?format=flv")
    expect(page.locator("body")).to_have_attribute("data-state", "playing")
    post = """async ([camera, token]) => {
        const headers = {"Content-Type": "application/json"};
        if (token) headers["X-CSRF-Token"] = token;
        const response = await fetch("/api/v1/cameras/" + camera + "/play", {method: "POST", headers, body: "{}"});
        return [response.status, (await response.json()).error || null];
    }"""
    assert page.evaluate(post, [CAMERA, None]) == [403, "csrf"]
    assert len(fake.play_requests) == 1
    assert page.evaluate(post, [CAMERA, page.evaluate("window.xueliangPlayer.csrf")]) == [200, None]
    assert len(fake.play_requests) == 2
