"""A stage in a child process between two hubs: the H.265 -> H.264 transcoder and the desensitised (masked) view.

The stage reads the source hub like any viewer, hands units to a child process through a pipe, and pushes the H.264
units that come back into the target hub (the variant's own hub, shared by every viewer of the variant). Pipe I/O
runs in two threads, never in the event loop; the feed is bounded: a stage that cannot keep up skips to the next
keyframe, like a slow viewer. Subclasses say which child to run (:meth:`ChildStage.child`) and what of each unit
it gets (:meth:`ChildStage.item`).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from xueliang.media.hub import HubViewer, StreamHub
from xueliang.protocol.es import AccessUnit, Codec

#: Units waiting for the child before the feed skips to the next keyframe.
FEED_QUEUE_UNITS = 64
#: Seconds the child gets to exit before it is terminated.
STOP_TIMEOUT_S = 2.0


class ChildStage:
    """source hub -> child process -> target hub. ``name`` names the process and the stop reason."""

    name = "stage"

    def __init__(self, source: StreamHub, target: StreamHub) -> None:
        self.source = source
        self.target = target
        self._feed: queue.Queue[tuple[Any, ...] | None] = queue.Queue(FEED_QUEUE_UNITS)
        self._viewer: HubViewer | None = None
        self._task: asyncio.Task[None] | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._threads: list[threading.Thread] = []
        self.skips = 0

    def child(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        """The child's entry point and its arguments after the two pipe ends."""
        raise NotImplementedError

    def item(self, unit: AccessUnit) -> tuple[Any, ...] | None:
        """What the child gets of ``unit`` (pickled through the pipe), or None to leave the unit out."""
        raise NotImplementedError

    async def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        child_in, parent_out = context.Pipe(duplex=False)
        parent_in, child_out = context.Pipe(duplex=False)
        target, args = self.child()
        process = context.Process(
            target=target,
            args=(child_in, child_out, *args),
            name=f"{self.name}-{self.source.stream_id}",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        child_in.close()
        child_out.close()
        self._process = process
        loop = asyncio.get_running_loop()
        self._threads = [
            threading.Thread(target=self._write, args=(parent_out,), daemon=True),
            threading.Thread(target=self._read, args=(parent_in, loop), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._viewer = self.source.add_viewer()
        self._task = asyncio.create_task(self._pump(self._viewer))

    async def _pump(self, viewer: HubViewer) -> None:
        waiting_keyframe = False
        while (unit := await viewer.get()) is not None:
            if waiting_keyframe and not unit.keyframe:
                continue
            item = self.item(unit)
            if item is None:
                continue
            try:
                self._feed.put_nowait(item)
                waiting_keyframe = False
            except queue.Full:
                self.skips += 1
                waiting_keyframe = True
        self.target.end(viewer.ended_reason or "source ended")

    def _write(self, connection: Connection) -> None:
        while True:
            item = self._feed.get()
            try:
                connection.send(item)
            except (BrokenPipeError, OSError):
                break
            if item is None:
                break
        connection.close()

    def _read(self, connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                pts, dts, data, keyframe = connection.recv()
            except (EOFError, OSError):
                break
            unit = AccessUnit(Codec.H264, pts, dts, data, keyframe)
            with contextlib.suppress(RuntimeError):  # the loop closed under us at shutdown
                loop.call_soon_threadsafe(self.target.push, unit)
        connection.close()

    async def stop(self) -> None:
        reason = f"{self.name} stopped"
        if self._viewer is not None:
            self._viewer.close(reason)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.target.end(reason)
        while True:  # drain a full queue so the stop marker gets through
            try:
                self._feed.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._feed.get_nowait()
        process = self._process
        if process is not None:
            await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)
