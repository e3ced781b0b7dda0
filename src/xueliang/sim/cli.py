"""``xueliang sim``: simulators on the command line. ``devices`` runs N simulated GB/T 28181 devices against a
platform until Ctrl-C (or ``--duration``), with a live table of what they do.

Video: every channel answers INVITE with live H.264 by default (``--video h265`` or ``--video none``: INVITEs
answered 488), one encoded loop of ``--video-size`` shared by all streams, at most ``--max-streams`` per device
(486 Busy Here beyond); ``--refuse-invite 486`` answers every INVITE with that status (tests, demos of errors).

Exit codes: 0 done, 1 the platform could not be reached, 2 bad options.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Mapping
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from xueliang.domain.ids import Edition
from xueliang.protocol.es import Codec
from xueliang.protocol.manscdp import Charset
from xueliang.sim.config import DeviceKind, SimConfig, Transport
from xueliang.sim.context import Stats
from xueliang.sim.devices import DeviceSimulator

__all__ = ["sim_app"]

sim_app = typer.Typer(
    help="模拟器 / simulators: GB/T 28181 devices for demos, tests and load", no_args_is_help=True, add_completion=False
)
console = Console()


@sim_app.callback()
def _sim() -> None:
    """Simulators (a group even with one command, so ``sim devices`` reads the same everywhere)."""


REFRESH = 1.0  # s between live table updates
_ROWS = (
    ("registered", "已注册 registered"),
    ("registrations_ok", "registrations accepted"),
    ("online", "在线 online"),
    ("registrations_sent", "REGISTER sent"),
    ("registrations_rejected", "REGISTER refused"),
    ("registration_timeouts", "REGISTER timed out"),
    ("keepalives_sent", "keepalives sent"),
    ("keepalives_answered", "keepalives answered"),
    ("keepalives_rejected", "keepalives refused (re-register)"),
    ("keepalive_timeouts", "keepalives lost"),
    ("queries_answered", "queries answered"),
    ("answers_sent", "answer MESSAGEs sent"),
    ("answers_failed", "answer MESSAGEs failed"),
    ("ptz_commands", "PTZ commands"),
    ("reboots", "reboots"),
    ("notifies_sent", "NOTIFYs sent"),
    ("alarms_sent", "alarms sent"),
    ("retransmissions", "retransmissions"),
    ("errors", "errors"),
)
_INVITE_ROWS = (
    ("invites", "INVITE received"),
    ("invites_answered", "INVITE answered 200"),
    ("streams_started", "视频流 streams started"),
    ("byes_in", "BYE from the platform"),
    ("byes_out", "BYE sent"),
)
VIDEO_CHOICES = ("h264", "h265", "none")


def parse_video(text: str) -> Codec | None:
    """``h264`` | ``h265`` | ``none``."""
    value = text.strip().lower()
    if value not in VIDEO_CHOICES:
        raise typer.BadParameter(f"expected one of {', '.join(VIDEO_CHOICES)}, got {text!r}", param_hint="--video")
    return None if value == "none" else Codec(value)


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT``."""
    width, x, height = text.lower().partition("x")
    if not x or not width.isdigit() or not height.isdigit():
        raise typer.BadParameter(f"expected WIDTHxHEIGHT, got {text!r}", param_hint="--video-size")
    return int(width), int(height)


