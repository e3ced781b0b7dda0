"""Benchmark: 4 Mbit/s 25 fps PS-over-RTP streams relayed by one media process on one core, each to one FLV viewer;
and the latency the relay adds (a frame's last RTP packet sent -> its FLV tag leaving ``flv_stream``).

Three processes, each on uvloop: this one (the conductor: pipes, ``psutil`` CPU readings, the report), a **media**
process pinned to ``--media-cpu`` and a **feeder** pinned to ``--feeder-cpu`` (``os.sched_setaffinity``).

- The media process is the real relay path: a :class:`~xueliang.media.node.MediaNode` with the shared SSRC-keyed
  UDP port; each stream is started through ``node.manager.acquire`` with a bench source opener that opens the
  receiver (as the GB/T 28181 opener does before its INVITE); one FLV viewer per stream is an in-process task that
  iterates :func:`~xueliang.media.viewers.flv_stream` and discards the bytes after walking the tag headers (no HTTP:
  the figure is the relay's, not Starlette's).
- The feeder runs one :class:`~xueliang.sim.media_sender.MediaSender` per stream (distinct SSRCs, mid-GOP start) of
  ``VideoLoop.shared(H264, 640x360, bitrate=4_000_000)`` (about 4.4 Mbit/s and 410 RTP packets/s measured).
  Its ticker is set to 4 ms and the senders start spread over one frame interval, so the streams are not
  phase-locked (with the default 10 ms ticker every stream would send its frame in the same tick, a burst no real
  set of cameras makes).
- The baseline media process is a bare UDP receive loop on one socket (``datagram_received`` counts packets and
  bytes), fed by the same feeder; for latency, a bare forwarder (each packet into its stream's asyncio queue, a
  consumer task per stream takes it out and notes the time of each frame's last packet).

Capacity: for each N of ``--streams``, after ``--warmup`` s, the media process's CPU (user + system, from
``psutil``) over ``--window`` s, packets lost (sent - received over the whole step), FLV video tags per viewer per
second (25 when it keeps up) and viewer skips. Streams per core = N / CPU share at the largest N that kept up
(CPU < 95 %, loss < 0.1 %), an extrapolation that says so; the ratio is ours to the bare loop's.

Latency: the feeder notes ``time.monotonic()`` (CLOCK_MONOTONIC, shared by the processes) after each frame's last
``sendmsg``; the viewer notes it when the FLV tag of that frame is yielded (matched by timestamp: a viewer starts
before the feeder, so its FLV time 0 is the stream's first keyframe). Percentiles over the window, at
``--latency-streams`` (light and heavy).

    python bench/bench_relay.py [--streams 50,100,150,200] [--latency-streams 10,50,150] [--window 10]
    python bench/bench_relay.py --only capacity --streams 200
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed; runtime only

SSRC_BASE = 0x0100_0000
CAMERA_PREFIX = "34150200001320"  # + 6 digits: 20-digit camera IDs
FEEDER_TICK_S = 0.004
FRAME_INTERVAL_S = 0.04
KEEPS_UP_CPU = 0.95
KEEPS_UP_LOSS = 0.001
FLV_HEADER_SIZE = 13  # header + PreviousTagSize0
TAG_HEADER_SIZE = 11
TAG_VIDEO = 9
AVC_NALU = 1


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def ssrcs_for(count: int) -> list[int]:
    return [SSRC_BASE + index for index in range(count)]


async def recv(pipe: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


# --- FLV tags seen by a viewer ------------------------------------------------------------------------------------
@dataclass
class ViewerTally:
    """What one viewer received: video frame tags, bytes and (when recording) (FLV ms, monotonic time) per frame."""

    frames: int = 0
    byte_count: int = 0
    times: list[tuple[int, float]] = field(default_factory=list)

    def take(self, chunk: bytes, record: bool) -> None:
        """Walk the tag headers of one ``flv_stream`` chunk (the first one is the FLV header; tags never span)."""
        self.byte_count += len(chunk)
        offset = FLV_HEADER_SIZE if chunk[:3] == b"FLV" else 0
        now = time.monotonic() if record else 0.0
        while offset + TAG_HEADER_SIZE < len(chunk):
            size = int.from_bytes(chunk[offset + 1 : offset + 4], "big")
            if chunk[offset] == TAG_VIDEO and chunk[offset + TAG_HEADER_SIZE + 1] == AVC_NALU:
                self.frames += 1
                if record:
                    stamp = int.from_bytes(chunk[offset + 4 : offset + 7], "big") | chunk[offset + 7] << 24
                    self.times.append((stamp, now))
            offset += TAG_HEADER_SIZE + size + 4


# --- the media process: xueliang ----------------------------------------------------------------------------------
class BenchHandle:
    async def close(self) -> None:
        return None


class BenchOpener:
    """Opens the stream's receiver on the shared port, as the GB/T 28181 opener does before it INVITEs."""

    def __init__(self, ssrc_of: dict[str, int], opened: Callable[[], None]) -> None:
        self._ssrc_of = ssrc_of
        self._opened = opened

    async def open(self, source: Any, receivers: Any, ended: Any) -> BenchHandle:
        from xueliang.domain.streams import MediaTransport, ReceiverSpec

        spec = ReceiverSpec(source.stream_id, MediaTransport.UDP, self._ssrc_of[source.stream_id])
        await receivers.open_receiver(spec)
        self._opened()
        return BenchHandle()


