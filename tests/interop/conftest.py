"""A real ``xueliang serve`` process and a way to run sipp scenarios against it.

``platform_server`` starts the command as an operator would (embedded SQLite in a temporary data directory,
free HTTP and SIP ports on loopback, unknown devices accepted, one global device password) and waits for
``/api/v1/health``; ``strict_platform_server`` is the same with unknown devices refused. ``run_sipp`` plays one
scenario from this directory as one device (``-m 1``) and returns its exit code, its final statistics and its
message trace.

sipp (Debian package ``sip-tester``, installed by scripts/test) is needed: without it the tests are skipped
locally and FAIL under CI=true.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
PLATFORM_ID = "34150000002000000001"
DOMAIN = PLATFORM_ID[:10]  # the SIP domain and digest realm: the first 10 digits of the platform ID
PASSWORD = "Gb28181-interop"
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT = 30.0
SIPP_TIMEOUT = 30  # seconds, sipp's own global timeout (-timeout ... -timeout_error)


@pytest.fixture(scope="session")
def sipp() -> str:
    """The sipp binary; skipped locally when it is missing, a failure under CI=true."""
    found = shutil.which("sipp")
    if found is None:
        message = "sipp is needed for the interop tests: apt-get install sip-tester (scripts/test does it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def _xueliang_command() -> list[str]:
    """The installed console script next to this interpreter, else the same entry point through it."""
    script = shutil.which("xueliang", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script]
    return [sys.executable, "-c", "from xueliang.cli import main; main()"]


ADMIN = "interop-admin"
ADMIN_PASSWORD = "Sipp-Peer-Check-2026!"


@dataclass(frozen=True)
class PlatformServer:
    http: httpx.Client
    sip_address: tuple[str, int]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        kept = [line for line in text.splitlines() if '"GET /api/v1/' not in line]  # the polling is noise
        return "\n".join(kept[-lines:])

    def wait_for(self, path: str, ready: Callable[[httpx.Response], bool], timeout: float = 15.0) -> httpx.Response:
        """GET ``path`` until ``ready(response)``; the last response when time runs out (the test asserts)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.get(path)
            if ready(response) or time.monotonic() > deadline:
                return response
            time.sleep(0.2)


