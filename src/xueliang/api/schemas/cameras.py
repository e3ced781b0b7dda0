"""Camera models. The archive fields are generated from ``domain.archive.FIELDS`` so the API documents every
field with its Chinese and English name and its code table, and never drifts from the archive."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from xueliang.domain.archive import FIELDS, FieldKind, FieldSpec

_PYTHON_TYPES: dict[FieldKind, Any] = {
    FieldKind.TEXT: str,
    FieldKind.CODE: str,
    FieldKind.ID: str,
    FieldKind.DIGITS: str,
    FieldKind.FLOAT: float,
    FieldKind.INT: int,
    FieldKind.DATE: dt.date,
    FieldKind.BOOL: bool,
}


def _description(spec: FieldSpec) -> str:
    text = f"{spec.zh} / {spec.en}"
    if spec.table is not None:
        text += f". 代码 codes: {spec.table.accepted('en')}"
    return text


class FindingOut(BaseModel):
    severity: str = Field(description="error | warning")
    field: str = Field(description="the archive field concerned")
    rule: str = Field(description="machine-readable rule, e.g. coords.outside_division")
    message_zh: str
    message_en: str
    value: str | None = None


class CameraMeta(BaseModel):
    """What the platform adds to the archive fields."""

    id: int = Field(description="internal surrogate key; API paths use platform_id")
    submitted_longitude: float | None = Field(None, description="longitude as submitted, in submitted_crs")
    submitted_latitude: float | None = Field(None, description="latitude as submitted, in submitted_crs")
    submitted_crs: str | None = Field(None, description="wgs84 | gcj02 | bd09")
    division_name: str = Field("", description="行政区划全称 / full division name")
    owner_unit_name: str | None = Field(None, description="建设单位名称 / owner unit name")
    management_unit_name: str | None = Field(None, description="管理单位名称 / management unit name")
    has_stream_credentials: bool = Field(
        False, description="the stream URL has credentials, stored encrypted and never returned"
    )
    findings: list[FindingOut] = Field(default_factory=list, description="warnings found when it was last written")
    source: str = Field(description="import | api | device")
    created_at: dt.datetime
    updated_at: dt.datetime


_REQUIRED = ("platform_id", "name")
_OUT_FIELDS: dict[str, Any] = {
    spec.name: (
        str if spec.name in _REQUIRED else _PYTHON_TYPES[spec.kind] | None,
        Field(... if spec.name in _REQUIRED else None, description=_description(spec)),
    )
    for spec in FIELDS
}
_IN_FIELDS: dict[str, Any] = {
    spec.name: (
        str | int | float | bool | None,
        Field(None, description=_description(spec) + ". Codes, Chinese or English labels are accepted."),
    )
    for spec in FIELDS
}
CameraOut = create_model("Camera", __base__=CameraMeta, **_OUT_FIELDS)
CameraIn = create_model("CameraInput", __config__=ConfigDict(extra="forbid"), **_IN_FIELDS)


class CameraPageOut(BaseModel):
    items: list[dict[str, Any]] = Field(description="cameras, each as in GET /api/v1/cameras/{platform_id}")
    next_cursor: str | None = Field(description="pass as cursor to get the next page; null on the last page")
    total: int | None = Field(description="number of matching cameras, when with_total=true")


class CameraWriteOut(BaseModel):
    created: bool
    camera: dict[str, Any] = Field(description="the camera as stored")
    warnings: list[FindingOut]
