"""Authentication dependencies: who is calling, from a Bearer token, an ``X-API-Key`` or the console cookie.

``current_principal`` is the one dependency that authenticates; ``require_roles`` and ``require_scopes`` build
on it. Order when a request carries several credentials: Bearer, then API key, then cookie (a script's explicit
credential wins over a browser's ambient one). A cookie-authenticated unsafe request must carry the session's
CSRF token in ``X-CSRF-Token`` (see ``sharing/sessions.py``).

Refusals are :class:`AuthApiError` (an :class:`ApiError` that carries headers): 401 with ``WWW-Authenticate``,
403 for a missing CSRF token, a missing role or scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from xueliang.api.errors import ApiError, _body, _language
from xueliang.domain.audit import AuditUnavailableError
from xueliang.domain.policy import AdminAction, GrantIndex, decide
from xueliang.domain.principals import Principal, PrincipalKind, Role
from xueliang.sharing.accounts import AccountError
from xueliang.sharing.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    Authenticated,
    AuthenticationError,
    SessionService,
)
from xueliang.store.models import utcnow

API_KEY_HEADER = "X-API-Key"
CHALLENGE = 'Bearer realm="xueliang"'


class AuthApiError(ApiError):
    """An :class:`ApiError` with response headers (``WWW-Authenticate``, ``Retry-After``)."""

    def __init__(
        self, status: int, code: str, zh: str, en: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, zh, en, detail)
        self.headers = headers or {}


def install_auth_errors(app: FastAPI) -> None:
    """Answer :class:`AuthApiError` like every ApiError, plus its headers (the more specific handler wins)."""

    @app.exception_handler(AuthApiError)
    async def _auth_error(request: Request, exc: AuthApiError) -> JSONResponse:
        body = _body(exc.code, exc.zh, exc.en, exc.detail, _language(request))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def unauthenticated(
    reason: str, zh: str = "请先登录", en: str = "Sign in first", *, presented: bool = True
) -> AuthApiError:
    challenge = f'{CHALLENGE}, error="invalid_token"' if presented else CHALLENGE
    return AuthApiError(401, "unauthenticated", zh, en, {"reason": reason}, {"WWW-Authenticate": challenge})


def audit_unavailable() -> AuthApiError:
    return AuthApiError(
        503, "audit_unavailable", "审计记录暂不可写，操作已拒绝", "The audit log is unavailable: refused"
    )


def from_account_error(exc: AccountError) -> AuthApiError:
    """An account refusal as an answer: 401 (with a challenge) for credentials, 423 locked, 403 disabled, 4xx."""
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
    until = getattr(exc, "until", None)
    detail: Any = None if until is None else {"locked_until": until.isoformat() + "Z"}
    problems = getattr(exc, "problems", None)
    if problems:
        detail = [{"message_zh": zh, "message_en": en} for zh, en in problems]
    code = type(exc).__name__.removesuffix("Error")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in code).lstrip("_")
    return AuthApiError(exc.status, snake, exc.zh, exc.en, detail, headers)


def get_sessions(request: Request) -> SessionService:
    """The process's :class:`SessionService`: ``app.state.auth`` when a test set one, else the platform's."""
    service: SessionService | None = getattr(request.app.state, "auth", None)
    if service is None:
        service = request.app.state.platform.auth
    return service


Sessions = Annotated[SessionService, Depends(get_sessions)]


def authenticate(request: Request, sessions: SessionService) -> Authenticated:
    """The caller's credential checked; raises :class:`AuthApiError`. Remembers the result on ``request.state``."""
    authorization = request.headers.get("authorization", "")
    api_key = request.headers.get(API_KEY_HEADER.lower())
    cookie = request.cookies.get(COOKIE_NAME)
    try:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthenticated("scheme", "仅支持 Bearer 令牌", "Only Bearer tokens are accepted")
            result = sessions.bearer(token.strip())
        elif api_key:
            result = sessions.api_key(api_key)
        elif cookie:
            result = sessions.cookie(cookie, request.headers.get(CSRF_HEADER.lower()), request.method)
        else:
            raise unauthenticated("missing", presented=False)
    except AuthenticationError as exc:
        if exc.status == 403:
            raise AuthApiError(403, "csrf", exc.zh, exc.en) from exc
        raise unauthenticated(exc.reason, exc.zh, exc.en) from exc
    except AccountError as exc:  # an API key refused
        raise unauthenticated(getattr(exc, "reason", "api_key"), exc.zh, exc.en) from exc
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc
    request.state.principal = result.principal
    request.state.auth_session = result.session_id
    request.state.auth_method = result.method
    return result


def current_principal(request: Request, sessions: Sessions) -> Principal:
    """The authenticated caller, or 401. Every /api/v1 route depends on this once authentication is on."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    return authenticate(request, sessions).principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting principals that hold any of ``roles`` (403 otherwise)."""
    wanted = frozenset(roles)

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.roles & wanted:
            names = ", ".join(sorted(r.value for r in wanted))
            raise AuthApiError(403, "forbidden", f"需要以下角色之一：{names}", f"Requires one of the roles: {names}")
        return principal

    return dependency


def require_action(action: AdminAction) -> Callable[[Principal], Principal]:
    """A dependency admitting principals the policy allows ``action`` (no camera concerned), 403 otherwise."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        decision = decide(principal, action, None, utcnow(), EMPTY_GRANTS)
        if not decision.allowed:
            raise AuthApiError(403, "forbidden", decision.reason_zh, decision.reason_en)
        return principal

    return dependency


EMPTY_GRANTS = GrantIndex()
ARCHIVE_READ = Depends(require_action(AdminAction.ARCHIVE_READ))  # router-wide on the archive's routers
ARCHIVE_MANAGE = Depends(require_action(AdminAction.ARCHIVE_MANAGE))  # on each route that changes it


def require_scopes(*scopes: str) -> Callable[[Principal], Principal]:
    """A dependency limiting API keys to their scopes (users are governed by their roles alone)."""
    wanted = frozenset(scopes)

    def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind is PrincipalKind.API_KEY and not wanted <= principal.scopes:
            missing = ", ".join(sorted(wanted - principal.scopes))
            raise AuthApiError(403, "scope", f"API 密钥缺少权限范围：{missing}", f"The API key lacks scopes: {missing}")
        return principal

    return dependency
