"""GET /api/v1/health: answers 200 once the platform is ready."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from xueliang import __version__
from xueliang.api.deps import get_platform
from xueliang.app import Platform

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health", response_model=Health)
def health(platform: Annotated[Platform, Depends(get_platform)]) -> Health:
    with platform.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=platform.engine.dialect.name)