@contextlib.contextmanager
def serving(workdir: Path, *, accept_unknown: bool) -> Iterator[PlatformServer]:
    """``xueliang serve`` on free loopback ports with a fresh data directory under ``workdir``."""
    http_port, sip_port = free_port(), free_port()
    command = [
        *_xueliang_command(),
        "serve",
        "--data-dir",
        str(workdir / "data"),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--sip-host",
        "127.0.0.1",
        "--sip-port",
        str(sip_port),
        "--sip-id",
        PLATFORM_ID,
        "--sip-password",
        PASSWORD,
        "--accept-unknown-devices" if accept_unknown else "--no-accept-unknown-devices",
    ]
    # only the flags configure this platform: no XUELIANG_* from the caller, no .env from the project
    env = {key: value for key, value in os.environ.items() if not key.startswith("XUELIANG_")}
    env["PYTHONUNBUFFERED"] = "1"  # the log file is read when a test fails
    # the media node's shared RTP port: any free one, so two platforms (and a developer's demo) can run at once
    env["XUELIANG_MEDIA_RTP_MUX_PORT"] = "0"
    log_path = workdir / "serve.log"
    # the API needs a signed-in caller: the platform unit's administrator, made as an operator makes the first one
    create_admin = [
        *_xueliang_command(), "user", "create", ADMIN, "--password", ADMIN_PASSWORD, "--role", "unit_admin",
        "--data-dir", str(workdir / "data"),
    ]  # fmt: skip
    created = subprocess.run(create_admin, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr
    with log_path.open("wb") as log, httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10.0) as http:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = PlatformServer(http, ("127.0.0.1", sip_port), log_path)
        try:
            _wait_healthy(process, http, server)
            token = http.post("/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD})
            assert token.status_code == 200, token.text
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield server
        finally:
            process.send_signal(signal.SIGINT)  # uvicorn shuts down the app (and the SIP endpoint) cleanly
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="module")
def platform_server(sipp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    """The platform as a demo or an acceptance test runs it: unknown devices may register (global password)."""
    with serving(tmp_path_factory.mktemp("platform"), accept_unknown=True) as server:
        yield server


@pytest.fixture(scope="module")
def strict_platform_server(sipp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    """The platform as production runs it: only devices in the archive may register."""
    with serving(tmp_path_factory.mktemp("strict-platform"), accept_unknown=False) as server:
        yield server


def _wait_healthy(process: subprocess.Popen[bytes], http: httpx.Client, server: PlatformServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"xueliang serve exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            if http.get("/api/v1/health").status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"xueliang serve not healthy after {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


@dataclass(frozen=True)
class SippRun:
    """What one sipp run left behind."""

    scenario: str
    returncode: int
    stats: dict[str, str]  # the last line of sipp's statistics file, by column
    messages: bytes  # sipp's message trace (-trace_msg), raw bytes (bodies may be GB2312)
    errors: str  # unexpected messages and aborted calls (-trace_err)
    platform_log: str  # the end of the platform's log right after the run

    def count(self, column: str) -> int:
        return int(self.stats.get(column, "0") or 0)

    def describe(self) -> str:
        wanted = ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)", "DeadCallMsgs(C)", "OutOfCallMsgs(C)")
        figures = ", ".join(f"{name}={self.stats.get(name)}" for name in wanted)
        trace = self.messages.decode("utf-8", errors="replace")
        return (
            f"sipp {self.scenario}: exit {self.returncode}; {figures}\n{self.errors}\n--- trace ---\n{trace[-6000:]}"
            f"\n--- platform log ---\n{self.platform_log}"
        )


RunSipp = Callable[..., SippRun]


@pytest.fixture
def run_sipp(sipp: str, platform_server: PlatformServer, tmp_path: Path) -> RunSipp:
    """``run_sipp(scenario, inject, transport=..., username=..., password=..., ooc=..., server=...)`` -> SippRun.

    ``inject`` is the injection file's data lines (fields already in the bytes the device sends); ``server``
    defaults to ``platform_server``."""

    def run(
        scenario: str,
        inject: list[bytes],
        *,
        transport: str = "udp",
        username: str | None = None,
        password: str | None = None,
        ooc: str | None = None,
        server: PlatformServer | None = None,
    ) -> SippRun:
        name = Path(scenario).stem
        workdir = Path(tempfile.mkdtemp(prefix=f"{name}-{transport}-", dir=tmp_path))
        csv_path = workdir / "devices.csv"
        csv_path.write_bytes(b"SEQUENTIAL\n" + b"".join(line + b"\n" for line in inject))
        target = server or platform_server
        host, port = target.sip_address
        command = [
            sipp,
            f"{host}:{port}",
            "-sf",
            str(HERE / scenario),
            "-inf",
            str(csv_path),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-t",
            {"udp": "u1", "tcp": "t1"}[transport],
            "-m",
            "1",
            "-l",
            "1",
            "-timeout",
            str(SIPP_TIMEOUT),
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(workdir / "messages.log"),
            "-trace_err",
            "-error_file",
            str(workdir / "errors.log"),
            "-trace_stat",
            "-stf",
            str(workdir / "stats.csv"),
        ]
        if ooc is not None:
            command += ["-oocsf", str(HERE / ooc)]
        if username is not None:
            command += ["-au", username]
        if password is not None:
            command += ["-ap", password]
        completed = subprocess.run(command, cwd=workdir, capture_output=True, timeout=SIPP_TIMEOUT + 15, check=False)
        return SippRun(
            scenario=scenario,
            returncode=completed.returncode,
            stats=_last_stats(workdir / "stats.csv"),
            messages=_read(workdir / "messages.log"),
            errors=_read(workdir / "errors.log").decode("utf-8", errors="replace"),
            platform_log=target.log_tail(),
        )

    return run


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _last_stats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8", errors="replace")), delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))
