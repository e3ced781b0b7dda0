"""Real encoded video for simulated cameras: a short loop encoded once with PyAV and sent again and again.

Each frame shows moving colour bars, a bouncing box and some noise (so consecutive frames differ and the encoder
has something to spend its bits on), the label (a channel name, Chinese if a CJK font is installed) and a running
clock. **The clock is the time within the loop** (``mm:ss.cc`` and the frame number), not wall time: a loop is
encoded once and repeated, so any wall time burnt in would jump back every loop; the loop time says plainly
where in the loop a viewer is, which is what tests and the demo need.

Cost: encoding is CPU-bound, roughly 5-20 ms a frame at 640x360 with ``ultrafast`` (x265 several times x264's),
so a 4 s 25 fps loop takes about 0.5 s (H.264) to 2 s (H.265) of one core, and holds ``bitrate * seconds / 8``
bytes (500 KB at 1 Mbit/s). :meth:`VideoLoop.shared` caches loops per parameter set for the life of the process;
the simulator should use one loop per codec (with a per-device label at most), not one per channel. Building
releases the GIL in the encoder, so ``await asyncio.to_thread(VideoLoop.shared, ...)`` keeps an event loop
responsive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec
from xueliang.protocol.h26x import is_keyframe

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
ENCODERS = {Codec.H264: "libx264", Codec.H265: "libx265"}
BOX_SIZE = 0.2  # of the frame height
NOISE_ROWS = 0.15  # of the frame height: a band of noise at the bottom that keeps the bitrate near the target


@dataclass(frozen=True, slots=True)
class LoopKey:
    codec: Codec
    width: int
    height: int
    fps: int
    seconds: int
    label: str
    bitrate: int
    gop: int


@dataclass(eq=False)
class VideoLoop:
    """One loop of encoded video: ``units`` are Annex B access units with 90 kHz timestamps from 0, a keyframe
    (with its parameter sets) every ``gop`` frames starting with the first; ``duration_ticks`` is the loop length,
    so the next loop's frame ``i`` is at ``duration_ticks + units[i].pts``."""

    codec: Codec
    width: int
    height: int
    fps: int
    gop: int
    label: str
    units: list[AccessUnit] = field(repr=False)

    _cache: ClassVar[dict[LoopKey, VideoLoop]] = {}
    _locks: ClassVar[dict[LoopKey, threading.Lock]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    @property
    def duration_ticks(self) -> int:
        return len(self.units) * CLOCK_RATE // self.fps

    @property
    def bytes_per_loop(self) -> int:
        return sum(len(unit.data) for unit in self.units)

    @classmethod
    def build(
        cls,
        codec: Codec,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 25,
        seconds: int = 4,
        label: str = "",
        bitrate: int = 1_000_000,
        gop: int | None = None,
    ) -> VideoLoop:
        """Encode a loop (CPU-heavy, see the module docstring). ``gop`` defaults to one second of frames."""
        if codec not in ENCODERS:
            raise ValueError(f"no encoder for {codec}")
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"frame size must be even and at least 64x64, got {width}x{height}")
        if fps < 1 or seconds < 1 or CLOCK_RATE % fps:
            raise ValueError(f"fps must divide 90000 and seconds be positive, got fps={fps} seconds={seconds}")
        gop = gop or fps
        frames = fps * seconds
        encoder = _encoder(codec, width, height, fps, gop, bitrate)
        painter = _Painter(width, height, label)
        units: list[AccessUnit] = []
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(painter.paint(index, frames, fps), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            frame.pict_type = av.video.frame.PictureType.I if index % gop == 0 else av.video.frame.PictureType.NONE
            units.extend(_units(codec, encoder.encode(frame), fps))
        units.extend(_units(codec, encoder.encode(None), fps))
        if len(units) != frames:
            raise RuntimeError(f"{ENCODERS[codec]} returned {len(units)} packets for {frames} frames")
        return cls(codec=codec, width=width, height=height, fps=fps, gop=gop, label=label, units=units)

    @classmethod
    def shared(
        cls,
        codec: Codec,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 25,
        seconds: int = 4,
        label: str = "",
        bitrate: int = 1_000_000,
        gop: int | None = None,
    ) -> VideoLoop:
        """The loop for these parameters, built on first use and kept for the process (thread-safe: concurrent
        callers for the same parameters wait for one build)."""
        key = LoopKey(codec, width, height, fps, seconds, label, bitrate, gop or fps)
        with cls._cache_lock:
            cached = cls._cache.get(key)
            if cached is not None:
                return cached
            lock = cls._locks.setdefault(key, threading.Lock())
        with lock:
            cached = cls._cache.get(key)
            if cached is None:
                cached = cls.build(
                    codec, width=width, height=height, fps=fps, seconds=seconds, label=label, bitrate=bitrate, gop=gop
                )
                with cls._cache_lock:
                    cls._cache[key] = cached
            return cached


def _encoder(codec: Codec, width: int, height: int, fps: int, gop: int, bitrate: int) -> Any:
    """An encoder writing Annex B with parameter sets before every keyframe, no B-frames, fixed GOP."""
    context: Any = av.CodecContext.create(ENCODERS[codec], "w")
    context.width = width
    context.height = height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, fps)
    context.framerate = Fraction(fps, 1)
    context.bit_rate = bitrate
    context.gop_size = gop
    context.max_b_frames = 0
    kbit = max(bitrate // 1000, 1)
    common = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:vbv-maxrate={kbit}:vbv-bufsize={kbit}"
    if codec is Codec.H264:
        context.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": f"{common}:repeat-headers=1"}
    else:
        params = f"{common}:open-gop=0:repeat-headers=1:log-level=error:info=0"
        context.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": params}
    context.open()
    return context


def _units(codec: Codec, packets: list[Any], fps: int) -> list[AccessUnit]:
    units = []
    for packet in packets:
        data = bytes(packet)
        pts = int(packet.pts) * CLOCK_RATE // fps
        units.append(AccessUnit(codec, pts, pts, data, is_keyframe(codec, data)))
    return units


class _Painter:
    """Draws frame ``index``: moving bars, a bouncing box, a noise band, the label and the loop clock."""

    def __init__(self, width: int, height: int, label: str) -> None:
        self.width = width
        self.height = height
        self.label = label
        self._rng = np.random.default_rng(28181)
        x = np.arange(width * 2)
        bars = np.stack([(x * 255 // (width * 2)), 255 - (x * 255 // (width * 2)), (x * 7) % 256], axis=1)
        self._bars = np.ascontiguousarray(np.broadcast_to(bars[None, :, :], (height, width * 2, 3)).astype(np.uint8))
        self._font, self._text = _font(label, max(height // 12, 12))

    def paint(self, index: int, frames: int, fps: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
        shift = (index * 4) % self.width
        image = self._bars[:, shift : shift + self.width].copy()
        box = int(self.height * BOX_SIZE)
        span_x, span_y = self.width - box, self.height - box
        x = abs((index * 9) % (2 * span_x) - span_x)
        y = abs((index * 5) % (2 * span_y) - span_y)
        image[y : y + box, x : x + box] = (255, 255, 255)
        rows = int(self.height * NOISE_ROWS)
        image[self.height - rows :] = self._rng.integers(0, 256, (rows, self.width, 3), dtype=np.uint8)
        picture = Image.fromarray(image)
        draw = ImageDraw.Draw(picture)
        centis = index * 100 // fps
        clock = f"{centis // 6000:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}  {index + 1}/{frames}"
        margin = max(self.height // 40, 4)
        line = self._font.size + margin if isinstance(self._font, ImageFont.FreeTypeFont) else 14
        for row, text in enumerate((self._text, clock)):
            if text:
                position = (margin, margin + row * line)
                draw.text(position, text, font=self._font, fill=(255, 255, 0), stroke_width=1, stroke_fill=(0, 0, 0))
        return np.asarray(picture)


def _font(label: str, size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, str]:
    """A CJK font when one is installed, else Pillow's default with the label reduced to ASCII."""
    for path in CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size), label
    ascii_label = label.encode("ascii", "replace").decode("ascii")
    try:
        return ImageFont.load_default(size), ascii_label
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default(), ascii_label
