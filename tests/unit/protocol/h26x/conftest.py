"""Loads the shared PyAV clip encoder (tests/unit/protocol/h26x/clips.py) by path: the test tree is no package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "xueliang_test_clips"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).resolve().parents[1] / "h26x" / "clips.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
