"""The desensitised view (脱敏): faces, licence plates and privacy mask regions blurred out of decoded pictures.

Pure image work, no processes and no codecs, so every part is tested alone: the child process of
:mod:`xueliang.media.desensitise_worker` decodes, calls :meth:`Desensitiser.process` on each picture and encodes.

Pictures are planar YUV 4:2:0 arrays as PyAV gives them (``frame.to_ndarray()`` of a ``yuv420p`` frame: shape
``(height * 3 // 2, width)``, Y then U then V). Working on the planes saves two colour conversions per frame, and
the Y plane *is* the grey picture the detectors want.

The pipeline, per picture:

1. **Detection** on a fixed cadence (every ``detect_every``-th picture) *and* on every keyframe, on the Y plane
   downscaled to ``detect_width``: OpenCV 4 Haar cascades bundled in ``opencv-python-headless`` (frontal faces at
   every detection; profile faces of either side and plates in turn, see :class:`HaarDetector`). Detection on
   keyframes only would leave a face visible for up to a GOP. At the default 480 pixels a face must be about 53
   pixels wide in 720p (20 in the detection picture) to be found; ``detect_width`` 640 finds 40-pixel faces at
   about twice the cost.
2. **Tracking** between detections (:class:`Tracker`): each box moves with the velocity measured between its last
   two detections and grows with a margin proportional to the pictures since it was last seen; a box not
   re-detected is held for ``hold_frames`` pictures (Haar detections flicker).
3. **Blur**: each region is reduced to at most ``cells`` samples across its longer side and stretched back with
   linear interpolation: a face covers about four samples, which leaves nothing to recognise. Privacy masks
   (normalised polygons per camera) are always blurred.
4. **Fail-safe** (:class:`FailSafe`): when the worker falls behind (the picture waited longer than ``max_lag_s``
   since it reached the media node, or the mean processing time exceeds the frame interval, for ``behind_frames``
   pictures in a row) or a detection raises, the *whole* picture is blurred, and detection is skipped (the cheap
   path, so the worker catches up) until it is back on time and a fresh detection has run.

Plate detection uses ``haarcascade_russian_plate_number.xml`` (the only plate model bundled with OpenCV), run on
the grey picture and on its negative so light-on-dark plates (Chinese blue plates: white characters on blue) are
also tried. It was trained on Russian plates (dark characters on white, about 4.6:1); Chinese plates (blue 3.1:1,
yellow, green new-energy 3.8:1, two-row rear plates of lorries) are found only sometimes. A dedicated model
(``agentclpr`` with onnxruntime, about 170 ms per 720p picture) plugs in as another :class:`Detector`; until one
is in place, privacy masks over parking bays and gateways are the dependable way to hide plates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


# --- geometry ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels of the full picture."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def scaled(self, factor: float) -> Box:
        return Box(round(self.x * factor), round(self.y * factor), round(self.w * factor), round(self.h * factor))

    def grown(self, margin: float, dx: float = 0.0, dy: float = 0.0) -> Box:
        """Moved by (dx, dy) and grown by ``margin`` of its size on every side."""
        mx, my = self.w * margin, self.h * margin
        x0, y0 = self.x + dx - mx, self.y + dy - my
        return Box(math.floor(x0), math.floor(y0), math.ceil(self.w + 2 * mx), math.ceil(self.h + 2 * my))

    def clipped(self, width: int, height: int) -> Box | None:
        """The part inside a ``width`` x ``height`` picture, or None when nothing is."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def overlap(self, other: Box) -> float:
        """Intersection over the smaller area (0..1): 1 when one box holds the other."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        inter = max(0, x1 - x0) * max(0, y1 - y0)
        smaller = min(self.area, other.area)
        return inter / smaller if smaller else 0.0


@dataclass(frozen=True, slots=True)
class PrivacyMask:
    """A region of one camera's picture that is always blurred (a home's windows, a changing room's door).

    ``points`` are normalised (0..1, x then y) so the mask survives a change of resolution; three or more points
    make a polygon. :meth:`rect` builds the common rectangle.
    """

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"a privacy mask needs at least 3 points, got {len(self.points)}")
        for x, y in self.points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"privacy mask points are normalised to 0..1, got ({x}, {y})")

    @classmethod
    def rect(cls, x: float, y: float, w: float, h: float) -> PrivacyMask:
        if w <= 0 or h <= 0:
            raise ValueError(f"a privacy mask rectangle needs a positive size, got {w} x {h}")
        return cls(((x, y), (x + w, y), (x + w, y + h), (x, y + h)))

    def polygon(self, width: int, height: int) -> npt.NDArray[np.int32]:
        """The polygon in pixels of a ``width`` x ``height`` plane, for ``cv2.fillPoly``."""
        return np.array([[round(x * width), round(y * height)] for x, y in self.points], dtype=np.int32)


# --- blur ----------------------------------------------------------------------------------------------------------


def planes(picture: Image, width: int, height: int) -> tuple[Image, Image, Image]:
    """Views of the Y, U and V planes of a planar 4:2:0 picture (writes go to ``picture``)."""
    if width % 2 or height % 2 or picture.shape != (height * 3 // 2, width):
        raise ValueError(f"expected an even-sized yuv420p picture of {width}x{height}, got shape {picture.shape}")
    quarter = height // 4
    y = picture[:height]
    u = picture[height : height + quarter].reshape(height // 2, width // 2)
    v = picture[height + quarter :].reshape(height // 2, width // 2)
    return y, u, v


def _smear(region: Image, cells: int) -> None:
    """Reduce a plane region to at most ``cells`` samples across its longer side, in place."""
    h, w = region.shape
    if h < 2 or w < 2:
        return
    scale = cells / max(w, h)
    small = cv2.resize(region, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    region[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur_box(picture: Image, width: int, height: int, box: Box, cells: int) -> None:
    """Blur one rectangle of a 4:2:0 picture in place (luma and both chroma planes)."""
    clipped = box.clipped(width, height)
    if clipped is None:
        return
    y, u, v = planes(picture, width, height)
    x0, y0, x1, y1 = clipped.x, clipped.y, clipped.x + clipped.w, clipped.y + clipped.h
    _smear(y[y0:y1, x0:x1], cells)
    cx0, cy0, cx1, cy1 = x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2
    _smear(u[cy0:cy1, cx0:cx1], cells)
    _smear(v[cy0:cy1, cx0:cx1], cells)


def blur_mask(picture: Image, width: int, height: int, mask: PrivacyMask, cells: int) -> None:
    """Blur one privacy polygon in place: the bounding box is smeared, then copied back inside the polygon."""
    for plane, pw, ph in zip(
        planes(picture, width, height), (width, width // 2, width // 2), (height, height // 2, height // 2), strict=True
    ):
        polygon = mask.polygon(pw, ph)
        x0, y0 = max(0, int(polygon[:, 0].min())), max(0, int(polygon[:, 1].min()))
        x1, y1 = min(pw, int(polygon[:, 0].max()) + 1), min(ph, int(polygon[:, 1].max()) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = plane[y0:y1, x0:x1]
        smeared = region.copy()
        _smear(smeared, cells)
        inside = np.zeros(region.shape, dtype=np.uint8)
        cv2.fillPoly(inside, [polygon - np.array([x0, y0], dtype=np.int32)], 1)
        np.copyto(region, smeared, where=inside.astype(bool))


def blur_all(picture: Image, width: int, height: int, cells: int) -> None:
    """The fail-safe: the whole picture smeared to ``cells`` samples across."""
    for plane in planes(picture, width, height):
        _smear(plane, cells)


# --- detection ---------------------------------------------------------------------------------------------------


class Detector(Protocol):
    """Finds regions to blur in a grey picture; boxes are in that picture's pixels. May raise: the caller fails safe.

    ``index`` counts the detections of the stream (0, 1, 2, ...), for detectors that spread work over them.
    """

    def detect(self, grey: Image, index: int) -> list[Box]: ...


def _u8(array: npt.NDArray[np.generic]) -> Image:
    """OpenCV's stubs type every result as a generic array; ours stay 8-bit."""
    return array.astype(np.uint8, copy=False)


