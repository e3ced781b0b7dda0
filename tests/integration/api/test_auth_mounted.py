"""The platform's own app: every /api/v1 route but health and login needs a credential; the login endpoints work."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROTECTED = [
    ("GET", "/api/v1/cameras"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/units"),
    ("GET", "/api/v1/streams"),
    ("POST", "/api/v1/cameras/34152300001320000001/play"),
    ("DELETE", "/api/v1/play-sessions/abc"),
    ("GET", "/api/v1/alarms"),
]


def test_token_endpoint_refuses_unknown_users(client: TestClient) -> None:
    del client.headers["Authorization"]
    response = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong-password-1"})
    assert response.status_code == 401
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_anonymous_calls_get_401_with_a_challenge(client: TestClient, method: str, path: str) -> None:
    del client.headers["Authorization"]
    response = client.request(method, path)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthenticated"


def test_health_stays_public_and_a_signed_in_caller_gets_through(client: TestClient) -> None:
    signed_in = client.get("/api/v1/cameras")
    assert signed_in.status_code == 200, signed_in.text
    del client.headers["Authorization"]
    assert client.get("/api/v1/health").status_code == 200


def test_a_forged_bearer_token_is_refused(client: TestClient) -> None:
    token = client.headers["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    response = client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_the_auditor_and_sysadmin_may_not_manage_streams(client: TestClient, users: Any) -> None:
    users.create("audit1", "auditor")
    response = client.get("/api/v1/streams", headers=users.headers(client, "audit1"))
    assert response.status_code == 403
    assert client.get("/api/v1/streams").status_code == 200  # the platform unit's administrator may
