"""/api/v1/auth on both databases: the OAuth2 password grant, refresh rotation, console cookie login with CSRF,
``current_principal`` for Bearer / X-API-Key / cookie, roles and scopes, bilingual refusals with the right status.

The router is mounted on a test app built from the ``platform`` fixture (beside the authenticated /api/v1 router,
as the composition root will), with a small protected router standing in for the rest of the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from xueliang.api.app import create_app
from xueliang.api.auth_deps import CurrentPrincipal, install_auth_errors, require_roles, require_scopes
from xueliang.api.routers import auth
from xueliang.app import Platform
from xueliang.config import Settings
from xueliang.domain.principals import Principal, Role
from xueliang.sharing.sessions import SessionService, build_session_service

PASSWORD = "Xueliang-2024!"
FAST = Settings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)

protected = APIRouter(prefix="/probe")


@protected.get("/whoami")
def whoami(principal: CurrentPrincipal) -> dict[str, str]:
    return {"id": principal.id, "unit": principal.unit_code}


@protected.post("/change")
def change(principal: CurrentPrincipal) -> dict[str, str]:
    return {"changed_by": principal.id}


@protected.get("/grants")
def grants(principal: Annotated[Principal, Depends(require_roles(Role.SECADMIN))]) -> dict[str, str]:
    return {"id": principal.id}


@protected.get("/cameras")
def cameras(principal: Annotated[Principal, Depends(require_scopes("cameras:read"))]) -> dict[str, str]:
    return {"id": principal.id}


@pytest.fixture
def sessions(platform: Platform) -> SessionService:
    service = build_session_service(platform.settings, platform.sessions, auth_settings=FAST)
    service.accounts.create_user("zhang", PASSWORD, ["operator"])
    service.accounts.create_user("sec", PASSWORD, ["secadmin"])
    return service


@pytest.fixture
def api(platform: Platform, sessions: SessionService) -> Iterator[TestClient]:
    app = create_app(platform)
    app.state.auth = sessions
    install_auth_errors(app)
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(protected, prefix="/api/v1")
    with TestClient(app) as client:
        yield client


def token(api: TestClient, username: str = "zhang", password: str = PASSWORD) -> dict[str, object]:
    response = api.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(access_token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def test_password_grant_and_bearer(api: TestClient) -> None:
    body = token(api)
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 and body["refresh_token"]
    me = api.get("/api/v1/auth/me", headers=bearer(body["access_token"])).json()
    assert (me["id"], me["unit_code"], me["roles"], me["method"]) == ("zhang", "PLATFORM", ["operator"], "bearer")
    assert api.post("/api/v1/probe/change", headers=bearer(body["access_token"])).json() == {"changed_by": "zhang"}


def test_bad_credentials_are_401_with_a_challenge(api: TestClient) -> None:
    for username, password in (("zhang", "wrong"), ("nobody", PASSWORD)):
        response = api.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        body = response.json()
        assert body["error"] == "invalid_credentials" and body["message_zh"] == "用户名或密码错误"
        assert body["message_en"] == "Wrong username or password"
    missing = api.get("/api/v1/probe/whoami")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="xueliang"'
    forged = api.get("/api/v1/probe/whoami", headers=bearer("abc.def.ghi"))
    assert forged.status_code == 401 and 'error="invalid_token"' in forged.headers["www-authenticate"]
    basic = api.get("/api/v1/probe/whoami", headers={"Authorization": "Basic emhhbmc6eA=="})
    assert basic.status_code == 401


def test_locked_account_is_423_in_both_languages(api: TestClient) -> None:
    for _ in range(4):
        assert api.post("/api/v1/auth/token", data={"username": "zhang", "password": "x"}).status_code == 401
    locked = api.post("/api/v1/auth/token", data={"username": "zhang", "password": "x"})
    assert locked.status_code == 423 and int(locked.headers["retry-after"]) > 0
    body = locked.json()
    assert "账号已锁定" in body["message_zh"] and "locked until" in body["message_en"]
    assert body["detail"]["locked_until"].endswith("Z")
    english = api.post(
        "/api/v1/auth/token", data={"username": "zhang", "password": PASSWORD}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 423 and english.json()["message"].startswith("Too many failed logins")


def test_refresh_rotation_and_reuse_over_http(api: TestClient) -> None:
    first = token(api)
    second = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    reused = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["detail"] == {"reason": "refresh_reuse"}
    assert api.get("/api/v1/auth/me", headers=bearer(second.json()["access_token"])).status_code == 401
    assert api.post("/api/v1/auth/refresh", json={}).status_code == 422


def test_logout_ends_the_token_login(api: TestClient) -> None:
    body = token(api)
    assert api.post("/api/v1/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    assert api.get("/api/v1/auth/me", headers=bearer(body["access_token"])).status_code == 401


def test_console_cookie_login_csrf_and_logout(api: TestClient) -> None:
    response = api.post("/api/v1/auth/login", json={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("xueliang_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Secure" not in session_cookie
    csrf_cookie = next(c for c in cookies if c.startswith("xueliang_csrf="))
    assert "HttpOnly" not in csrf_cookie
    csrf = response.json()["csrf_token"]
    me = api.get("/api/v1/auth/me").json()  # the cookie alone, on a safe method
    assert me["method"] == "cookie" and me["csrf_token"] == csrf
    refused = api.post("/api/v1/probe/change")
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert "CSRF" in refused.json()["message_zh"]
    assert api.post("/api/v1/probe/change", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert api.post("/api/v1/probe/change", headers={"X-CSRF-Token": csrf}).json() == {"changed_by": "zhang"}
    assert api.post("/api/v1/auth/logout").status_code == 403  # logging out is a state change too
    assert api.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.cookies.clear()
    assert api.get("/api/v1/auth/me").status_code == 401


def test_console_cookie_secure_when_configured(platform: Platform, sessions: SessionService) -> None:
    secure = build_session_service(
        platform.settings, platform.sessions, auth_settings=FAST.model_copy(update={"cookie_secure": True})
    )
    app = create_app(platform)
    app.state.auth = secure
    install_auth_errors(app)
    app.include_router(auth.router, prefix="/api/v1")
    with TestClient(app) as client:
        response = client.post("/api/v1/auth/login", json={"username": "zhang", "password": PASSWORD})
    assert all("Secure" in c for c in response.headers.get_list("set-cookie"))


def test_api_key_header_roles_and_scopes(api: TestClient, sessions: SessionService) -> None:
    reader = sessions.accounts.create_api_key("zhang", "交通局对接", ["cameras:read"])
    writer = sessions.accounts.create_api_key("zhang", "other", ["grants:write"])
    assert api.get("/api/v1/probe/cameras", headers={"X-API-Key": reader.secret}).json() == {
        "id": f"apikey:{reader.key.prefix}"
    }
    no_scope = api.get("/api/v1/probe/cameras", headers={"X-API-Key": writer.secret})
    assert no_scope.status_code == 403 and "cameras:read" in no_scope.json()["message_en"]
    assert api.post("/api/v1/probe/change", headers={"X-API-Key": reader.secret}).status_code == 200  # no CSRF
    sessions.accounts.revoke_api_key(reader.key.prefix, actor="sec")
    revoked = api.get("/api/v1/probe/cameras", headers={"X-API-Key": reader.secret})
    assert revoked.status_code == 401 and revoked.json()["message_zh"] == "API 密钥无效或已吊销"
    operator = token(api)
    assert api.get("/api/v1/probe/grants", headers=bearer(operator["access_token"])).status_code == 403
    security = token(api, "sec")
    assert api.get("/api/v1/probe/grants", headers=bearer(security["access_token"])).json() == {"id": "sec"}
    assert api.get("/api/v1/probe/cameras", headers=bearer(operator["access_token"])).status_code == 200