def parse_server(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 5060 when absent)."""
    host, colon, port = text.rpartition(":")
    if not colon:
        return text, 5060
    if not port.isdigit():
        raise typer.BadParameter(f"bad port in {text!r}", param_hint="--server")
    return host, int(port)


def stats_table(stats: Stats, title: str, rate: float | None = None, invites: Mapping[str, int] | None = None) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    values = stats.as_dict()
    for key, label in _ROWS:
        shown = f"{values[key]:,}"
        if key in ("registered", "online"):
            shown += f" / {stats.devices:,}"
        table.add_row(label, shown)
    if invites is not None:
        for key, label in _INVITE_ROWS:
            table.add_row(label, f"{invites.get(key, 0):,}")
    if rate is not None:
        table.add_row("keepalives/s", f"{rate:,.0f}")
    return table


@sim_app.command()
def devices(
    server: Annotated[str, typer.Option("--server", help="Platform SIP address HOST:PORT")],
    server_id: Annotated[str, typer.Option("--server-id", help="Platform SIP ID (20 digits)")],
    password: Annotated[str, typer.Option("--password", help="Digest password of every device")] = "12345678",  # noqa: S107
    count: Annotated[int, typer.Option("--count", min=1, help="Number of devices")] = 1,
    channels: Annotated[int, typer.Option("--channels", min=1, help="Channels per device")] = 1,
    transport: Annotated[Transport, typer.Option("--transport", help="udp or tcp")] = Transport.UDP,
    edition: Annotated[Edition, typer.Option("--edition", help="GB/T 28181 edition spoken")] = Edition.GB2016,
    charset: Annotated[Charset, typer.Option("--charset", help="Charset of MANSCDP bodies")] = Charset.GB2312,
    prefix: Annotated[str, typer.Option("--prefix", help="First 10 ID digits: division + industry")] = "3415020000",
    first_serial: Annotated[int, typer.Option("--first-serial", min=1, help="Serial of the first device")] = 1,
    device_type: Annotated[
        DeviceKind | None, typer.Option("--device-type", help="ipc, nvr or platform (default: ipc if 1 channel)")
    ] = None,
    keepalive_interval: Annotated[float, typer.Option("--keepalive-interval", min=0.1, help="Seconds")] = 60.0,
    expires: Annotated[int, typer.Option("--expires", min=1, help="Registration time asked for, s")] = 3600,
    local_host: Annotated[
        str, typer.Option("--local-host", help="Local address(es) to bind, comma-separated: sockets take them in turn")
    ] = "127.0.0.1",
    local_port: Annotated[int, typer.Option("--local-port", min=0, help="First local UDP port (0: any)")] = 0,
    sockets: Annotated[int, typer.Option("--sockets", min=1, help="Local UDP sockets / TCP connections")] = 1,
    duration: Annotated[float | None, typer.Option("--duration", help="Run this many seconds, then exit")] = None,
    register_rate: Annotated[float, typer.Option("--register-rate", help="REGISTERs started per second")] = 2000.0,
    tcp_catalog_items: Annotated[int, typer.Option("--tcp-catalog-items", min=1, help="Items per MESSAGE")] = 100,
    domain: Annotated[str | None, typer.Option("--domain", help="SIP domain (default: 10 digits of ID)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No live table, only the summary")] = False,
    video: Annotated[str, typer.Option("--video", help="Video of every channel: h264, h265 or none (488)")] = "h264",
    video_size: Annotated[str, typer.Option("--video-size", help="WIDTHxHEIGHT of the video loop")] = "640x360",
    max_streams: Annotated[int, typer.Option("--max-streams", min=0, help="Streams per device (486 beyond)")] = 4,
    refuse_invite: Annotated[
        int | None, typer.Option("--refuse-invite", min=300, max=699, help="Answer every INVITE with this status")
    ] = None,
) -> None:
    """Run N simulated devices (IPC, NVR or lower platform) against a platform."""
    host, port = parse_server(server)
    try:
        config = SimConfig(
            server_host=host,
            server_port=port,
            server_id=server_id,
            password=password,
            domain=domain,
            count=count,
            channels=channels,
            kind=device_type,
            transport=transport,
            edition=edition,
            charset=charset,
            prefix=prefix,
            first_serial=first_serial,
            keepalive_interval=keepalive_interval,
            expires=expires,
            local_host=local_host,
            local_port=local_port,
            sockets=sockets,
            register_rate=register_rate,
            tcp_catalog_items=tcp_catalog_items,
            video=parse_video(video),
            video_size=parse_size(video_size),
            max_streams=max_streams,
            refuse_invite=refuse_invite,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        stats, invites = asyncio.run(_run(config, duration, live=not quiet))
    except OSError as exc:
        console.print(f"[red]cannot reach {server}: {exc}[/red]")
        raise typer.Exit(1) from exc
    title = f"{config.count:,} {config.device_kind.value} -> {server} ({transport.value})"
    console.print(stats_table(stats, title, invites=invites))


async def _run(config: SimConfig, duration: float | None, *, live: bool) -> tuple[Stats, dict[str, int]]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    sim = DeviceSimulator(config)
    await sim.start()
    started = last_time = loop.time()
    last_sent = 0
    title = f"{config.count:,} simulated {config.device_kind.value} devices"
    display = Live(stats_table(sim.stats, title), console=console, auto_refresh=False) if live else None
    with display if display is not None else contextlib.nullcontext():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH)
            now = loop.time()
            if display is not None:
                stats = sim.stats
                rate = (stats.keepalives_sent - last_sent) / max(now - last_time, 1e-6)
                last_sent, last_time = stats.keepalives_sent, now
                display.update(stats_table(stats, title, rate, sim.invites.stats), refresh=True)
            if duration is not None and now - started >= duration:
                break
    final = dataclasses.replace(sim.stats)  # as the run ended, before the devices unregister
    invites = dict(sim.invites.stats)
    await sim.stop()
    return final, invites


if __name__ == "__main__":
    sim_app()
