"""The atheris fuzz target of the PS demuxer runs in CI, time-boxed: coverage-guided inputs mutated from the
vectors under tests/data/ps for ``FUZZ_SECONDS``; any exception, negative timestamp or unbounded buffer is a crash,
which fails this test and leaves ``crash-*`` in the test's directory. A longer run is the module's docstring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("fuzz_ps.py")
VECTORS = Path(__file__).resolve().parents[3] / "data" / "ps"
FUZZ_SECONDS = int(os.environ.get("XUELIANG_FUZZ_SECONDS", "20"))


def test_fuzz_target_finds_nothing(tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("atheris is a dev dependency (requirements/lock.txt): the fuzz target must run in CI")
        pytest.skip("atheris not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for vector in VECTORS.glob("*.bin"):
        shutil.copy(vector, corpus)
    result = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            str(corpus),
            f"-max_total_time={FUZZ_SECONDS}",
            "-max_len=4096",
            "-timeout=10",
            "-rss_limit_mb=1024",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
        check=False,
    )
    crashes = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(p.name for p in tmp_path.glob("timeout-*"))
    assert result.returncode == 0 and not crashes, f"fuzzing found {crashes}:\n{result.stderr[-3000:]}"
    assert "Done" in result.stderr or "DONE" in result.stderr, result.stderr[-2000:]  # it did run
