"""Benchmark: stream start, from the play call to the first FLV video bytes at the viewer, with the simulated camera
joining mid-GOP (it starts sending at a random frame of its loop, as a real camera asked mid-stream does).

Two parts, each over ``--trials`` fresh streams (``XUELIANG_MEDIA_LINGER=0`` and the stream stopped between trials):

1. **serve** (end to end): a real ``xueliang serve`` subprocess and a simulator subprocess with ``--devices`` IPCs of
   one H.264 channel each (``--video-size``, the simulator's 1 Mbit/s loop with a keyframe every second), UDP on
   the shared SSRC-keyed port. Per trial, on a camera in turn: ``POST /api/v1/cameras/{id}/play`` (INVITE, 200,
   ACK, RTP, wait for the first keyframe: the call returns when the stream is ready), then ``GET`` the ``flv`` URL
   and parse the FLV tags until the first video tag (the AVC sequence header) and the first video frame. Baseline,
   same server, same run: a bare HTTP round trip (``GET /api/v1/health``).
2. **in-process**: a :class:`~xueliang.media.node.MediaNode` in this process, started through ``manager.acquire``
   with an opener that starts a :class:`~xueliang.sim.media_sender.MediaSender` of the same loop (no SIP), an FLV
   viewer iterating :func:`~xueliang.media.viewers.flv_stream`. Times come from inside: the receiver's first RTP
   packet (``RtpIngest.feed`` wrapped), the first keyframe reaching the hub (``StreamHub.push`` wrapped), and the
   first video frame tag out of ``flv_stream``. The time from the first packet to the first keyframe is the
   camera's (its GOP), a floor no relay that starts viewers on a keyframe can beat; it is the baseline, and the
   same is measured with the sender starting on a keyframe (what many IPCs do on a new INVITE).

Printed, never asserted: median and p90 of each interval.

    python bench/bench_stream_start.py [--trials 20] [--devices 4] [--only serve|inprocess]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

PLATFORM_ID = "34150000002000000001"
PASSWORD = "bench-password-1"
PREFIX = "3415020000"
FLV_HEADER_SIZE = 13
TAG_HEADER_SIZE = 11
TAG_VIDEO = 9
AVC_NALU = 1


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (SIP listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


class FlvTags:
    """Incremental FLV tag walker: ``feed`` bytes, get (tag type, first body byte after the codec byte) per tag."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header_done = False

    def feed(self, data: bytes) -> Iterator[tuple[int, int]]:
        self._buffer += data
        if not self._header_done:
            if len(self._buffer) < FLV_HEADER_SIZE:
                return
            del self._buffer[:FLV_HEADER_SIZE]
            self._header_done = True
        while len(self._buffer) >= TAG_HEADER_SIZE + 2:
            size = int.from_bytes(self._buffer[1:4], "big")
            if len(self._buffer) < TAG_HEADER_SIZE + size + 4:
                return
            yield self._buffer[0], self._buffer[TAG_HEADER_SIZE + 1]
            del self._buffer[: TAG_HEADER_SIZE + size + 4]


def stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p90 = ordered[min(int(0.9 * len(ordered)), len(ordered) - 1)]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms"


