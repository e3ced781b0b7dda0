"""Errors the API turns into 4xx answers with a message a person can act on (in zh-CN and English)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from xueliang.catalog.errors import (
    CameraNotFoundError,
    CameraRejectedError,
    CatalogError,
    InvalidOptionsError,
    InvalidQueryError,
)


class ApiError(Exception):
    """A request we refuse, with a status, a stable code and a message in both languages."""

    def __init__(self, status: int, code: str, zh: str, en: str, detail: Any = None) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.detail = status, code, zh, en, detail


def finding_detail(findings: Any) -> list[dict[str, Any]]:
    return [
        {
            "severity": f.severity.value,
            "field": f.field,
            "rule": f.rule,
            "message_zh": f.message_zh,
            "message_en": f.message_en,
            "value": f.value,
        }
        for f in findings
    ]


def from_catalog_error(exc: CatalogError) -> ApiError:
    """The answer to a catalog service error: 404 for an unknown camera, 422 for everything the caller can fix."""
    if isinstance(exc, CameraNotFoundError):
        return ApiError(404, "camera_not_found", exc.zh, exc.en, {"platform_id": exc.platform_id})
    if isinstance(exc, CameraRejectedError):
        return ApiError(422, "camera_rejected", exc.zh, exc.en, finding_detail(exc.findings))
    if isinstance(exc, InvalidQueryError):
        return ApiError(422, "invalid_parameter", exc.zh, exc.en, {"parameter": exc.parameter})
    if isinstance(exc, InvalidOptionsError):
        return ApiError(422, "invalid_options", exc.zh, exc.en)
    return ApiError(400, "catalog_error", exc.zh, exc.en)


def _body(code: str, zh: str, en: str, detail: Any, language: str) -> dict[str, Any]:
    return {
        "error": code,
        "message": en if language == "en" else zh,
        "message_zh": zh,
        "message_en": en,
        "detail": detail,
    }


def _language(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh-CN"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.zh, exc.en, exc.detail, _language(request)), status_code=exc.status)

    @app.exception_handler(CatalogError)
    async def _catalog_error(request: Request, exc: CatalogError) -> JSONResponse:
        return await _api_error(request, from_catalog_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in exc.errors()
        ]
        return JSONResponse(
            _body("invalid_request", "请求参数不正确", "The request is not valid", problems, _language(request)),
            status_code=422,
        )
