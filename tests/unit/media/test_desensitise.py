"""The desensitised view's image pipeline on real photographs (scikit-image's astronaut, faces from LFW).

Pictures are built as RGB, converted to planar I420 exactly as PyAV lays out ``yuv420p``, and fed to the pure
pipeline: no codec here, so "the rest did not change" is checked exactly. The re-encoded path is in
tests/integration/media/test_masked_stream.py.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import skimage.data

from xueliang.media.desensitise import (
    Box,
    DesensitiseConfig,
    Desensitiser,
    FailSafe,
    HaarDetector,
    Image,
    PrivacyMask,
    Tracker,
    blur_box,
    planes,
)

W, H = 1280, 720
#: The astronaut's face in skimage.data.astronaut() (512x512), labelled by hand: brows to chin, ear to ear.
ASTRONAUT_FACE = Box(180, 70, 90, 92)


def background() -> Image:
    """A textured real photograph filling 720p (no faces: the Hubble deep field)."""
    return cv2.resize(skimage.data.hubble_deep_field(), (W, H), interpolation=cv2.INTER_AREA)


def i420(rgb: Image) -> Image:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def place(canvas: Image, photo: Image, x: int, y: int) -> None:
    canvas[y : y + photo.shape[0], x : x + photo.shape[1]] = photo


def astronaut_head() -> Image:
    """The astronaut's head and shoulders (256x256 crop); the face sits at ASTRONAUT_FACE within it."""
    return skimage.data.astronaut()[:256, 96:352]


HEAD_FACE = Box(ASTRONAUT_FACE.x - 96, ASTRONAUT_FACE.y, ASTRONAUT_FACE.w, ASTRONAUT_FACE.h)


