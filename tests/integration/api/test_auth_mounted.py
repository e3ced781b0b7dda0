"""The platform's own app serves the login endpoints (authentication is not yet required on the rest of the API:
that switch comes with the sharing wiring of issue 5)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_token_endpoint_is_mounted_and_refuses_unknown_users(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong-password-1"})
    assert response.status_code == 401
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert client.get("/api/v1/auth/me").status_code == 401
