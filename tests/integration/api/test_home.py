"""The landing page: who is signed in (or a sign-in link); for a signed-in caller, links to the player for cameras
of online devices (and says so when none is online)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from tests.conftest import TEST_PASSWORD

from xueliang.app import Platform
from xueliang.catalog.device_catalog import merge_catalog
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.device_records import OnlineChange, Registration
from xueliang.store.devices import DeviceStore

IPC = "34150200001320000077"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)


def test_home_lists_playable_cameras_of_online_devices(client: TestClient, platform: Platform) -> None:
    assert "no camera online yet" in client.get("/").text
    store = DeviceStore(platform.sessions, platform.catalog.cipher())
    store.save_registration(Registration(IPC, "udp", "10.0.0.9", 5060, None, 3600, "2016", "IPC", T0))
    merge_catalog(
        platform.sessions, IPC, [CatalogItem(device_id=IPC, name="东门<1>", status="ON")], complete=True, at=T0
    )
    store.record_online_changes([OnlineChange(IPC, True, T0, "register")])
    page = client.get("/").text
    assert f'href="/play/{IPC}"' in page
    assert "东门&lt;1&gt;" in page  # names are escaped
    store.record_online_changes([OnlineChange(IPC, False, T0 + dt.timedelta(minutes=5), "keepalive-timeout")])
    assert f'href="/play/{IPC}"' not in client.get("/").text


def test_anonymous_visitors_get_a_sign_in_link_and_nothing_of_the_archive(
    client: TestClient, platform: Platform
) -> None:
    store = DeviceStore(platform.sessions, platform.catalog.cipher())
    store.save_registration(Registration(IPC, "udp", "10.0.0.9", 5060, None, 3600, "2016", "IPC", T0))
    merge_catalog(platform.sessions, IPC, [CatalogItem(device_id=IPC, name="东门", status="ON")], complete=True, at=T0)
    store.record_online_changes([OnlineChange(IPC, True, T0, "register")])
    assert f'href="/play/{IPC}"' in client.get("/").text  # signed in (Bearer): the live links
    del client.headers["Authorization"]
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert 'id="sign-in" href="/login?next=%2F"' in page
    assert f"/play/{IPC}" not in page and "camera-count" not in page and 'id="logout"' not in page
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "<script>" not in page and "onsubmit" not in page  # the play form is a plain GET form


def test_a_console_session_shows_who_is_signed_in_with_a_sign_out_button(client: TestClient) -> None:
    del client.headers["Authorization"]
    response = client.post("/api/v1/auth/login", json={"username": "admin", "password": TEST_PASSWORD})
    assert response.status_code == 200, response.text
    page = client.get("/").text
    assert '<strong id="current-user">admin</strong>' in page
    assert '<span id="current-unit">PLATFORM</span>' in page
    assert 'data-logout="/login"' in page and '<script src="/login/assets/logout.js" defer>' in page
    assert 'id="camera-count"' in page and 'action="/play"' in page
    assert "sign-in" not in page
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": response.json()["csrf_token"]})
    assert 'id="sign-in"' in client.get("/").text