def xueliang_media(pipe: Connection, count: int, cpu: int | None, record: bool) -> None:
    pin(cpu)
    run_loop(_xueliang_media(pipe, count, record))


async def _xueliang_media(pipe: Connection, count: int, record: bool) -> None:
    from xueliang.domain.streams import PlaySource, SourceKind
    from xueliang.media.manager import ManagerConfig
    from xueliang.media.node import MediaNode
    from xueliang.media.receivers import ReceiverConfig
    from xueliang.media.viewers import flv_stream

    sources = [
        PlaySource(f"{CAMERA_PREFIX}{index:06d}", SourceKind.GB28181, device_id=f"{CAMERA_PREFIX}{index:06d}")
        for index in range(count)
    ]
    ssrc_of = {source.stream_id: ssrc for source, ssrc in zip(sources, ssrcs_for(count), strict=True)}
    all_open = asyncio.Event()
    opened = 0

    def one_opened() -> None:
        nonlocal opened
        opened += 1
        if opened == count:
            all_open.set()

    node = MediaNode(
        "bench",
        ReceiverConfig(bind_host="127.0.0.1", port_min=20000, port_max=20001, mux_port=0),
        ManagerConfig(no_media_timeout_s=60.0),
        {SourceKind.GB28181: BenchOpener(ssrc_of, one_opened)},
        max_transcodes=0,
    )
    await node.start()
    started = time.monotonic()
    acquires = [asyncio.create_task(node.manager.acquire(source)) for source in sources]
    await asyncio.sleep(0)  # each acquire created its stream's hub
    tallies = [ViewerTally() for _ in sources]

    async def view(index: int) -> None:
        hub = node.manager.hub(sources[index].stream_id)
        assert hub is not None
        tally = tallies[index]
        async for chunk in flv_stream(hub):  # a viewer from before the first packet: FLV time 0 = first keyframe
            tally.take(chunk, record)

    viewers = [asyncio.create_task(view(index)) for index in range(count)]
    await all_open.wait()
    pipe.send(node.receivers.mux_port)
    await asyncio.gather(*acquires)
    pipe.send(round(time.monotonic() - started, 3))

    def counters() -> dict[str, Any]:
        ingests = [node.receivers.ingest(source.stream_id) for source in sources]
        hubs = [node.manager.hub(source.stream_id) for source in sources]
        return {
            "packets": sum(i.packets for i in ingests if i),
            "bytes": sum(i.bytes for i in ingests if i),
            "bad": sum(i.bad_packets for i in ingests if i) + node.receivers.bad_packets,
            "unknown_ssrc": node.receivers.unknown_ssrc,
            "units": sum(i.units for i in ingests if i),
            "frames_out": [t.frames for t in tallies],
            "bytes_out": sum(t.byte_count for t in tallies),
            "skips": sum(h.viewer_skips for h in hubs if h),
            "demux_errors": sum(i.stats().demux_errors for i in ingests if i),
        }

    while await recv(pipe) == "mark":
        pipe.send(counters())
    pipe.send([t.times for t in tallies] if record else [])
    for task in viewers:
        task.cancel()
    await node.stop()


# --- the media process: the baselines -----------------------------------------------------------------------------
def bare_media(pipe: Connection, count: int, cpu: int | None, record: bool) -> None:
    pin(cpu)
    run_loop(_bare_media(pipe, count, record))


