"""Interop: sipp plays a GB/T 28181 IPC against a real ``xueliang serve`` process, over UDP and TCP.

The device registers through the digest challenge (MD5, qop=auth, computed by sipp), sends a keepalive, answers
the platform's DeviceInfo and Catalog queries (the catalog in two fragments with Chinese channel names, in
UTF-8, GB2312 or GB18030) and accepts the catalog subscription. The API then shows the device online with its
channels and their names intact. A wrong password gets 403, and so does a keepalive from a device that never
registered, and (on a platform refusing unknown devices) a device not in the archive, which is then listed as
refused; a pre-registered device registers with its own password only. Two devices reporting the same channel
IDs: the second one's channels are flagged as collisions, and one gets an allocated ID.

The UDP and TCP variants use different device IDs: only a device's first registration triggers the catalog sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest

from .conftest import DOMAIN, PASSWORD, PLATFORM_ID, PlatformServer, RunSipp, SippRun


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    online: bool  # the scenario reports the third channel Status OFF


@dataclass(frozen=True)
class Ipc:
    """One device of the main scenario and its injection line (field order: see the scenario's header)."""

    device_id: str
    charset: str  # declared in every body, and the charset the names are written in
    name: str
    channels: tuple[Channel, Channel, Channel]

    def inject(self) -> bytes:
        fields = [self.device_id, PLATFORM_ID, DOMAIN, self.charset, self.name, self.device_id[:6]]
        for channel in self.channels:
            fields += [channel.channel_id, channel.name]
        return ";".join(fields).encode(self.charset)


def ipc(serial: int, charset: str, names: tuple[str, str, str]) -> Ipc:
    device_id = f"3415020000132{serial:07d}"  # 341502 金安区, industry 00, type 132 IPC
    channels = tuple(
        Channel(f"3415020000131{serial * 10 + index:07d}", name, online=index < 3)  # type 131 camera
        for index, name in enumerate(names, start=1)
    )
    assert len(channels) == 3
    return Ipc(device_id, charset, f"{names[0]}网络摄像机", (channels[0], channels[1], channels[2]))


DEVICES = {
    ("udp", "UTF-8"): ipc(1, "UTF-8", ("皋城路与梅山路交叉口", "人民广场北门", "东城路口东向西")),
    ("tcp", "UTF-8"): ipc(2, "UTF-8", ("裕安区淠河路北", "六安东城小学南门", "金安区政务中心")),
    ("udp", "GB2312"): ipc(3, "GB2312", ("佛子岭路与解放路交叉口", "火车站广场", "九墩塘公园东门")),
    ("tcp", "GB18030"): ipc(4, "GB18030", ("金堃大道与长江路口", "淠史杭纪念馆", "城北农贸市场")),  # 堃: not in GB2312
}
MAIN = "register_keepalive_catalog.xml"
OOC = "platform_requests.xml"


def assert_all_calls_successful(run: SippRun) -> None:
    assert run.returncode == 0, run.describe()
    assert run.count("SuccessfulCall(C)") == 1 and run.count("FailedCall(C)") == 0, run.describe()


QUERY_IN_TRACE = re.compile(
    rb"message received[^\n]*\n\s*\nMESSAGE sip:[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n(<\?xml.*?</Query>)", re.S
)


def queries_from_platform(run: SippRun) -> list[bytes]:
    """The MANSCDP query bodies the platform sent the device, as they came (from sipp's trace; UDP
    retransmissions counted once)."""
    return list(dict.fromkeys(QUERY_IN_TRACE.findall(run.messages)))


def cmd_type(body: bytes) -> bytes:
    found = re.search(rb"<CmdType>(\w+)</CmdType>", body)
    return found[1] if found else b""


def declared(body: bytes) -> str:
    found = re.match(rb'<\?xml[^>]*encoding="([^"]+)"', body)
    return found[1].decode() if found else ""


def device_detail(server: PlatformServer, device: Ipc) -> httpx.Response:
    """The device as the API shows it, once it is online with its three channels (merged in a worker)."""

    def ready(response: httpx.Response) -> bool:
        if response.status_code != 200:
            return False
        body = response.json()
        return bool(body.get("online")) and len(body.get("channels") or []) == len(device.channels)

    return server.wait_for(f"/api/v1/devices/{device.device_id}", ready)


@pytest.mark.parametrize(("transport", "charset"), list(DEVICES), ids=[f"{t}-{c}" for t, c in DEVICES])
def test_ipc_registers_and_hands_over_its_catalog(
    run_sipp: RunSipp, platform_server: PlatformServer, transport: str, charset: str
) -> None:
    device = DEVICES[(transport, charset)]
    run = run_sipp(MAIN, [device.inject()], transport=transport, username=device.device_id, password=PASSWORD, ooc=OOC)
    assert_all_calls_successful(run)

    # the platform asked DeviceInfo, then Catalog; the Catalog query (sent after the device's answers) is in the
    # charset the device writes (answering in kind). The DeviceInfo query may leave before the device's first
    # MESSAGE arrives: then it is in the default, GB2312.
    queries = queries_from_platform(run)
    assert [cmd_type(body) for body in queries] == [b"DeviceInfo", b"Catalog"], run.describe()
    info_query, catalog_query = queries
    assert declared(catalog_query) == charset, catalog_query
    assert declared(info_query) in {charset, "GB2312"}, info_query

    response = device_detail(platform_server, device)
    assert response.status_code == 200, f"{response.text}\n{platform_server.log_tail()}"
    detail = response.json()
    assert detail["online"] is True, f"{detail}\n{platform_server.log_tail()}"
    assert detail["transport"] == transport
    assert str(detail["charset"]).upper() == charset
    assert detail["channel_count"] == len(device.channels)
    channels = {channel["id"]: channel for channel in detail["channels"]}
    assert set(channels) == {channel.channel_id for channel in device.channels}, detail
    for expected in device.channels:
        assert channels[expected.channel_id]["name"] == expected.name  # Chinese intact, whatever the charset
        assert channels[expected.channel_id]["online"] is expected.online

    listed = platform_server.http.get("/api/v1/devices").json()
    mine = [item for item in listed["items"] if item["id"] == device.device_id]
    assert len(mine) == 1 and mine[0]["online"] is True and mine[0]["channel_count"] == len(device.channels)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_wrong_password_is_403(run_sipp: RunSipp, platform_server: PlatformServer, transport: str) -> None:
    device_id = "34150200001320000091" if transport == "udp" else "34150200001320000092"
    inject = f"{device_id};{PLATFORM_ID};{DOMAIN}".encode()
    run = run_sipp(
        "register_refused.xml", [inject], transport=transport, username=device_id, password="not-the-password"
    )
    assert_all_calls_successful(run)  # the scenario succeeds only on 403
    response = platform_server.http.get(f"/api/v1/devices/{device_id}")
    assert response.status_code == 404 or response.json().get("online") is False, response.text


def test_right_password_is_not_refused(run_sipp: RunSipp) -> None:
    """The negative scenario is not trivially green: with the right password the platform says 200, so it fails."""
    device_id = "34150200001320000093"
    inject = f"{device_id};{PLATFORM_ID};{DOMAIN}".encode()
    run = run_sipp("register_refused.xml", [inject], username=device_id, password=PASSWORD)
    assert run.returncode != 0 and run.count("FailedCall(C)") == 1, run.describe()
    assert b"SIP/2.0 200 OK" in run.messages


def test_keepalive_from_unregistered_device_is_403(run_sipp: RunSipp) -> None:
    inject = f"34150200001320000094;{PLATFORM_ID};{DOMAIN}".encode()
    run = run_sipp("keepalive_unregistered.xml", [inject])
    assert_all_calls_successful(run)


def test_device_not_in_inventory_is_403_when_unknown_devices_are_refused(
    run_sipp: RunSipp, strict_platform_server: PlatformServer
) -> None:
    device_id = "34150200001320000095"
    inject = f"{device_id};{PLATFORM_ID};{DOMAIN}".encode()
    run = run_sipp(
        "register_refused.xml", [inject], username=device_id, password=PASSWORD, server=strict_platform_server
    )
    assert_all_calls_successful(run)  # right password, but the archive does not know the device
    assert b"not in inventory" in run.messages, run.describe()


def test_rejection_is_listed_as_not_in_inventory(run_sipp: RunSipp, strict_platform_server: PlatformServer) -> None:
    device_id = "34150200001320000096"
    inject = f"{device_id};{PLATFORM_ID};{DOMAIN}".encode()
    run = run_sipp(
        "register_refused.xml", [inject], username=device_id, password=PASSWORD, server=strict_platform_server
    )
    assert_all_calls_successful(run)

    def listed(response: httpx.Response) -> bool:
        return any(r["device_id"] == device_id for r in response.json())

    rejections = strict_platform_server.wait_for("/api/v1/devices/rejections", listed).json()
    [mine] = [r for r in rejections if r["device_id"] == device_id]
    assert mine["reason"] == "not_in_inventory" and mine["host"] == "127.0.0.1"


def test_pre_registered_device_uses_its_own_password(run_sipp: RunSipp, strict_platform_server: PlatformServer) -> None:
    device = ipc(6, "UTF-8", ("城南派出所门前", "梅山南路与皖西路口", "金安区人民医院东门"))
    own = "own-password-6"
    created = strict_platform_server.http.post(
        "/api/v1/devices", json={"id": device.device_id, "name": device.name, "password": own}
    )
    assert created.status_code == 201, created.text
    assert created.json()["device"]["has_password"] is True

    inject = f"{device.device_id};{PLATFORM_ID};{DOMAIN}".encode()
    refused = run_sipp(
        "register_refused.xml", [inject], username=device.device_id, password=PASSWORD, server=strict_platform_server
    )
    assert_all_calls_successful(refused)  # the global password no longer opens this device

    run = run_sipp(
        MAIN, [device.inject()], username=device.device_id, password=own, ooc=OOC, server=strict_platform_server
    )
    assert_all_calls_successful(run)
    detail = device_detail(strict_platform_server, device).json()
    assert detail["online"] is True and detail["pre_registered"] is True, detail
    assert {c["id"]: c["name"] for c in detail["channels"]} == {c.channel_id: c.name for c in device.channels}


def test_colliding_channels_are_flagged_and_can_get_an_allocated_id(
    run_sipp: RunSipp, platform_server: PlatformServer
) -> None:
    """Two devices reporting the same channel IDs (factory defaults): the second one's channels collide."""
    first = ipc(7, "UTF-8", ("解放路与人民路交叉口", "鼓楼街北口", "云路街东口"))
    second = Ipc("34150200001320000008", "UTF-8", "同号通道的设备", first.channels)
    for device in (first, second):
        run = run_sipp(MAIN, [device.inject()], username=device.device_id, password=PASSWORD, ooc=OOC)
        assert_all_calls_successful(run)
        assert device_detail(platform_server, device).status_code == 200

    channels = {c["id"]: c for c in device_detail(platform_server, second).json()["channels"]}
    assert all(c["collision"] and c["camera_id"] is None for c in channels.values()), channels
    taken = first.channels[0].channel_id
    allocated = platform_server.http.post(f"/api/v1/devices/{second.device_id}/channels/{taken}/allocate-id")
    assert allocated.status_code == 201, allocated.text
    camera_id = allocated.json()["camera_id"]
    assert len(camera_id) == 20 and camera_id.isdigit() and camera_id != taken

    after = {c["id"]: c for c in device_detail(platform_server, second).json()["channels"]}
    assert after[taken]["camera_id"] == camera_id and after[taken]["collision"] is False
    first_channels = {c["id"]: c for c in device_detail(platform_server, first).json()["channels"]}
    assert first_channels[taken]["camera_id"] == taken  # the first device's binding is untouched
