"""/api/v1/alarms: alarms devices reported (GB/T 28181 Alarm notify), newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xueliang.api.auth_deps import ARCHIVE_READ
from xueliang.api.deps import get_device_store
from xueliang.api.routers.devices import Cursor, Limit, invalid_cursor
from xueliang.api.schemas.devices import AlarmPageOut
from xueliang.store.device_rows import naive_utc
from xueliang.store.devices import DeviceStore
from xueliang.store.keyset import CursorError, PageRequest

router = APIRouter(tags=["alarms"], dependencies=[ARCHIVE_READ])


@router.get("/alarms", response_model=AlarmPageOut, summary="Alarms / 报警记录")
def list_alarms(
    devices: Annotated[DeviceStore, Depends(get_device_store)],
    device_id: Annotated[str | None, Query(description="only alarms this device reported")] = None,
    since: Annotated[dt.datetime | None, Query(description="received at or after (ISO 8601; no zone: UTC)")] = None,
    until: Annotated[dt.datetime | None, Query(description="received before (ISO 8601; no zone: UTC)")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    try:
        page = devices.list_alarms(
            PageRequest(limit=limit, cursor=cursor), device_id=device_id, since=naive_utc(since), until=naive_utc(until)
        )
    except CursorError as exc:
        raise invalid_cursor(exc) from exc
    return {
        "items": [
            {
                "id": a.id,
                "device_id": a.device_id,
                "channel_id": a.channel_id,
                "priority": a.priority,
                "method": a.method,
                "alarm_type": a.alarm_type,
                "alarm_time": a.alarm_time,
                "description": a.description,
                "longitude": a.longitude,
                "latitude": a.latitude,
                "received_at": a.received_at,
                "item": a.item,
            }
            for a in page.items
        ],
        "next": page.next,
    }
