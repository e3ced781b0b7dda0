"""/api/v1/auth: the OAuth2 password grant and refresh for API clients, cookie login/logout for the console, and
``/auth/me``. These routes are public (they are how one gets a credential): include this router beside, not
inside, the authenticated ``/api/v1`` router. Bad credentials get 401 with ``WWW-Authenticate``; a locked
account 423 with ``Retry-After`` and the time it opens again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from xueliang.api.auth_deps import (
    AuthApiError,
    CurrentPrincipal,
    Sessions,
    audit_unavailable,
    from_account_error,
    unauthenticated,
)
from xueliang.domain.audit import AuditUnavailableError
from xueliang.domain.principals import Principal
from xueliang.sharing.accounts import AccountError, AccountLockedError
from xueliang.sharing.sessions import COOKIE_NAME, CSRF_COOKIE_NAME, AuthenticationError, SessionService, TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(description='Always "bearer"')
    refresh_token: str
    expires_in: int = Field(description="Seconds the access token lives")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    id: str
    kind: str
    name: str
    unit_code: str
    roles: list[str]
    scopes: list[str]
    method: str | None = Field(default=None, description="bearer, api_key or cookie")
    csrf_token: str | None = Field(default=None, description="Send as X-CSRF-Token on unsafe cookie requests")


class LoginOut(BaseModel):
    user: MeOut
    csrf_token: str
    expires_in: int


def _address(request: Request) -> str | None:
    return None if request.client is None else request.client.host


def _refused(exc: AccountError | AuditUnavailableError) -> AuthApiError:
    if isinstance(exc, AuditUnavailableError):
        return audit_unavailable()
    error = from_account_error(exc)
    if isinstance(exc, AccountLockedError):
        seconds = max(1, int((exc.until - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()))
        error.headers["Retry-After"] = str(seconds)
    return error


def _token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        token_type=pair.token_type,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


def _me(principal: Principal, method: str | None = None, csrf_token: str | None = None) -> MeOut:
    return MeOut(
        id=principal.id,
        kind=principal.kind.value,
        name=principal.name,
        unit_code=principal.unit_code,
        roles=sorted(r.value for r in principal.roles),
        scopes=sorted(principal.scopes),
        method=method,
        csrf_token=csrf_token,
    )


@router.post("/token", response_model=TokenOut, summary="OAuth2 password grant / 获取访问令牌")
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, sessions: Sessions) -> TokenOut:
    """A new login for an API client: a short-lived access token and a refresh token (rotated on each use)."""
    try:
        pair = sessions.login_tokens(form.username, form.password, source_address=_address(request))
    except (AccountError, AuditUnavailableError) as exc:
        raise _refused(exc) from exc
    return _token_out(pair)


@router.post("/refresh", response_model=TokenOut, summary="Refresh the access token / 刷新令牌")
def refresh(body: RefreshIn, request: Request, sessions: Sessions) -> TokenOut:
    """Spend a refresh token for a new pair. Presenting a spent token again ends the whole login."""
    try:
        pair = sessions.refresh(body.refresh_token, source_address=_address(request))
    except AuthenticationError as exc:
        raise unauthenticated(exc.reason, exc.zh, exc.en) from exc
    except (AccountError, AuditUnavailableError) as exc:
        raise _refused(exc) from exc
    return _token_out(pair)


def _secure(request: Request, sessions: SessionService) -> bool:
    configured = sessions.settings.cookie_secure
    return request.url.scheme == "https" if configured is None else configured


@router.post("/login", response_model=LoginOut, summary="Console login (cookie) / 控制台登录")
def login(body: LoginIn, request: Request, response: Response, sessions: Sessions) -> LoginOut:
    """Sets the HTTP-only session cookie and a readable CSRF cookie; the CSRF token is also in the answer."""
    try:
        result = sessions.login_console(body.username, body.password, source_address=_address(request))
    except (AccountError, AuditUnavailableError) as exc:
        raise _refused(exc) from exc
    secure = _secure(request, sessions)
    response.set_cookie(
        COOKIE_NAME, result.cookie, max_age=result.max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE_NAME,
        result.csrf_token,
        max_age=result.max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )
    user = _me(result.user.principal(), "cookie", result.csrf_token)
    return LoginOut(user=user, csrf_token=result.csrf_token, expires_in=result.max_age)


@router.post("/logout", status_code=204, summary="Log out / 退出登录")
def logout(principal: CurrentPrincipal, request: Request, response: Response, sessions: Sessions) -> Response:
    """Ends the caller's login (cookie session, or the token family of a Bearer token) and clears the cookies."""
    session_id: str | None = getattr(request.state, "auth_session", None)
    if session_id is not None:
        try:
            sessions.logout(session_id, actor=principal.id, source_address=_address(request))
        except AuditUnavailableError as exc:
            raise audit_unavailable() from exc
    response.status_code = 204
    response.delete_cookie(COOKIE_NAME, path="/")
    response.delete_cookie(CSRF_COOKIE_NAME, path="/")
    return response


@router.get("/me", response_model=MeOut, summary="Who am I / 当前用户")
def me(principal: CurrentPrincipal, request: Request, sessions: Sessions) -> MeOut:
    method: str | None = getattr(request.state, "auth_method", None)
    session_id: str | None = getattr(request.state, "auth_session", None)
    csrf = sessions.csrf_token(session_id) if method == "cookie" and session_id else None
    return _me(principal, method, csrf)
