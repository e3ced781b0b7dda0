"""RTSP pull against GStreamer's test RTSP server (run by the system Python), through the same hub and FLV output.

Skipped locally when the GStreamer RTSP server packages are missing; under CI=true that is a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path
from typing import Any

import pytest

from xueliang.domain.streams import DeviceOfflineError, PlaySource, SourceKind
from xueliang.media.hub import HubRegistry
from xueliang.media.manager import ManagerConfig, StreamManager
from xueliang.media.receivers import ReceiverConfig, RtpReceivers
from xueliang.media.rtsp import RtspOpener, redact
from xueliang.media.viewers import flv_stream

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-pw"  # the rtsp_url fixture's (tests/integration/conftest.py)


def _manager() -> StreamManager:
    registry = HubRegistry()
    receivers = RtpReceivers(ReceiverConfig(bind_host="127.0.0.1"), registry)
    config = ManagerConfig(linger_s=0.0, no_media_timeout_s=10.0)
    return StreamManager(receivers, {SourceKind.RTSP: RtspOpener(registry)}, config, registry=registry)


async def test_rtsp_camera_plays_through_the_hub_as_flv(
    rtsp_url: str, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="xueliang")
    manager = _manager()
    source = PlaySource("cam-rtsp", SourceKind.RTSP, rtsp_url=rtsp_url)
    viewing = await asyncio.wait_for(manager.acquire(source), 20)
    assert viewing.hub.has_keyframe and viewing.variants == ("native",)
    data = bytearray()
    async with asyncio.timeout(20):
        async for chunk in flv_stream(viewing.hub):
            data += chunk
            if viewing.hub.units_in >= 60:
                break
    path = tmp_path / "rtsp.flv"
    path.write_bytes(bytes(data))
    frames = kit.decode_file(path)
    assert len(frames) >= 20 and {(w, h) for w, h, _ in frames} == {(320, 240)}
    times = [t for _, _, t in frames]
    assert all(b > a for a, b in itertools.pairwise(times))
    [info] = manager.streams()
    assert (info.source_kind, info.codec, info.width) == ("rtsp", "h264", 320)
    await manager.release(viewing)
    await asyncio.sleep(0.2)  # linger 0: the pull stops
    assert viewing.hub.ended and manager.streams() == []
    assert PASSWORD not in caplog.text


async def test_rtsp_refused_camera_is_a_clear_error_without_the_password(
    rtsp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="xueliang")
    manager = _manager()
    wrong = rtsp_url.replace(PASSWORD, "wrong-pw")
    with pytest.raises(DeviceOfflineError) as raised:
        await asyncio.wait_for(manager.acquire(PlaySource("cam-x", SourceKind.RTSP, rtsp_url=wrong)), 20)
    assert "cannot be opened" in raised.value.reason and "wrong-pw" not in raised.value.reason
    assert "wrong-pw" not in caplog.text
    assert redact(wrong) in raised.value.reason


def test_redact_strips_credentials() -> None:
    assert (
        redact("rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101?x=1")
        == "rtsp://10.0.0.5:554/Streaming/Channels/101"
    )


def test_rtsp_camera_of_the_archive_plays_through_the_play_api(
    rtsp_url: str, client: Any, units: dict[str, str], make_camera: Any, tmp_path: Path, users: Any
) -> None:
    """The whole path for an archive camera whose access protocol is RTSP: stored with its credentials encrypted,
    resolved to an RTSP source, pulled by the media node into the same hub, served as FLV to a token URL."""
    import av

    client.headers.update(users.headers(client, users.create("ga-admin", "unit_admin", "GA")))  # GA's camera
    raw = make_camera(901, owner_unit=units["GA"], access_protocol="rtsp", stream_url=rtsp_url)
    camera = raw["platform_id"]
    stored = client.put(f"/api/v1/cameras/{camera}", json=raw)
    assert stored.status_code == 201, stored.json()
    assert PASSWORD not in stored.text
    response = client.post(f"/api/v1/cameras/{camera}/play", json={})
    assert response.status_code == 200, response.json()
    play = response.json()
    assert (play["codec"], play["width"], play["height"]) == ("h264", 320, 240)
    assert PASSWORD not in response.text
    streams = client.get("/api/v1/streams").json()["items"]
    assert [(s["camera_id"], s["source_kind"]) for s in streams] == [(camera, "rtsp")]
    assert PASSWORD not in client.get("/api/v1/streams").text
    data = bytearray()
    with client.stream("GET", play["flv"]) as flv:
        assert flv.status_code == 200
        assert flv.headers["content-type"] == "video/x-flv"
        for chunk in flv.iter_bytes():
            data += chunk
            if len(data) > 60_000:
                break
    path = tmp_path / "rtsp.flv"
    path.write_bytes(bytes(data))
    with av.open(str(path)) as container:
        frames = list(itertools.islice(container.decode(video=0), 10))
    assert frames and (frames[0].width, frames[0].height) == (320, 240)
    # the viewer's only connection closed: that ended its session (and, with no linger here, the stream)
    assert client.delete(f"/api/v1/play-sessions/{play['session']}").status_code == 404