def lfw_face(index: int, size: int = 110) -> Image:
    """A face of the LFW subset (25x25 grey, tightly cropped), enlarged and set in a grey border as in a street."""
    face = cv2.resize((skimage.data.lfw_subset()[index] * 255).astype(np.uint8), (size, size))
    framed = np.full((size * 2, size * 2), 128, np.uint8)
    framed[size // 2 : size // 2 + size, size // 2 : size // 2 + size] = face
    return cv2.cvtColor(framed, cv2.COLOR_GRAY2RGB)


def sharpness(luma: Image, box: Box) -> float:
    """Variance of the Laplacian inside a box: high for a face, near zero once smeared."""
    region = luma[box.y : box.y + box.h, box.x : box.x + box.w]
    return float(cv2.Laplacian(region, cv2.CV_64F).var())


def covered(box: Box, blurred: tuple[Box, ...], full_frame: bool) -> bool:
    """Whether at least 95 % of ``box`` lies in the blurred regions."""
    if full_frame:
        return True
    inside = np.zeros((H, W), bool)
    for b in blurred:
        inside[b.y : b.y + b.h, b.x : b.x + b.w] = True
    return bool(inside[box.y : box.y + box.h, box.x : box.x + box.w].mean() >= 0.95)


def outside_mask(blurred: tuple[Box, ...]) -> np.ndarray:
    keep = np.ones((H, W), bool)
    for b in blurred:
        keep[b.y : b.y + b.h, b.x : b.x + b.w] = False
    return keep


@pytest.fixture(scope="module")
def detector() -> HaarDetector:
    return HaarDetector()


# --- one picture ---------------------------------------------------------------------------------------------------


def test_face_in_a_photograph_is_blurred_and_the_rest_is_untouched(detector: HaarDetector) -> None:
    rgb = background()
    place(rgb, skimage.data.astronaut(), 300, 100)
    face = Box(300 + ASTRONAUT_FACE.x, 100 + ASTRONAUT_FACE.y, ASTRONAUT_FACE.w, ASTRONAUT_FACE.h)
    original = i420(rgb)
    picture = original.copy()
    result = Desensitiser(detector=detector, clock=lambda: 0.0).process(picture, W, H, keyframe=True, interval_s=0.04)
    assert result.detected and not result.full_frame
    assert covered(face, result.boxes, False)
    before, after = planes(original, W, H)[0], planes(picture, W, H)[0]
    assert sharpness(after, face) < 0.05 * sharpness(before, face)
    assert (
        np.abs(
            after[face.y : face.y + face.h, face.x : face.x + face.w].astype(int)
            - before[face.y : face.y + face.h, face.x : face.x + face.w]
        ).mean()
        > 8
    )
    keep = outside_mask(result.boxes)
    assert keep.mean() > 0.9  # only the face (and whatever else was found) is blurred, not the picture
    assert np.array_equal(after[keep], before[keep])


def test_several_faces_are_all_blurred(detector: HaarDetector) -> None:
    rgb = background()
    place(rgb, astronaut_head(), 60, 300)
    faces = [Box(60 + HEAD_FACE.x, 300 + HEAD_FACE.y, HEAD_FACE.w, HEAD_FACE.h)]
    for slot, index in enumerate((0, 7, 21)):
        x, y = 420 + slot * 270, 200 + (slot % 2) * 180
        place(rgb, lfw_face(index), x, y)
        faces.append(Box(x + 55 + 15, y + 55 + 15, 80, 80))  # the face of the enlarged crop, inner part
    picture = i420(rgb)
    result = Desensitiser(detector=detector, clock=lambda: 0.0).process(picture, W, H, keyframe=True, interval_s=0.04)
    assert all(covered(face, result.boxes, result.full_frame) for face in faces), result.boxes


def test_blur_reaches_chroma_and_is_strong() -> None:
    rgb = background()
    place(rgb, skimage.data.astronaut(), 0, 0)
    picture = i420(rgb)
    face = Box(*(int(v) for v in (ASTRONAUT_FACE.x, ASTRONAUT_FACE.y, ASTRONAUT_FACE.w, ASTRONAUT_FACE.h)))
    blur_box(picture, W, H, face, cells=5)
    y, u, _ = planes(picture, W, H)
    region = y[face.y : face.y + face.h, face.x : face.x + face.w]
    # Five samples across: neighbouring pixels differ by a few levels at most, no edge of an eye or a mouth left.
    assert np.abs(np.diff(region.astype(int), axis=1)).max() <= 12
    chroma = u[face.y // 2 : (face.y + face.h) // 2, face.x // 2 : (face.x + face.w) // 2]
    assert np.abs(np.diff(chroma.astype(int), axis=0)).max() <= 12


# --- a moving face: recall ----------------------------------------------------------------------------------------


def test_moving_face_recall_with_tracking_between_detections(detector: HaarDetector) -> None:
    """A face crossing the picture at 10 px per picture (250 px/s at 25 fps), detection every 3rd picture."""
    base = background()
    head = astronaut_head()
    pipeline = Desensitiser(DesensitiseConfig(detect_every=3), detector=detector, clock=lambda: 0.0)
    frames, hits, detections = 90, 0, 0
    for index in range(frames):
        x, y = 40 + index * 10, 200 + round(60 * np.sin(index / 15))
        rgb = base.copy()
        place(rgb, head, x, y)
        face = Box(x + HEAD_FACE.x, y + HEAD_FACE.y, HEAD_FACE.w, HEAD_FACE.h)
        picture = i420(rgb)
        result = pipeline.process(picture, W, H, keyframe=index % 50 == 0, interval_s=0.04)
        detections += result.detected
        hit = covered(face, result.boxes, result.full_frame)
        hits += hit
        if hit:
            assert sharpness(planes(picture, W, H)[0], face) < 20
    recall = hits / frames
    print(f"moving-face recall {recall:.3f} over {frames} pictures, {detections} detections")
    assert detections == 31  # every 3rd picture, plus the keyframe at 50 (which restarts the cadence)
    assert recall >= 0.95


# --- masks ---------------------------------------------------------------------------------------------------------


class NoDetector:
    def detect(self, grey: Image, index: int) -> list[Box]:
        return []


def test_privacy_masks_are_always_blurred_and_nothing_else() -> None:
    rgb = background()
    original = i420(rgb)
    rect = PrivacyMask.rect(0.5, 0.5, 0.25, 0.25)
    triangle = PrivacyMask(((0.0, 0.0), (0.3, 0.0), (0.0, 0.3)))
    pipeline = Desensitiser(masks=[rect, triangle], detector=NoDetector())
    for index in range(4):  # detection pictures and tracked pictures alike
        picture = original.copy()
        result = pipeline.process(picture, W, H, keyframe=index == 0, interval_s=0.04)
        assert not result.full_frame and result.boxes == ()
        before, after = planes(original, W, H)[0], planes(picture, W, H)[0]
        inside = np.zeros((H, W), np.uint8)
        cv2.fillPoly(inside, [rect.polygon(W, H), triangle.polygon(W, H)], 1)
        changed = after != before
        assert changed[inside == 0].sum() == 0  # outside the polygons nothing moved, even in their bounding boxes
        box = Box(640 + 20, 360 + 20, 280, 140)
        assert sharpness(after, box) < 0.05 * sharpness(before, box)
        assert sharpness(after, Box(5, 5, 100, 100)) < 0.05 * sharpness(before, Box(5, 5, 100, 100))


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (((0.0, 0.0), (1.0, 1.0)), "at least 3 points"),
        (((0.0, 0.0), (1.2, 0.0), (0.0, 1.0)), "normalised"),
    ],
)
def test_bad_privacy_masks_are_refused(points: tuple[tuple[float, float], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrivacyMask(points)


def test_bad_rectangle_and_config_and_picture_are_refused() -> None:
    with pytest.raises(ValueError, match="positive size"):
        PrivacyMask.rect(0.1, 0.1, 0.0, 0.2)
    with pytest.raises(ValueError, match="detect_every"):
        DesensitiseConfig(detect_every=0)
    with pytest.raises(ValueError, match="yuv420p"):
        planes(np.zeros((720, 1280), np.uint8), W, H)


# --- cadence, tracking, fail-safe ---------------------------------------------------------------------------------


class Recorder:
    def __init__(self, boxes: list[Box] | None = None, fail_at: frozenset[int] = frozenset()) -> None:
        self.calls: list[int] = []
        self.boxes = boxes or []
        self.fail_at = fail_at

    def detect(self, grey: Image, index: int) -> list[Box]:
        self.calls.append(index)
        if len(self.calls) - 1 in self.fail_at:
            raise RuntimeError("detector broke")
        return list(self.boxes)


def flat() -> Image:
    return i420(background())


def test_detection_runs_on_the_cadence_and_on_keyframes() -> None:
    recorder = Recorder()
    pipeline = Desensitiser(DesensitiseConfig(detect_every=3), detector=recorder)
    detected = [pipeline.process(flat(), W, H, keyframe=i == 4, interval_s=0.04).detected for i in range(10)]
    assert [i for i, d in enumerate(detected) if d] == [0, 3, 4, 7]


def test_tracker_follows_velocity_and_grows_its_margin() -> None:
    tracker = Tracker(margin=0.0, growth=0.1, hold_frames=6)
    tracker.update([Box(100, 100, 50, 50)], 0)
    tracker.update([Box(130, 100, 50, 50)], 3)  # 10 px per picture to the right
    (box,) = tracker.boxes(5)
    assert box.centre[0] == pytest.approx(175, abs=1)
    assert box.w == pytest.approx(70, abs=1)  # 2 pictures since seen: 10 % per side each
    assert tracker.boxes(10) != []
    tracker.expire(10)
    assert tracker.boxes(10) == []


def test_a_missed_detection_keeps_the_box_for_the_hold_time() -> None:
    tracker = Tracker(margin=0.2, growth=0.05, hold_frames=9)
    tracker.update([Box(100, 100, 50, 50)], 0)
    tracker.update([], 3)
    tracker.update([], 6)
    assert len(tracker.boxes(8)) == 1
    tracker.update([], 12)
    assert tracker.boxes(12) == []


def test_fail_safe_blurs_everything_while_behind_and_detects_before_trusting_tracks() -> None:
    recorder = Recorder([Box(10, 10, 40, 40)])
    pipeline = Desensitiser(DesensitiseConfig(behind_frames=3, max_lag_s=0.5), detector=recorder)
    lags = [0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1]
    results = []
    for lag in lags:
        original = flat()
        picture = original.copy()
        results.append(pipeline.process(picture, W, H, keyframe=False, interval_s=0.04, lag_s=lag))
        if results[-1].full_frame:
            whole = Box(0, 0, W, H)
            assert sharpness(planes(picture, W, H)[0], whole) < 0.05 * sharpness(planes(original, W, H)[0], whole)
    full = [r.full_frame for r in results]
    assert full == [False, False, False, False, True, True, True, False, False]
    # While behind nothing is detected (the cheap path lets the worker catch up); back on time it detects first.
    assert [r.detected for r in results[4:8]] == [False, False, False, True]
    assert pipeline.fail_safe.trips == 1


def test_slow_processing_trips_the_fail_safe() -> None:
    ticks = itertools.count(step=0.1)  # every picture takes 100 ms against a 40 ms interval
    pipeline = Desensitiser(detector=NoDetector(), clock=lambda: next(ticks) / 2)
    results = [pipeline.process(flat(), W, H, keyframe=False, interval_s=0.04) for _ in range(8)]
    assert results[-1].full_frame and pipeline.fail_safe.behind


def test_a_failing_detector_blurs_the_whole_picture_until_it_works_again() -> None:
    recorder = Recorder([Box(10, 10, 40, 40)], fail_at=frozenset({1}))
    pipeline = Desensitiser(DesensitiseConfig(detect_every=3), detector=recorder)
    results = [pipeline.process(flat(), W, H, keyframe=False, interval_s=0.04) for _ in range(6)]
    assert [r.full_frame for r in results] == [False, False, False, True, False, False]
    assert [r.detected for r in results] == [True, False, False, True, True, False]


def test_fail_safe_ignores_one_slow_detection_picture() -> None:
    fail_safe = FailSafe(behind_frames=3, max_lag_s=0.5, window=6)
    for index in range(30):
        fail_safe.observe(0.04, 0.0)
        fail_safe.took(0.07 if index % 3 == 0 else 0.01)  # mean 30 ms: keeps up
    assert not fail_safe.active