def _cascade(name: str) -> cv2.CascadeClassifier:
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
    if classifier.empty():
        raise RuntimeError(f"OpenCV Haar cascade {name} did not load (is opencv-python-headless 4.x installed?)")
    return classifier


@dataclass(frozen=True, slots=True)
class HaarSettings:
    """What :class:`HaarDetector` looks for and how hard (``min_face`` and ``min_plate`` in detection pixels)."""

    faces: bool = True
    profiles: bool = True
    plates: bool = True
    scale_factor: float = 1.15
    min_neighbours: int = 3
    min_face: int = 20
    min_plate: tuple[int, int] = (36, 10)


class HaarDetector:
    """Faces and plates with the Haar cascades bundled in OpenCV 4 (OpenCV 5 dropped them: pinned ``<5``).

    Frontal faces are looked for at every detection. The other searches cost as much again each (measured on 480x270:
    frontal 28-43 ms, profile 54-59 ms, plates on the picture and its negative 14-20 ms), so each detection adds one
    of them in turn: profile faces turned left, turned right (the cascade knows one side: the mirror image finds
    the other), plates. With detection every 3rd picture each is searched every 9th (0.36 s at 25 fps); the
    tracker holds boxes longer than that. ``min_neighbours`` is low on purpose: a false detection costs a blurred
    patch, a missed one a visible face.
    """

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        self._front = _cascade("haarcascade_frontalface_default.xml") if self.settings.faces else None
        self._profile = _cascade("haarcascade_profileface.xml") if self.settings.profiles else None
        self._plate = _cascade("haarcascade_russian_plate_number.xml") if self.settings.plates else None

    def _run(self, cascade: cv2.CascadeClassifier, grey: Image, min_size: tuple[int, int]) -> list[Box]:
        found = cascade.detectMultiScale(
            grey, scaleFactor=self.settings.scale_factor, minNeighbors=self.settings.min_neighbours, minSize=min_size
        )
        return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]

    def detect(self, grey: Image, index: int) -> list[Box]:
        # No histogram equalisation: on a dark scene it stretches the noise and squeezes the faces (measured: the
        # astronaut on the Hubble field went from 30/30 detections to 0/30), and it costs time.
        face = (self.settings.min_face, self.settings.min_face)
        boxes: list[Box] = []
        if self._front is not None:
            boxes += self._run(self._front, grey, face)
        extra = [
            kind
            for kind, on in (("profile", self._profile), ("mirrored", self._profile), ("plates", self._plate))
            if on is not None
        ]
        kind = extra[index % len(extra)] if extra else None
        if kind == "profile" and self._profile is not None:
            boxes += self._run(self._profile, grey, face)
        elif kind == "mirrored" and self._profile is not None:
            width = grey.shape[1]
            mirrored = self._run(self._profile, np.ascontiguousarray(grey[:, ::-1]), face)
            boxes += [Box(width - b.x - b.w, b.y, b.w, b.h) for b in mirrored]
        elif kind == "plates" and self._plate is not None:
            boxes += self._run(self._plate, grey, self.settings.min_plate)
            boxes += self._run(self._plate, _u8(cv2.bitwise_not(grey)), self.settings.min_plate)
        return boxes


