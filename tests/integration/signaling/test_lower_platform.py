"""A lower platform cascading into us (issue 6, part 2), through the whole platform on both databases.

The simulator plays a county platform (type 200) with a catalog tree: regions, a business group (215), virtual
organisations (216) and cameras. It registers with the real platform (``build_platform`` and the app lifespan);
``GET /api/v1/devices`` lists it like a device with its channels, the tree kept (kinds and ParentIDs); one of its
cameras plays through it: the INVITE goes to the lower platform, which answers for its channel, and the FLV the
viewer reads carries real H.264.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from xueliang.sim.config import DeviceKind, SimConfig
from xueliang.sim.devices import DeviceSimulator

from .conftest import PASSWORD

pytestmark = pytest.mark.anyio

OPS_PASSWORD = "Lower-Platform-2026!"


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await asyncio.to_thread(check)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.2)
    return result


def read_flv(client: TestClient, url: str, out: dict[str, Any], enough: int = 20_000) -> None:
    data = bytearray()
    with client.stream("GET", url) as flv:
        out["status"] = flv.status_code
        for chunk in flv.iter_bytes():
            data += chunk
            if len(data) >= enough:
                break
    out["data"] = bytes(data)


def video_tags(data: bytes) -> list[bytes]:
    """The video tag bodies of an FLV byte stream (header, then tags with their previous-size fields)."""
    assert data[:3] == b"FLV"
    position, tags = int.from_bytes(data[5:9], "big") + 4, []
    while position + 11 <= len(data):
        kind, size = data[position], int.from_bytes(data[position + 1 : position + 4], "big")
        if position + 11 + size > len(data):
            break
        if kind == 9:
            tags.append(data[position + 11 : position + 11 + size])
        position += 11 + size + 4
    return tags


async def test_a_lower_platform_lists_with_its_tree_and_its_cameras_play_through_it(engine: Any, tmp_path: Any) -> None:
    from xueliang.api.app import create_app
    from xueliang.app import build_platform
    from xueliang.config import Settings

    settings = Settings(
        data_dir=tmp_path / "data",
        sip_host="127.0.0.1",
        sip_port=0,
        sip_password=PASSWORD,
        sip_accept_unknown_devices=True,
        media_rtp_host="127.0.0.1",
        media_rtp_port_min=41000,
        media_rtp_port_max=41099,
        media_rtp_mux_port=0,
        media_no_media_timeout=15.0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    platform = build_platform(settings, engine=engine, run_migrations=False)
    platform.accounts.create_user("ops", OPS_PASSWORD, ["unit_admin"])
    with TestClient(create_app(platform)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "ops", "password": OPS_PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        assert platform.signaling is not None
        host, port = platform.signaling.address
        config = SimConfig(
            server_host=host,
            server_port=port,
            server_id=settings.sip_id,
            password=PASSWORD,
            kind=DeviceKind.PLATFORM,
            channels=4,
            video_size=(320, 240),
        )
        async with DeviceSimulator(config) as simulator:
            await simulator.wait_registered(timeout=15)
            [lower_id] = simulator.device_ids
            assert lower_id[10:13] == "200"
            sent = {item.device_id: item for item in simulator.devices[lower_id].catalog_items()}

            def listed() -> Any:
                detail = client.get(f"/api/v1/devices/{lower_id}").json()
                return detail if len(detail.get("channels", [])) >= len(sent) else None

            detail = await eventually(listed)
            page = client.get("/api/v1/devices").json()
            assert [item["id"] for item in page["items"]] == [lower_id]
            kinds = {channel["id"]: channel["kind"] for channel in detail["channels"]}
            parents = {channel["id"]: channel.get("parent_id") for channel in detail["channels"]}
            # every item of its tree is kept, each as what it is, under the parent it named
            for item_id, item in sent.items():
                assert item_id in kinds, item_id
                assert parents[item_id] == item.parent_id
            assert {"camera", "region", "business_group", "virtual_org"} <= set(kinds.values())
            cameras = sorted(item_id for item_id, kind in kinds.items() if kind == "camera")
            assert len(cameras) == 4

            # a camera under the lower platform plays through it
            played = await asyncio.to_thread(client.post, f"/api/v1/cameras/{cameras[0]}/play", json={})
            assert played.status_code == 200, played.text
            out: dict[str, Any] = {}
            reader = threading.Thread(target=read_flv, args=(client, played.json()["flv"], out))
            reader.start()
            await asyncio.to_thread(reader.join, 30)
            assert out.get("status") == 200
            tags = video_tags(out["data"])
            assert tags and tags[0][0] & 0x0F == 7  # AVC
            assert any(tag[0] >> 4 == 1 and tag[1] == 1 for tag in tags)  # a keyframe NALU tag
            assert simulator.invites.active(lower_id) == 1  # the INVITE went to the lower platform
    platform.close()
