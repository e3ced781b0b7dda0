"""Real H.264/H.265 access units for the media tests, encoded with PyAV (small, a moving picture)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from xueliang.protocol.es import AccessUnit, Codec

_NAME = "xueliang_test_video_units"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).resolve().parent / "video_units.py")
    assert _spec is not None and _spec.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
encode = sys.modules[_NAME].encode
Encode = sys.modules[_NAME].Encode


@pytest.fixture(scope="session")
def h264_units() -> list[AccessUnit]:
    return encode(Codec.H264)


@pytest.fixture(scope="session")
def h265_units() -> list[AccessUnit]:
    return encode(Codec.H265, frames=30)


@pytest.fixture
def make_units() -> Encode:
    return encode