# --- tracking ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Track:
    box: Box
    seen_at: int
    vx: float = 0.0
    vy: float = 0.0


class Tracker:
    """Boxes between detections: constant velocity plus a margin that grows with the pictures since last seen.

    ``margin`` is the margin at detection time and ``growth`` what it gains per picture (fractions of the box's
    size); a track not matched by a detection for ``hold_frames`` pictures is dropped.
    """

    def __init__(self, margin: float, growth: float, hold_frames: int) -> None:
        self.margin = margin
        self.growth = growth
        self.hold_frames = hold_frames
        self.tracks: list[Track] = []

    def _predicted(self, track: Track, index: int) -> Box:
        age = index - track.seen_at
        return track.box.grown(0.0, track.vx * age, track.vy * age)

    def update(self, detections: Sequence[Box], index: int) -> None:
        """Take a detection's boxes: match each to the track it overlaps most, start tracks for the rest."""
        free = list(self.tracks)
        kept: list[Track] = []
        for box in detections:
            best, best_overlap = None, 0.2
            for track in free:
                overlap = self._predicted(track, index).grown(0.5).overlap(box)
                if overlap > best_overlap:
                    best, best_overlap = track, overlap
            if best is None:
                kept.append(Track(box, index))
                continue
            free.remove(best)
            age = max(1, index - best.seen_at)
            (ox, oy), (nx, ny) = best.box.centre, box.centre
            kept.append(Track(box, index, (nx - ox) / age, (ny - oy) / age))
        kept += [track for track in free if index - track.seen_at <= self.hold_frames]
        self.tracks = kept

    def expire(self, index: int) -> None:
        self.tracks = [track for track in self.tracks if index - track.seen_at <= self.hold_frames]

    def boxes(self, index: int) -> list[Box]:
        """Where to blur at picture ``index``."""
        out = []
        for track in self.tracks:
            age = index - track.seen_at
            out.append(track.box.grown(self.margin + self.growth * age, track.vx * age, track.vy * age))
        return out

    def clear(self) -> None:
        self.tracks = []


# --- fail-safe ---------------------------------------------------------------------------------------------------


class FailSafe:
    """Decides when the whole picture must be blurred because the per-region blur cannot be trusted.

    Behind: for ``behind_frames`` pictures in a row, a picture waited more than ``max_lag_s`` since it reached the
    media node, or the mean processing time (exponential, over about ``window`` pictures, so the periodic slow
    detection picture does not count alone) exceeded the frame interval. Back on time: lag under half the limit
    and the mean under the interval. A detection that raises trips it until a detection succeeds.
    """

    def __init__(self, behind_frames: int, max_lag_s: float, window: int) -> None:
        self.behind_frames = behind_frames
        self.max_lag_s = max_lag_s
        self._alpha = 2 / (window + 1)
        self.mean_processing_s = 0.0
        self._late = 0
        self.behind = False
        self.detection_failed = False
        self.trips = 0

    @property
    def active(self) -> bool:
        return self.behind or self.detection_failed

    def observe(self, interval_s: float, lag_s: float) -> None:
        """Before a picture: how late it is (``lag_s``) and the stream's frame interval. Late pictures blur at once."""
        slow = self.mean_processing_s > interval_s
        late = lag_s > self.max_lag_s or slow
        self._late = self._late + 1 if late else 0
        if not self.behind and self._late >= self.behind_frames:
            self.behind = True
            self.trips += 1
        elif self.behind and lag_s < self.max_lag_s / 2 and not slow:
            self.behind = False

    def took(self, processing_s: float) -> None:
        """After a picture: what it cost."""
        self.mean_processing_s += self._alpha * (processing_s - self.mean_processing_s)

    def detection(self, ok: bool) -> None:
        if not ok and not self.detection_failed:
            self.trips += 1
        self.detection_failed = not ok


