"""``xueliang demo``: a demo city on the embedded SQLite database.

Steps: 1. a data directory of its own (``./xueliang-demo`` unless told otherwise)  2. the platform built as
``serve`` builds it  3. on first start, a sample Lu'an inventory written as a department's xlsx and imported
through the real import pipeline  4. simulated NVRs register over GB/T 28181 (a child process running
``xueliang sim devices``)  5. serve the API and console. What the demo shows grows with the product.
"""

from __future__ import annotations

import subprocess
import sys

from xueliang.app import Platform
from xueliang.catalog.importer import ImportOptions, ImportResult
from xueliang.catalog.service import error_report_paths
from xueliang.config import Settings
from xueliang.sim.inventory import write_xlsx

DEMO_FILE = "六安市示例资源清单.xlsx"
DEMO_SIP_PASSWORD = "xueliang-demo-12345"  # noqa: S105 - the demo's device password, printed at start


def archive_is_empty(platform: Platform) -> bool:
    from xueliang.catalog.service import CameraQuery
    from xueliang.store.cameras import PageRequest

    return not platform.catalog.list_cameras(CameraQuery(), PageRequest(limit=1)).items


def seed_demo(platform: Platform, count: int) -> ImportResult | None:
    """Import the sample inventory once; None when the archive already has cameras."""
    if not archive_is_empty(platform):
        return None
    source = platform.settings.data_dir / "demo" / DEMO_FILE
    write_xlsx(source, count)
    report_xlsx, report_json = error_report_paths(source)
    return platform.catalog.import_file(
        source.read_bytes(), source.name, ImportOptions(), report_xlsx=report_xlsx, report_json=report_json
    )


DEMO_NVRS = 8
DEMO_NVR_CHANNELS = 16


def start_demo_devices(settings: Settings, nvrs: int = DEMO_NVRS) -> subprocess.Popen[bytes] | None:
    """Simulated NVRs (``xueliang sim devices`` in a child process) that register with the demo's SIP endpoint,
    keep alive and hand over their catalogs: the demo's devices page fills with them. None without SIP."""
    if not settings.sip_enabled or nvrs <= 0 or not settings.sip_password:
        return None
    host = "127.0.0.1" if settings.sip_host in ("0.0.0.0", "") else settings.sip_host  # noqa: S104
    command = [
        sys.executable, "-m", "xueliang.sim.cli", "devices",
        "--server", f"{host}:{settings.sip_port}",
        "--server-id", settings.sip_id,
        "--password", settings.sip_password,
        "--count", str(nvrs),
        "--channels", str(DEMO_NVR_CHANNELS),
        "--video", "h264",  # every channel answers INVITE with real video (a PyAV-encoded loop)
        "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 - our own interpreter and module
