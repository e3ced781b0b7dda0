"""/api/v1/ids: what a 20-digit ID means, and the next free ID under a prefix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from xueliang.api.auth_deps import ARCHIVE_READ
from xueliang.api.deps import get_catalog
from xueliang.api.errors import ApiError
from xueliang.catalog.service import CatalogService
from xueliang.domain import ids

router = APIRouter(tags=["ids"], dependencies=[ARCHIVE_READ])
Catalog = Annotated[CatalogService, Depends(get_catalog)]


class IdPart(BaseModel):
    part_zh: str
    part_en: str
    digits: str
    meaning_zh: str
    meaning_en: str


class IdOut(BaseModel):
    id: str
    parts: list[IdPart]


def _explained(device_id: str) -> IdOut:
    try:
        parts = ids.explain(device_id)
    except ids.IdError as exc:
        raise ApiError(422, exc.rule, exc.message_zh, exc.message_en, {"id": device_id}) from exc
    return IdOut(id=device_id, parts=[IdPart(part_zh=a, part_en=b, digits=c, meaning_zh=d, meaning_en=e)
                                      for a, b, c, d, e in parts])  # fmt: skip


@router.get("/ids/next", response_model=IdOut, summary="Next free ID under a prefix / 分配编码")
def next_free_id(
    catalog: Catalog,
    prefix: Annotated[str, Query(description="digits 1-14: division (8), industry (2), type (3), network (1)")],
) -> IdOut:
    """The ID with the next free serial under the prefix, given the archive. A suggestion, not a reservation."""
    return _explained(catalog.next_free_id(prefix))


@router.get("/ids/{device_id}", response_model=IdOut, summary="Explain an ID / 编码解析")
def explain_id(device_id: str) -> IdOut:
    return _explained(device_id)
