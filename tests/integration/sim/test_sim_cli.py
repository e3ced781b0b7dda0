"""``xueliang sim devices`` (the Typer app the main CLI mounts) against the minimal platform peer running in a
thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from xueliang.sim.cli import sim_app
from xueliang.sim.peer_server import PeerServer
from xueliang.sim.platform_peer import PlatformPeer

SERVER_ID = "34150000002000000001"


@pytest.fixture
def peer() -> Iterator[PeerServer]:
    server = PeerServer(PlatformPeer(SERVER_ID, password="cli-pw"))
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_devices_run_for_a_duration_and_summarise(peer: PeerServer) -> None:
    address = f"{peer.peer.host}:{peer.peer.port}"
    result = CliRunner().invoke(
        sim_app,
        [
            "devices", "--server", address, "--server-id", SERVER_ID, "--password", "cli-pw", "--count", "12",
            "--channels", "3", "--keepalive-interval", "0.5", "--duration", "1.5", "--edition", "2022",
            "--charset", "utf-8", "--sockets", "2", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "12 nvr" in result.output
    assert "12 / 12" in result.output  # registered and online when the run ended
    assert peer.peer.counts.get("keepalive", 0) >= 12
    assert not peer.peer.registered  # unregistered on exit


def test_bad_options_exit_2() -> None:
    result = CliRunner().invoke(
        sim_app, ["devices", "--server", "127.0.0.1:5060", "--server-id", "123", "--duration", "0.1"]
    )
    assert result.exit_code == 2 and "server ID" in result.output


def test_unreachable_tcp_server_exits_1() -> None:
    result = CliRunner().invoke(
        sim_app,
        ["devices", "--server", "127.0.0.1:1", "--server-id", SERVER_ID, "--transport", "tcp", "--quiet"],
    )
    assert result.exit_code == 1 and "cannot reach" in result.output