# --- 1. xueliang serve + simulator --------------------------------------------------------------------------------
class Platform:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.http_port, self.sip_port = free_port(), free_port()
        rtp_min = 42000 + (os.getpid() % 100) * 100
        env = {key: value for key, value in os.environ.items() if not key.startswith("XUELIANG_")}
        env.update(
            PYTHONUNBUFFERED="1",
            XUELIANG_MEDIA_RTP_PORT_MIN=str(rtp_min),
            XUELIANG_MEDIA_RTP_PORT_MAX=str(rtp_min + 99),
            XUELIANG_MEDIA_RTP_MUX_PORT="0",
            XUELIANG_MEDIA_RTP_HOST="127.0.0.1",
            XUELIANG_MEDIA_LINGER="0",
        )
        serve = [
            sys.executable, "-c", "from xueliang.cli import main; main()", "serve",
            "--data-dir", str(workdir / "data"),
            "--http-host", "127.0.0.1", "--http-port", str(self.http_port),
            "--sip-host", "127.0.0.1", "--sip-port", str(self.sip_port),
            "--sip-id", PLATFORM_ID, "--sip-password", PASSWORD,
            "--accept-unknown-devices",
        ]  # fmt: skip
        sim = [
            sys.executable, "-m", "xueliang.sim.cli", "devices",
            "--server", f"127.0.0.1:{self.sip_port}", "--server-id", PLATFORM_ID, "--password", PASSWORD,
            "--count", str(args.devices), "--channels", "1", "--prefix", PREFIX,
            "--video", "h264", "--video-size", args.video_size, "--quiet",
        ]  # fmt: skip
        self.log = workdir / "serve.log"
        with self.log.open("wb") as log:
            self.serve = subprocess.Popen(serve, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.http = httpx.Client(base_url=self.base, timeout=30.0)
        self.wait(self.healthy, 60, "the platform")
        with (workdir / "sim.log").open("wb") as log:
            self.sim = subprocess.Popen(sim, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        self.cameras: list[str] = []
        self.wait(lambda: self.cameras_ready(args.devices), 120, "the simulated cameras")

    def wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.3)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"timed out waiting for {what}; serve log tail:\n{tail}")

    def healthy(self) -> bool:
        try:
            return self.http.get("/api/v1/health").status_code == 200
        except httpx.HTTPError:
            return False

    def cameras_ready(self, count: int) -> bool:
        cameras = []
        for item in self.http.get("/api/v1/devices", params={"limit": 500}).json()["items"]:
            if item["online"]:
                channels = self.http.get(f"/api/v1/devices/{item['id']}").json().get("channels") or []
                if channels and channels[0].get("camera_id"):
                    cameras.append(str(channels[0]["camera_id"]))
        self.cameras = sorted(cameras)
        return len(cameras) >= count

    def trial(self, camera: str) -> tuple[float, float, float]:
        """(play call, play response -> first video tag, -> first video frame tag), seconds."""
        started = time.perf_counter()
        response = self.http.post(f"/api/v1/cameras/{camera}/play", json={})
        played = time.perf_counter()
        if response.status_code != 200:
            raise RuntimeError(f"play {camera}: {response.status_code} {response.text}")
        play = response.json()
        first_tag = first_frame = 0.0
        tags = FlvTags()
        with httpx.stream("GET", play["flv"], timeout=30.0) as flv:
            for chunk in flv.iter_raw():
                for tag_type, packet_type in tags.feed(chunk):
                    if tag_type == TAG_VIDEO and not first_tag:
                        first_tag = time.perf_counter()
                    if tag_type == TAG_VIDEO and packet_type == AVC_NALU:
                        first_frame = time.perf_counter()
                        break
                if first_frame:
                    break
        self.http.delete(f"/api/v1/streams/{play['stream_id']}")  # 404 when the closed connection already ended it
        self.wait(lambda: not self.live(play["stream_id"]), 30, "the stream to stop")
        return played - started, first_tag - played, first_frame - played

    def live(self, stream_id: str) -> bool:
        return any(s["stream_id"] == stream_id for s in self.http.get("/api/v1/streams").json()["items"])

    def round_trip(self) -> float:
        started = time.perf_counter()
        self.http.get("/api/v1/health")
        return time.perf_counter() - started

    def close(self) -> None:
        self.http.close()
        self.sim.terminate()
        self.serve.send_signal(signal.SIGINT)
        try:
            self.serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.serve.kill()
        self.sim.wait(timeout=10)


