"""Browser end-to-end harness: headless Debian Chromium driven by Playwright, and real HTTP servers in threads.

Chromium is the distribution's (``/usr/bin/chromium``, or XUELIANG_CHROMIUM); Playwright's own browser downloads
are never used. Each test gets a fresh profile (user-data-dir) and leaves a screenshot and the browser console
under XUELIANG_TEST_ARTIFACTS (default tests/e2e/artifacts/, gitignored). Without Chromium the browser tests skip,
and FAIL under CI=true.

Every page that shows video needs a signed-in browser: :func:`open_signed_in` opens a page, follows it to the real
sign-in page (/login?next=...), signs in there and waits to be back. Tests that serve the platform's app in a
thread run on SQLite only (:data:`SQLITE_ONLY`): the browser is what they test, both databases are tested below.
Tests that run ``xueliang`` itself as a child process (``serve``, ``demo``) start it with :data:`XUELIANG_CLI` and
:func:`child_env` on ports from :func:`free_port` and :func:`free_udp_tcp_port`, and wait until it is
:func:`healthy`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, expect, sync_playwright
from starlette.types import ASGIApp

from xueliang.api.routers.player import player_assets

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("XUELIANG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_MS = 15_000
LOGIN_URL = re.compile(r"/login\?")
# the platform fixture (tests/conftest.py) on SQLite only, for tests whose subject is the browser
SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
XUELIANG_CLI = (sys.executable, "-c", "from xueliang.cli import main; main()")  # the command line, as a child


def require_tool(name: str, why: str) -> str:
    """The path of a system tool; skips the test without it, and fails it under CI=true."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is needed ({why})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots and browser logs go: XUELIANG_TEST_ARTIFACTS or tests/e2e/artifacts."""
    configured = os.environ.get("XUELIANG_TEST_ARTIFACTS")
    path = Path(configured) if configured else Path(__file__).resolve().parent / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"Chromium not found at {CHROMIUM} (Debian package chromium; or set XUELIANG_CHROMIUM)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def vendored() -> None:
    """The player page's vendored players (mpegts.js, hls.js); without them it answers 503."""
    if not player_assets().vendor_ready():
        message = "the player is not built: run scripts/build-web (npm ci + build in web/player)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # module scope, not session: sync Playwright runs an asyncio loop in this thread while it lives, and every
    # later test that starts a loop of its own (anyio, asyncio.run) would fail with "another loop is running"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_context(playwright: Playwright, chromium_path: str, tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile for this test."""
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=tmp_path / "chromium-profile",
        executable_path=chromium_path,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1000, "height": 800},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tab; at the end of the test its screenshot and console log are saved as artefacts (pass or fail)."""
    tab = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    console: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        console.append(f"[{message.type}] {message.text}")

    tab.on("console", remember)
    tab.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
    yield tab
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        if tab.url.startswith("http"):
            tab.screenshot(path=str(artifacts_dir / f"{stem}.png"))
    finally:
        (artifacts_dir / f"{stem}.console.txt").write_text("\n".join(console) + "\n", encoding="utf-8")


@dataclass
class LiveServer:
    """A uvicorn server on 127.0.0.1 in a thread, on a free port."""

    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=SERVER_START_TIMEOUT_S)


def start_server(app: ASGIApp) -> LiveServer:
    """Serves ``app`` for real (HTTP and WebSocket) until ``stop``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.02)
    return LiveServer(server=server, thread=thread, port=port)


def sign_in(page: Page, username: str, password: str) -> None:
    """On the sign-in page: fill the form and submit it, as a person would."""
    expect(page.locator("#login-form")).to_be_visible()
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#submit").click()


def open_signed_in(page: Page, url: str, username: str, password: str) -> None:
    """Open ``url`` in a browser nobody signed in to: the page must send it to the sign-in page with itself as
    ``next``; sign in there; the sign-in page must bring the browser back to ``url``."""
    page.goto(url)
    page.wait_for_url(LOGIN_URL)
    wanted = urlsplit(url)
    assert parse_qs(urlsplit(page.url).query)["next"] == [wanted.path + (f"?{wanted.query}" if wanted.query else "")]
    sign_in(page, username, password)
    page.wait_for_url(url)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 (TCP, or the socket ``kind`` given)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIP listens on both)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def child_env(rtp_min: int, **settings: str) -> dict[str, str]:
    """The environment of a child ``xueliang``: this process's without its XUELIANG_ settings, unbuffered output,
    the media node's RTP on 127.0.0.1 in ports ``rtp_min`` to ``rtp_min + 99`` (no shared port), and ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("XUELIANG_")}
    env.update(
        PYTHONUNBUFFERED="1",
        XUELIANG_MEDIA_RTP_PORT_MIN=str(rtp_min),
        XUELIANG_MEDIA_RTP_PORT_MAX=str(rtp_min + 99),
        XUELIANG_MEDIA_RTP_MUX_PORT="0",
        XUELIANG_MEDIA_RTP_HOST="127.0.0.1",
        **settings,
    )
    return env


def healthy(base_url: str) -> bool:
    """Whether the platform at ``base_url`` answers its health check."""
    try:
        return httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
