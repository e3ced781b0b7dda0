"""/api/v1/cameras: the camera archive (一机一档). List with filters and keyset pages; get, put, delete by ID."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from xueliang.api.auth_deps import ARCHIVE_MANAGE, ARCHIVE_READ
from xueliang.api.deps import get_catalog
from xueliang.api.errors import ApiError
from xueliang.api.schemas.cameras import CameraIn, CameraOut, CameraPageOut, CameraWriteOut
from xueliang.catalog.importer import finding_dict
from xueliang.catalog.service import MAX_PAGE, CameraQuery, CatalogService, division_name
from xueliang.domain.archive import Crs
from xueliang.store.cameras import PageRequest, StoredCamera

router = APIRouter(tags=["cameras"], dependencies=[ARCHIVE_READ])
Catalog = Annotated[CatalogService, Depends(get_catalog)]


def camera_out(camera: StoredCamera) -> dict[str, Any]:
    body = camera.record.as_dict()
    body.update(
        id=camera.id,
        division_name=division_name(camera.record.division_code),
        owner_unit_name=camera.owner_unit_name,
        management_unit_name=camera.management_unit_name,
        has_stream_credentials=camera.has_credentials,
        findings=camera.findings,
        source=camera.source,
        created_at=camera.created_at,
        updated_at=camera.updated_at,
    )
    return body


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if bbox is None or not bbox.strip():
        return None
    parts = bbox.split(",")
    try:
        if len(parts) != 4:
            raise ValueError(bbox)
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError as exc:
        raise ApiError(
            422,
            "invalid_parameter",
            f"bbox 应为“最小经度,最小纬度,最大经度,最大纬度”四个数：{bbox}",
            f"bbox must be four numbers minLon,minLat,maxLon,maxLat: {bbox}",
            {"parameter": "bbox"},
        ) from exc
    return min_lon, min_lat, max_lon, max_lat


@router.get("/cameras", response_model=CameraPageOut, summary="List cameras / 摄像机列表")
def list_cameras(
    catalog: Catalog,
    division: Annotated[
        str | None, Query(description="行政区划代码，含下级 / division code, sub-divisions included (341500)")
    ] = None,
    unit: Annotated[str | None, Query(description="建设单位代码或名称 / owner unit code or name")] = None,
    network: Annotated[str | None, Query(description="所属网络代码或名称 / network code or label")] = None,
    camera_type: Annotated[str | None, Query(description="摄像机类型 / camera type code or label")] = None,
    point_class: Annotated[str | None, Query(description="点位类型 / point class (1, 2, 3 or 一类点 ...)")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="名称、地址、俗称或编码中的文字（两个字即可，如“路口”；6位以上数字另按编码前缀匹配） / "
            "text in name, address, common name or ID (two characters suffice; 6+ digits also match an ID prefix)",
        ),
    ] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (WGS-84)")] = None,
    sort: Literal["platform_id", "name", "install_time", "updated_at"] = "platform_id",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    with_total: Annotated[bool, Query(description="also count every matching camera (slower)")] = False,
) -> dict[str, Any]:
    query = CameraQuery(division, unit, network, camera_type, point_class, q, parse_bbox(bbox))
    page = catalog.list_cameras(query, PageRequest(sort, order, limit, cursor, with_total))
    return {"items": [camera_out(c) for c in page.items], "next_cursor": page.next_cursor, "total": page.total}


@router.get("/cameras/{platform_id}", response_model=CameraOut, summary="One camera / 摄像机档案")
def get_camera(platform_id: str, catalog: Catalog) -> dict[str, Any]:
    return camera_out(catalog.get_camera(platform_id))


@router.put(
    "/cameras/{platform_id}",
    dependencies=[ARCHIVE_MANAGE],
    response_model=CameraWriteOut,
    summary="Create or replace a camera / 新建或替换摄像机档案",
    responses={201: {"description": "created"}, 422: {"description": "rejected: the findings are in detail"}},
)
def put_camera(
    platform_id: str,
    body: CameraIn,
    response: Response,
    catalog: Catalog,
    crs: Annotated[Crs, Query(description="coordinate system of longitude/latitude")] = Crs.WGS84,
) -> dict[str, Any]:
    """The whole archive of one camera, through the archive validator: any error rejects it (422, with the
    findings in Chinese and English); warnings are stored with it. Fields left out become empty, except stream
    credentials when the same stream URL is sent back without them."""
    raw = body.model_dump(exclude_unset=True)
    result = catalog.put_camera(platform_id, raw, crs=crs)
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return {
        "created": result.created,
        "camera": camera_out(result.camera),
        "warnings": [finding_dict(f) for f in result.findings],
    }


@router.delete(
    "/cameras/{platform_id}", dependencies=[ARCHIVE_MANAGE], status_code=204, summary="Delete a camera / 删除摄像机档案"
)
def delete_camera(platform_id: str, catalog: Catalog) -> Response:
    catalog.delete_camera(platform_id)
    return Response(status_code=204)