def run_serve(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-start-") as folder:
        platform = Platform(args, Path(folder))
        try:
            print(f"serve: {len(platform.cameras)} simulated IPCs online ({args.video_size} H.264, 1 s GOP)")
            platform.trial(platform.cameras[0])  # warm-up: the simulator encodes its loop on the first INVITE
            calls, tags, frames, totals = [], [], [], []
            for index in range(args.trials):
                call, tag, frame = platform.trial(platform.cameras[index % len(platform.cameras)])
                calls.append(call)
                tags.append(tag)
                frames.append(frame)
                totals.append(call + tag)
                time.sleep(args.gap)
            trips = [platform.round_trip() for _ in range(args.trials)]
        finally:
            platform.close()
    print(f"  play call (INVITE .. first keyframe)       {stats(calls)}")
    print(f"  play response -> first FLV video tag       {stats(tags)}")
    print(f"  play response -> first FLV video frame     {stats(frames)}")
    print(f"  play call -> first FLV video bytes         {stats(totals)}")
    print(f"  baseline: HTTP round trip, same server     {stats(trips)}")
    median_trip = statistics.median(trips)
    print(f"  ratio play-to-video / HTTP round trip      {statistics.median(totals) / median_trip:,.0f}")


# --- 2. in process ------------------------------------------------------------------------------------------------
class SenderHandle:
    def __init__(self, sender: Any) -> None:
        self.sender = sender

    async def close(self) -> None:
        await self.sender.stop()


class SenderOpener:
    """Opens the receiver on the shared port and starts a simulated camera's sender to it (the INVITE's effect)."""

    def __init__(self, video: Any, start_at_keyframe: bool) -> None:
        self.video = video
        self.start_at_keyframe = start_at_keyframe
        self.ssrc = 0x0200_0000
        self.on_receiver: Callable[[str], None] = lambda _stream_id: None

    async def open(self, source: Any, receivers: Any, ended: Any) -> SenderHandle:
        from xueliang.domain.streams import MediaTransport, ReceiverSpec
        from xueliang.sim.media_sender import MediaSender

        self.ssrc += 1
        address = await receivers.open_receiver(ReceiverSpec(source.stream_id, MediaTransport.UDP, self.ssrc))
        self.on_receiver(source.stream_id)
        sender = MediaSender(
            self.video, transport=MediaTransport.UDP, ssrc=self.ssrc, start_at_keyframe=self.start_at_keyframe
        )
        await sender.start(address.host, address.port)
        return SenderHandle(sender)


async def in_process(args: argparse.Namespace, start_at_keyframe: bool) -> dict[str, list[float]]:
    from xueliang.domain.streams import PlaySource, SourceKind
    from xueliang.media.manager import ManagerConfig
    from xueliang.media.node import MediaNode
    from xueliang.media.receivers import ReceiverConfig
    from xueliang.media.viewers import flv_stream
    from xueliang.protocol.es import AccessUnit, Codec
    from xueliang.sim.video import VideoLoop

    width, height = (int(part) for part in args.video_size.split("x"))
    video = await asyncio.to_thread(VideoLoop.shared, Codec.H264, width=width, height=height, label="xueliang sim")
    opener = SenderOpener(video, start_at_keyframe)
    node = MediaNode(
        "bench",
        ReceiverConfig(bind_host="127.0.0.1", port_min=20000, port_max=20001, mux_port=0),
        ManagerConfig(linger_s=0.0),
        {SourceKind.GB28181: opener},
        max_transcodes=0,
    )
    await node.start()
    marks: dict[str, float] = {}

    def hook_receiver(stream_id: str) -> None:
        ingest = node.receivers.ingest(stream_id)
        hub = node.manager.hub(stream_id)
        assert ingest is not None and hub is not None
        feed, push = ingest.feed, hub.push

        def first_packet(data: bytes) -> None:
            marks.setdefault("rtp", time.perf_counter())
            feed(data)

        def first_keyframe(unit: AccessUnit) -> None:
            if unit.keyframe:
                marks.setdefault("keyframe", time.perf_counter())
            push(unit)

        ingest.feed = first_packet  # type: ignore[method-assign]
        hub.push = first_keyframe  # type: ignore[method-assign]

    opener.on_receiver = hook_receiver
    result: dict[str, list[float]] = {"open": [], "gop": [], "ready": [], "flv": [], "rtp_to_flv": [], "total": []}
    try:
        for index in range(args.trials + 1):
            marks.clear()
            source = PlaySource(f"{PREFIX}132{index:07d}", SourceKind.GB28181, device_id=f"{PREFIX}132{index:07d}")
            started = time.perf_counter()
            viewing = await node.manager.acquire(source)
            ready = time.perf_counter()
            async for chunk in flv_stream(viewing.hub):
                if any(t == TAG_VIDEO and p == AVC_NALU for t, p in _tags(chunk)):
                    break
            shown = time.perf_counter()
            await node.manager.stop_stream(source.stream_id)
            if index == 0:
                continue  # warm-up
            result["open"].append(marks["rtp"] - started)
            result["gop"].append(marks["keyframe"] - marks["rtp"])
            result["ready"].append(ready - marks["keyframe"])
            result["flv"].append(shown - ready)
            result["rtp_to_flv"].append(shown - marks["rtp"])
            result["total"].append(shown - started)
            await asyncio.sleep(args.gap)
    finally:
        await node.stop()
    return result


def _tags(chunk: bytes) -> Iterator[tuple[int, int]]:
    """Tags of one whole ``flv_stream`` chunk (its tags never span chunks)."""
    offset = FLV_HEADER_SIZE if chunk[:3] == b"FLV" else 0
    while offset + TAG_HEADER_SIZE + 1 < len(chunk):
        yield chunk[offset], chunk[offset + TAG_HEADER_SIZE + 1]
        offset += TAG_HEADER_SIZE + int.from_bytes(chunk[offset + 1 : offset + 4], "big") + 4


def run_in_process(args: argparse.Namespace) -> None:
    try:
        import uvloop

        runner: Callable[[Any], dict[str, list[float]]] = uvloop.run
    except ImportError:
        runner = asyncio.run
    for start_at_keyframe in (False, True):
        result = runner(in_process(args, start_at_keyframe))
        print(f"in-process, camera starts {'on a keyframe' if start_at_keyframe else 'mid-GOP'}:")
        print(f"  acquire -> first RTP packet at the receiver   {stats(result['open'])}")
        print(f"  first RTP packet -> first keyframe in the hub {stats(result['gop'])}   (the camera's GOP)")
        print(f"  first keyframe in the hub -> acquire returns  {stats(result['ready'])}")
        print(f"  acquire returns -> first FLV video frame tag  {stats(result['flv'])}")
        print(f"  first RTP packet -> first FLV video frame tag {stats(result['rtp_to_flv'])}")
        platform = [r + f for r, f in zip(result["ready"], result["flv"], strict=True)]
        print(f"  of which the platform's own (keyframe -> FLV) {stats(platform)}")
        gop = statistics.median(result["gop"])
        if gop > 0:
            print(
                f"  ratio first RTP -> FLV / camera's keyframe wait {statistics.median(result['rtp_to_flv']) / gop:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--devices", type=int, default=4, help="simulated IPCs, played in turn")
    parser.add_argument("--video-size", default="640x360")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between trials")
    parser.add_argument("--only", choices=("serve", "inprocess"), default=None)
    args = parser.parse_args()
    print(
        f"stream start benchmark: {args.trials} trials, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.only in (None, "serve"):
        run_serve(args)
    if args.only in (None, "inprocess"):
        run_in_process(args)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
