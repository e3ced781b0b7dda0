"""/api/v1/governance/report: archive completeness and accuracy, findings, duplicate-construction candidates."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xueliang.api.auth_deps import ARCHIVE_READ
from xueliang.api.deps import get_platform
from xueliang.app import Platform
from xueliang.catalog import worker
from xueliang.catalog.governance import DEFAULT_DUPLICATE_DISTANCE_M
from xueliang.catalog.service import CameraQuery

router = APIRouter(prefix="/governance", tags=["governance"], dependencies=[ARCHIVE_READ])


@router.get("/report", summary="Governance report / 一机一档治理报告")
async def report(
    platform: Annotated[Platform, Depends(get_platform)],
    division: Annotated[str | None, Query(description="行政区划代码（含下级） / division code")] = None,
    unit: Annotated[str | None, Query(description="建设单位代码或名称 / owner unit")] = None,
    distance_m: Annotated[
        float, Query(gt=0, le=1000, description="duplicate candidates: cameras of different units this close")
    ] = DEFAULT_DUPLICATE_DISTANCE_M,
) -> dict[str, Any]:
    """建档率-style completeness and accuracy per unit and per division, every finding of today's rules, and
    cameras of different owner units within ``distance_m`` facing the same direction. Runs in a worker."""
    future = platform.jobs.submit(
        worker.governance_report,
        platform.database_url,
        str(platform.settings.data_dir),
        CameraQuery(division=division, unit=unit),
        distance_m,
    )
    result = await asyncio.wrap_future(future)
    return result.to_dict()