# --- the pipeline ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesensitiseConfig:
    """Tuning of the desensitised view. Privacy first: the defaults found every face of the moving-face clips; on the
    2-core development machine they gave 20 pictures per CPU-second at 720p (bench/bench_desensitise.py), and
    ``haar.scale_factor`` 1.2 gave 25.6 at a recall of 0.94 on the fastest clip (a face at 400 px/s).
    """

    detect_every: int = 3
    detect_width: int = 480
    margin: float = 0.25
    growth: float = 0.12
    hold_frames: int = 9
    cells: int = 5
    mask_cells: int = 8
    full_frame_cells: int = 16
    behind_frames: int = 3
    max_lag_s: float = 0.5
    haar: HaarSettings = field(default_factory=HaarSettings)

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {self.detect_every}")
        if self.detect_width < 64:
            raise ValueError(f"detect_width must be at least 64 pixels, got {self.detect_width}")
        if min(self.cells, self.mask_cells, self.full_frame_cells) < 1:
            raise ValueError("blur cells must be at least 1")


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What was done to one picture (for tests, stats and the benchmark)."""

    index: int
    detected: bool
    boxes: tuple[Box, ...]
    full_frame: bool


class Desensitiser:
    """One stream's pipeline state: cadence, tracks, fail-safe. Feed it every decoded picture in order."""

    def __init__(
        self,
        config: DesensitiseConfig | None = None,
        masks: Sequence[PrivacyMask] = (),
        detector: Detector | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config or DesensitiseConfig()
        self.masks = tuple(masks)
        self.detector: Detector = detector or HaarDetector(self.config.haar)
        self._clock = clock
        self.tracker = Tracker(self.config.margin, self.config.growth, self.config.hold_frames)
        self.fail_safe = FailSafe(self.config.behind_frames, self.config.max_lag_s, self.config.detect_every * 2)
        self.index = -1
        self._last_detection = -(10**9)
        self._need_detection = True
        self.detections = 0

    def _detect(self, luma: Image, width: int, height: int) -> None:
        scale = min(1.0, self.config.detect_width / width)
        size = (round(width * scale), round(height * scale))
        grey = luma if scale == 1.0 else _u8(cv2.resize(luma, size, interpolation=cv2.INTER_AREA))
        try:
            found = self.detector.detect(grey, self.detections)
        except Exception:  # any detector failure must blur, never crash or pass the picture through
            self.fail_safe.detection(False)
            self.tracker.clear()
            return
        finally:
            self.detections += 1
        self.fail_safe.detection(True)
        self.tracker.update([box.scaled(1 / scale) for box in found], self.index)
        self._last_detection = self.index
        self._need_detection = False

    def process(
        self, picture: Image, width: int, height: int, *, keyframe: bool, interval_s: float, lag_s: float = 0.0
    ) -> FrameResult:
        """Blur one yuv420p picture in place and say how."""
        started = self._clock()
        self.index += 1
        luma = planes(picture, width, height)[0]
        self.fail_safe.observe(interval_s, lag_s)
        detected = False
        if not self.fail_safe.behind:
            due = keyframe or self._need_detection or self.index - self._last_detection >= self.config.detect_every
            if due or self.fail_safe.detection_failed:
                self._detect(luma, width, height)
                detected = True
        else:
            self._need_detection = True  # tracks are stale once the worker is back: detect before trusting them
        self.tracker.expire(self.index)
        full = self.fail_safe.active or self._need_detection
        boxes: tuple[Box, ...] = ()
        if full:
            blur_all(picture, width, height, self.config.full_frame_cells)
        else:
            boxes = tuple(b for b in (box.clipped(width, height) for box in self.tracker.boxes(self.index)) if b)
            for box in boxes:
                blur_box(picture, width, height, box, self.config.cells)
            for mask in self.masks:
                blur_mask(picture, width, height, mask, self.config.mask_cells)
        self.fail_safe.took(self._clock() - started)
        return FrameResult(self.index, detected, boxes, full)
