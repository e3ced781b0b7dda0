"""``xueliang demo`` as a person meets it: the login it prints signs in through the sign-in page, the landing page
then shows who is signed in and the simulated cameras, and one of them plays. A second start prints the same login
(kept in <data_dir>/demo/login.txt, mode 0600)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from xueliang.demo import DEMO_ADMIN, DEMO_ADMIN_NAME

from .conftest import XUELIANG_CLI, child_env, free_port, free_udp_tcp_port, healthy, sign_in

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90.0
PLAYING_TIMEOUT_MS = 45_000
LOGIN_LINE = re.compile(r"demo login: (http://\S+/login)")
USERNAME_LINE = re.compile(r"username: (\S+)")
PASSWORD_LINE = re.compile(r"password: (\S+)")


@dataclass
class Printed:
    """What a running demo printed, read line by line in a thread."""

    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.lines)

    def find(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.search(self.text())
        return found.group(1) if found else None


@dataclass(frozen=True)
class Login:
    url: str
    username: str
    password: str


@contextmanager
def running_demo(data_dir: Path, http_port: int, sip_port: int, log: Path) -> Iterator[tuple[Login, Printed]]:
    """``xueliang demo`` in a child process until the block ends; yields the login it printed."""
    env = child_env(42000 + (os.getpid() % 150) * 100, XUELIANG_SIP_HOST="127.0.0.1")
    command = [
        *XUELIANG_CLI, "demo",
        "--data-dir", str(data_dir),
        "--http-host", "127.0.0.1", "--http-port", str(http_port),
        "--sip-port", str(sip_port),
        "--cameras", "5",
    ]  # fmt: skip
    printed = Printed()
    with log.open("ab") as errors:
        demo = subprocess.Popen(  # its own process group: the simulated NVRs go with it if it must be killed
            command,
            cwd=data_dir.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

        def read() -> None:
            assert demo.stdout is not None
            for line in demo.stdout:
                with printed.lock:
                    printed.lines.append(line.rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True, name="demo-stdout")
        reader.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while printed.find(PASSWORD_LINE) is None or not healthy(f"http://127.0.0.1:{http_port}"):
                if time.monotonic() > deadline or demo.poll() is not None:
                    pytest.fail(f"the demo did not start; it printed:\n{printed.text()}\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            url, username, password = (printed.find(p) for p in (LOGIN_LINE, USERNAME_LINE, PASSWORD_LINE))
            assert url and username and password, printed.text()
            yield Login(url, username, password), printed
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(timeout=10)
            reader.join(timeout=10)


def test_the_demo_prints_a_login_that_signs_in(tmp_path: Path, page: Page, vendored: None) -> None:
    data_dir = tmp_path / "xueliang-demo"
    http_port, sip_port = free_port(), free_udp_tcp_port()
    log = tmp_path / "demo.log"
    with running_demo(data_dir, http_port, sip_port, log) as (login, printed):
        assert login.url == f"http://127.0.0.1:{http_port}/login"
        assert login.username == DEMO_ADMIN
        kept = data_dir / "demo" / "login.txt"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert f"password: {login.password}" in kept.read_text()
        assert "sample inventory imported" in printed.text()

        page.goto(login.url)
        sign_in(page, login.username, login.password)
        base = login.url.removesuffix("/login")
        page.wait_for_url(base + "/")
        expect(page.locator("#current-user")).to_have_text(DEMO_ADMIN_NAME)
        expect(page.locator("#current-unit")).to_have_text("PLATFORM")

        links = page.locator("#live-cameras a")
        deadline = time.monotonic() + START_TIMEOUT_S
        while links.count() == 0:  # the simulated NVRs register and hand over their catalogs
            assert time.monotonic() < deadline, "no camera came online:\n" + log.read_text()[-3000:]
            page.wait_for_timeout(1000)
            page.reload()
        links.first.click()
        page.wait_for_url(re.compile(r"/play/\d{20}$"))
        page.wait_for_selector("body[data-state=playing]", timeout=PLAYING_TIMEOUT_MS)
        assert page.evaluate("document.body.dataset.treatment") == "full"  # the platform unit's own camera
        page.goto(base + "/")  # the stream's connection closes, so the demo stops at once

    with running_demo(data_dir, http_port, sip_port, log) as (again, printed):
        assert again == login  # the same login at every start
        assert "demo archive already loaded" in printed.text()
        with httpx.Client(base_url=base, timeout=10) as http:
            signed_in = http.post("/api/v1/auth/login", json={"username": again.username, "password": again.password})
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["user"]["roles"] == ["unit_admin"]