async def _bare_media(pipe: Connection, count: int, record: bool) -> None:
    """A bare receive loop (counts) or, with ``record``, a bare forwarder (packet -> queue -> consumer task)."""
    loop = asyncio.get_running_loop()
    stats = {"packets": 0, "bytes": 0}
    queues: dict[int, asyncio.Queue[bytes]] = {ssrc: asyncio.Queue() for ssrc in ssrcs_for(count)} if record else {}
    times: dict[int, list[tuple[int, float]]] = {ssrc: [] for ssrc in queues}

    class Receive(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            stats["packets"] += 1
            stats["bytes"] += len(data)
            if record:
                queue = queues.get(int.from_bytes(data[8:12], "big"))
                if queue is not None:
                    queue.put_nowait(data)

    async def consume(ssrc: int) -> None:
        queue, out = queues[ssrc], times[ssrc]
        while True:
            data = await queue.get()
            if data[1] & 0x80:  # marker: the frame's last packet
                out.append((int.from_bytes(data[4:8], "big"), time.monotonic()))

    transport, _ = await loop.create_datagram_endpoint(Receive, local_addr=("127.0.0.1", 0))
    import socket

    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    consumers = [asyncio.create_task(consume(ssrc)) for ssrc in queues]
    pipe.send(transport.get_extra_info("sockname")[1])
    pipe.send(0.0)
    while await recv(pipe) == "mark":
        pipe.send({**stats, "frames_out": [], "bytes_out": 0, "skips": 0, "bad": 0, "unknown_ssrc": 0})
    pipe.send([times[ssrc] for ssrc in ssrcs_for(count)] if record else [])
    for task in consumers:
        task.cancel()
    transport.close()


# --- the feeder ---------------------------------------------------------------------------------------------------
def feeder(pipe: Connection, count: int, cpu: int | None, seed: int) -> None:
    pin(cpu)
    run_loop(_feeder(pipe, count, seed))


async def _feeder(pipe: Connection, count: int, seed: int) -> None:
    from xueliang.domain.streams import MediaTransport
    from xueliang.protocol.es import Codec
    from xueliang.sim import media_sender
    from xueliang.sim.media_sender import MediaSender, PreparedFrame
    from xueliang.sim.video import VideoLoop

    media_sender.TICK_SECONDS = FEEDER_TICK_S  # finer pacing: streams spread over the frame interval

    class TimedSender(MediaSender):
        """Notes (RTP timestamp, keyframe, monotonic time after the last packet's sendmsg) per frame sent."""

        record = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.frames: list[tuple[int, bool, float]] = []

        def _send_frame(self, frame: PreparedFrame, media: int, batch: list[bytes]) -> None:
            super()._send_frame(frame, media, batch)
            if self.record:
                self.frames.append(((self._rtp_base + media) % (1 << 32), frame.keyframe, time.monotonic()))

    video = await asyncio.to_thread(VideoLoop.shared, Codec.H264, bitrate=4_000_000)
    per_second = video.fps / len(video.units)
    packets = sum(len(frame.chunks) for frame in media_sender.prepared_frames(video))
    pipe.send((video.bytes_per_loop * 8 * per_second, packets * per_second))
    port, record = await recv(pipe)
    rng = random.Random(seed)
    TimedSender.record = record
    senders = [
        TimedSender(video, transport=MediaTransport.UDP, ssrc=ssrc, rng=rng) for ssrc in ssrcs_for(count)
    ]  # mid-GOP starts
    for sender in senders:
        await sender.start("127.0.0.1", port)
        await asyncio.sleep(FRAME_INTERVAL_S / count)
    pipe.send("started")

    def counters() -> dict[str, Any]:
        return {
            "sent": sum(s.packets_sent for s in senders),
            "send_errors": sum(s.send_errors for s in senders),
            "frames": sum(s.frames_sent for s in senders),
        }

    while await recv(pipe) == "mark":
        pipe.send(counters())
    for sender in senders:
        await sender.stop()
    pipe.send(counters())
    pipe.send([(s._rtp_base, s.frames) for s in senders] if record else [])


# --- the conductor ------------------------------------------------------------------------------------------------
@dataclass
class Step:
    label: str
    count: int
    seconds: float
    media_cpu: float
    feeder_cpu: float
    startup_s: float
    received: int
    sent_total: int
    received_total: int
    frames_out: list[int]
    skips: int
    bad: int
    unknown_ssrc: int
    latencies_ms: list[float]
    bitrate: float
    packet_rate: float  # RTP packets per second of one stream
    media_wait: float  # share of the window the media process's event loop waited for its CPU (runqueue)

    @property
    def loss(self) -> float:
        return max(self.sent_total - self.received_total, 0) / max(self.sent_total, 1)

    @property
    def fps_per_viewer(self) -> float:
        return statistics.median(self.frames_out) / self.seconds if self.frames_out else 0.0

    @property
    def keeps_up(self) -> bool:
        return self.media_cpu < KEEPS_UP_CPU and self.loss < KEEPS_UP_LOSS

    @property
    def per_core(self) -> float:
        """Streams one core would carry at this step's CPU cost per received packet (loss-independent)."""
        if self.media_cpu <= 0 or not self.received:
            return float("inf")
        return self.received / self.seconds / self.media_cpu / self.packet_rate

    @property
    def cost_us(self) -> float:
        """CPU microseconds of the media process per RTP packet received."""
        return self.media_cpu * self.seconds / max(self.received, 1) * 1e6


def cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def runqueue_wait(pid: int) -> float:
    """Seconds the process's main thread (its event loop) has waited on a runqueue for a CPU (Linux schedstat)."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def run_step(label: str, target: Any, count: int, args: argparse.Namespace, record: bool) -> Step:
    context = multiprocessing.get_context("spawn")
    media_pipe, media_child = context.Pipe()
    feed_pipe, feed_child = context.Pipe()
    media = context.Process(target=target, args=(media_child, count, args.media_cpu, record), daemon=True)
    feed = context.Process(target=feeder, args=(feed_child, count, args.feeder_cpu, args.seed), daemon=True)
    media.start()
    feed.start()
    try:
        bitrate, packet_rate = feed_pipe.recv()
        port = media_pipe.recv()
        feed_pipe.send((port, record))
        feed_pipe.recv()  # started
        startup_s = media_pipe.recv()
        time.sleep(args.warmup)
        media_ps, feed_ps = psutil.Process(media.pid), psutil.Process(feed.pid)
        media_pipe.send("mark")
        feed_pipe.send("mark")
        cpu0, fcpu0, wait0, t0 = cpu_of(media_ps), cpu_of(feed_ps), runqueue_wait(media.pid or 0), time.monotonic()
        first, _ = media_pipe.recv(), feed_pipe.recv()
        time.sleep(args.window)
        media_pipe.send("mark")
        feed_pipe.send("mark")
        cpu1, fcpu1, wait1, t1 = cpu_of(media_ps), cpu_of(feed_ps), runqueue_wait(media.pid or 0), time.monotonic()
        last, _ = media_pipe.recv(), feed_pipe.recv()
        feed_pipe.send("stop")
        sent = feed_pipe.recv()
        feeds = feed_pipe.recv()
        time.sleep(0.5)  # the last packets in flight
        media_pipe.send("mark")
        final = media_pipe.recv()
        media_pipe.send("stop")
        views = media_pipe.recv()
    finally:
        for process in (media, feed):
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
    seconds = t1 - t0
    frames_out = [b - a for a, b in zip(first["frames_out"], last["frames_out"], strict=True)]
    latencies = match_latencies(feeds, views, t0, t1, bare=target is bare_media) if record else []
    return Step(
        label=label,
        count=count,
        seconds=seconds,
        media_cpu=(cpu1 - cpu0) / seconds,
        feeder_cpu=(fcpu1 - fcpu0) / seconds,
        startup_s=float(startup_s),
        received=last["packets"] - first["packets"],
        sent_total=sent["sent"] - sent["send_errors"],
        received_total=final["packets"],
        frames_out=frames_out,
        skips=last["skips"],
        bad=final["bad"],
        unknown_ssrc=final["unknown_ssrc"],
        latencies_ms=latencies,
        bitrate=bitrate,
        packet_rate=packet_rate,
        media_wait=(wait1 - wait0) / seconds,
    )


def match_latencies(
    feeds: list[tuple[int, list[tuple[int, bool, float]]]],
    views: list[list[tuple[int, float]]],
    t0: float,
    t1: float,
    *,
    bare: bool,
) -> list[float]:
    """Milliseconds from a frame's last packet sent to its arrival at the viewer, for frames sent in [t0, t1].

    Bare forwarder: matched by RTP timestamp. FLV: the viewer's FLV time 0 is the stream's first keyframe sent, and
    a tag at FLV time ``ms`` is the frame ``ms * 90`` RTP ticks after it (25 fps frames are 3,600 ticks apart).
    """
    out: list[float] = []
    for (_rtp_base, frames), seen in zip(feeds, views, strict=True):
        if not frames or not seen:
            continue
        arrived: dict[int, float] = {}
        if bare:
            arrived = dict(seen)
        else:
            first_key = next((stamp for stamp, key, _ in frames if key), None)
            if first_key is None:
                continue
            for ms, when in seen:
                arrived.setdefault((first_key + ms * 90) % (1 << 32), when)
        for stamp, _key, sent_at in frames:
            arrival = arrived.get(stamp)
            if arrival is not None and t0 <= sent_at <= t1:
                out.append((arrival - sent_at) * 1000)
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def print_step(step: Step) -> None:
    print(
        f"  {step.label:<9} N={step.count:>4}  media CPU {step.media_cpu:6.1%}  feeder CPU {step.feeder_cpu:6.1%}  "
        f"rx {step.received / step.seconds:>7,.0f} pkt/s  {step.cost_us:5.1f} us/pkt  loss {step.loss:6.2%}  "
        f"CPU wait {step.media_wait:4.0%}  "
        + (f"FLV {step.fps_per_viewer:4.1f} fps/viewer (min {min(step.frames_out) / step.seconds:4.1f})  "
           f"skips {step.skips}  " if step.frames_out else "")
        + f"-> {step.per_core:,.0f} streams/core{'' if step.keeps_up else '  (NOT keeping up)'}"
    )  # fmt: skip


def print_latency(step: Step) -> None:
    values = step.latencies_ms
    if not values:
        print(f"  {step.label:<9} N={step.count:>4}  no frames matched")
        return
    print(
        f"  {step.label:<9} N={step.count:>4}  p50 {percentile(values, 0.5):6.2f} ms  "
        f"p95 {percentile(values, 0.95):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms  max {max(values):6.1f} ms  "
        f"({len(values):,} frames, media CPU {step.media_cpu:.0%}, CPU wait {step.media_wait:.0%}, "
        f"loss {step.loss:.2%})"
    )


def capacity(args: argparse.Namespace) -> None:
    print("capacity: one FLV viewer per stream; streams/core = received pkt/s / CPU share / pkt/s of one stream")
    ours: list[Step] = []
    for count in args.streams:
        ours.append(run_step("xueliang", xueliang_media, count, args, record=False))
        print_step(ours[-1])
    bare: list[Step] = []
    for count in args.baseline_streams:
        bare.append(run_step("bare UDP", bare_media, count, args, record=False))
        print_step(bare[-1])
    if not ours or not bare:
        return
    print(f"  one stream: {ours[0].bitrate / 1e6:.2f} Mbit/s, {ours[0].packet_rate:.0f} RTP packets/s, 25 fps")
    per_core = statistics.median(s.per_core for s in ours)
    bare_per_core = statistics.median(s.per_core for s in bare)
    print(
        f"  xueliang: {statistics.median(s.cost_us for s in ours):.1f} us of CPU per packet -> {per_core:,.0f} streams "
        f"per core (median over the steps)"
    )
    print(
        f"  bare UDP receive loop: {statistics.median(s.cost_us for s in bare):.1f} us per packet -> "
        f"{bare_per_core:,.0f} streams per core   ratio xueliang / bare = {per_core / bare_per_core:.2f}"
    )
    kept = [s.count for s in ours if s.keeps_up]
    print(
        f"  kept up (CPU < {KEEPS_UP_CPU:.0%}, loss < {KEEPS_UP_LOSS:.1%}) at N = {kept or 'none'}; a step with loss "
        "while CPU < 100 % waited for its CPU (CPU wait: other processes on the media core)"
    )
    limited = [s.count for s in ours + bare if s.feeder_cpu > KEEPS_UP_CPU]
    if limited:
        print(f"  the feeder used > {KEEPS_UP_CPU:.0%} of its core at N = {limited}: it was the limit there")


def latency(args: argparse.Namespace) -> None:
    print("latency: last RTP packet of a frame sent -> its FLV tag yielded by flv_stream (bare: -> out of the queue)")
    for count in args.latency_streams:
        print_latency(run_step("bare fwd", bare_media, count, args, record=True))
        print_latency(run_step("xueliang", xueliang_media, count, args, record=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    counts: Callable[[str], list[int]] = lambda text: [int(part) for part in text.split(",") if part]  # noqa: E731
    parser.add_argument("--streams", type=counts, default=counts("50,100,150,200"), help="capacity steps")
    parser.add_argument("--baseline-streams", type=counts, default=counts("100,200"), help="bare loop steps")
    parser.add_argument("--latency-streams", type=counts, default=counts("10,50,150"), help="latency loads")
    parser.add_argument("--only", choices=("capacity", "latency"), default=None)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per step")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after every stream is up")
    parser.add_argument("--media-cpu", type=int, default=1)
    parser.add_argument("--feeder-cpu", type=int, default=0)
    parser.add_argument("--seed", type=int, default=28181)
    args = parser.parse_args()
    print(
        f"relay benchmark: python {sys.version.split()[0]}, {os.cpu_count()} CPUs, media on CPU {args.media_cpu}, "
        f"feeder on CPU {args.feeder_cpu}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.only in (None, "capacity"):
        capacity(args)
    if args.only in (None, "latency"):
        latency(args)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
