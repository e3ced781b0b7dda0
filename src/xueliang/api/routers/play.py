"""Live play: open a viewing session on a camera, end it, list and stop live streams.

``POST /api/v1/cameras/{id}/play`` asks the policy first (:class:`~xueliang.sharing.video_access.VideoAccess`):
the unit's own camera, or a valid grant, decides whether and how (a desensitised grant forces the masked variant:
the client cannot turn it off). It returns once the stream is ready (a keyframe is there to start on) with absolute
URLs for each output, each carrying a short-lived play token naming the session, camera, treatment and grant; or a
4xx/5xx whose ``detail`` says what went wrong (no grant, unit stream limit, device offline, device refused, no
media, unknown camera, device stream limit, audit log unavailable). The start, the refusal and the end of every
session are audit records; the start is written before any URL is handed out (fail-closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field

from xueliang.api.auth_deps import audit_unavailable, require_action
from xueliang.api.deps import Caller, get_caller
from xueliang.api.errors import ApiError
from xueliang.api.routers.live import Media
from xueliang.app import MediaRuntime
from xueliang.domain.audit import AuditAction, AuditEvent, AuditUnavailableError
from xueliang.domain.ids import id_error
from xueliang.domain.policy import AdminAction, CameraRef
from xueliang.domain.principals import Mode, Principal, Treatment
from xueliang.domain.streams import PlayError
from xueliang.media.play_sessions import PlaySession
from xueliang.sharing.tokens import PlayClaims
from xueliang.sharing.video_access import AccessDeniedError, Ticket
from xueliang.store.models import utcnow

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])

ERROR_CODES = {
    404: "camera_not_playable",
    409: "device_offline",
    429: "stream_limit",
    502: "device_refused",
    503: "media_unavailable",
    504: "no_media",
}


class PlayRequest(BaseModel):
    variant: Literal["native", "h264", "masked"] | None = Field(
        default=None,
        description="native (the camera's codec), h264 (H.265 transcoded) or masked (faces, plates and privacy "
        "masks blurred); default native. A desensitised grant always gets masked, whatever is asked",
    )
    formats: list[Literal["flv", "ws_flv", "hls", "snapshot"]] | None = Field(
        default=None, description="outputs the client will use (all are returned)"
    )


class PlayOut(BaseModel):
    session: str
    camera_id: str
    stream_id: str
    codec: str | None
    variant: str
    variants: list[str]
    width: int | None
    height: int | None
    flv: str
    ws_flv: str
    hls: str
    snapshot: str | None = Field(description="absent when the grant does not allow snapshots")
    treatment: str = Field(description="full, or masked (desensitised: faces, plates and privacy masks blurred)")
    grant: str | None = Field(description="the grant this session uses; null for the unit's own camera")
    expires_at: datetime


class PlaySessionOut(BaseModel):
    session: str
    camera_id: str
    unit: str | None
    grant: str | None
    variant: str
    connections: int
    age_s: float


class StreamOut(BaseModel):
    stream_id: str
    camera_id: str
    source_kind: str
    transport: str | None
    codec: str | None
    width: int | None
    height: int | None
    fps: float
    bitrate: float
    uptime_s: float
    viewers: int
    variants: list[str]
    ready: bool
    sessions: list[PlaySessionOut]


class StreamsOut(BaseModel):
    node: dict[str, object]
    items: list[StreamOut]


def _play_error(exc: PlayError, caller: Caller) -> ApiError:
    message = exc.reason if caller.language == "en" else exc.zh
    return ApiError(exc.status, ERROR_CODES.get(exc.status, "play_failed"), exc.zh, exc.reason, message)


def _base_urls(request: Request, media: MediaRuntime) -> tuple[str, str]:
    """(http base, ws base) of the media node's outputs as this viewer reaches them: the configured public URL,
    else the scheme and host the viewer used to reach the API (so the URL works on the viewer's network)."""
    base = media.public_url or f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    base = base.rstrip("/")
    return base, "ws" + base.removeprefix("http")


def _play_out(request: Request, media: MediaRuntime, session: PlaySession, ticket: Ticket, snapshot: bool) -> PlayOut:
    expires_at = int(time.time()) + media.token_ttl
    token = media.tokens.sign(
        PlayClaims(
            session=session.id,
            camera_id=session.camera_id,
            stream_id=session.stream_id,
            variant=session.viewing.variant,
            treatment=ticket.treatment.value,
            grant=ticket.grant_id,
            expires_at=expires_at,
            snapshot=snapshot,
            viewer=ticket.principal.id,
            unit=ticket.principal.unit_code,
        )
    )
    http, ws = _base_urls(request, media)
    path = f"/media/v1/sessions/{session.id}"
    query = f"?token={token}"
    hub = session.viewing.hub
    params = hub.params
    return PlayOut(
        session=session.id,
        camera_id=session.camera_id,
        stream_id=session.stream_id,
        codec=hub.codec.value if hub.codec is not None else None,
        variant=session.viewing.variant,
        variants=list(session.viewing.variants),
        width=params.width if params else None,
        height=params.height if params else None,
        flv=f"{http}{path}/live.flv{query}",
        ws_flv=f"{ws}{path}/live.flv{query}",
        hls=f"{http}{path}/index.m3u8{query}",
        snapshot=f"{http}{path}/snapshot.jpg{query}" if snapshot else None,
        treatment=ticket.treatment.value,
        grant=ticket.grant_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )


def _not_playable(camera_id: str) -> ApiError:
    return ApiError(
        404,
        "camera_not_playable",
        f"摄像机 {camera_id} 不存在或没有可播放的视频源",
        f"camera {camera_id} does not exist or has no playable source",
        camera_id,
    )


async def _ticket(media: MediaRuntime, caller: Caller, camera: CameraRef, variant: str | None) -> Ticket:
    """The policy's answer for this play (asking for masked is the desensitised mode), or 403/503."""
    mode = Mode.DESENSITISED if variant == "masked" else Mode.LIVE
    try:
        return await asyncio.to_thread(media.access.authorise, caller.principal, mode, camera, caller.source_address)
    except AccessDeniedError as exc:
        raise ApiError(403, "no_grant", exc.zh, exc.en, exc.zh if caller.language != "en" else exc.en) from exc
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc


async def _record(media: MediaRuntime, action: AuditAction, ticket: Ticket, **details: str) -> None:
    try:
        await asyncio.to_thread(media.access.record, action, ticket, **details)
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc


@router.post("/cameras/{camera_id}/play", response_model=PlayOut, summary="Open a viewing session on a camera")
async def play(
    camera_id: str,
    request: Request,
    media: Media,
    caller: Annotated[Caller, Depends(get_caller)],
    body: Annotated[PlayRequest | None, Body()] = None,
) -> PlayOut:
    if id_error(camera_id) is not None:
        raise ApiError(
            404, "camera_not_found", f"摄像机编号 {camera_id} 无效", f"{camera_id} is not a valid camera ID", camera_id
        )
    camera = await asyncio.to_thread(media.access.camera, camera_id)
    if camera is None:
        raise _not_playable(camera_id)
    ticket = await _ticket(media, caller, camera, body.variant if body else None)
    # the grant decides: desensitised means masked whatever the client asked
    variant = "masked" if ticket.treatment is Treatment.MASKED else ((body.variant if body else None) or "native")
    unit = caller.principal.unit_code
    if media.unit_max_streams and media.sessions.count(unit) >= media.unit_max_streams:
        await _record(media, AuditAction.PLAY_REFUSED, ticket, outcome="refused", reason="unit stream limit")
        raise ApiError(
            429,
            "unit_stream_limit",
            f"本单位同时观看的视频已达上限（{media.unit_max_streams} 路）",
            f"your unit already holds {media.unit_max_streams} viewing sessions, its limit",
        )
    try:
        source = await asyncio.to_thread(media.play_sources.resolve_play_source, camera_id)
    except PlayError as exc:
        raise _play_error(exc, caller) from exc
    if source is None:
        raise _not_playable(camera_id)
    try:
        session = await media.sessions.open(source, variant, unit=unit, grant=ticket.grant_id)
    except PlayError as exc:
        await _record(media, AuditAction.PLAY_REFUSED, ticket, outcome="error", reason=exc.reason)
        raise _play_error(exc, caller) from exc
    try:
        await _record(media, AuditAction.PLAY_START, ticket, session_id=session.id, variant=variant)
    except ApiError:
        await media.sessions.close(session.id, "the audit log is unavailable")  # no record, no video
        raise
    session.ticket = ticket  # from now on, however the session ends, its end is recorded
    snapshot = await asyncio.to_thread(media.access.allows, caller.principal, Mode.SNAPSHOT, camera)
    return _play_out(request, media, session, ticket, snapshot)


@router.delete("/play-sessions/{session_id}", status_code=204, summary="End one viewing session")
async def end_session(session_id: str, media: Media, caller: Annotated[Caller, Depends(get_caller)]) -> Response:
    """The viewer ends their own session (its end is recorded by the session's end hook)."""
    session = media.sessions.get(session_id)
    ticket = session.ticket if session is not None else None
    if session is None or not isinstance(ticket, Ticket) or ticket.principal.id != caller.principal.id:
        raise ApiError(404, "play_session_not_found", "播放会话不存在或已结束", "no such viewing session")
    await media.sessions.close(session_id, "ended by the viewer")
    return Response(status_code=204)


StreamsManager = Annotated[Principal, Depends(require_action(AdminAction.STREAMS_MANAGE))]


@router.get("/streams", response_model=StreamsOut, summary="Live streams of this media node, with their sessions")
async def list_streams(media: Media, _manager: StreamsManager) -> StreamsOut:
    now = time.monotonic()
    items = []
    for info in media.node.manager.streams():
        sessions = [
            PlaySessionOut(
                session=s.id,
                camera_id=s.camera_id,
                unit=s.unit,
                grant=s.grant,
                variant=s.viewing.variant,
                connections=s.connections,
                age_s=round(now - s.opened_at, 1),
            )
            for s in media.sessions.sessions(info.stream_id)
        ]
        items.append(
            StreamOut(
                stream_id=info.stream_id,
                camera_id=info.camera_id,
                source_kind=info.source_kind,
                transport=info.transport,
                codec=info.codec,
                width=info.width,
                height=info.height,
                fps=round(info.fps, 2),
                bitrate=round(info.bitrate),
                uptime_s=round(info.uptime_s, 1),
                viewers=info.viewers,
                variants=list(info.variants),
                ready=info.ready,
                sessions=sessions,
            )
        )
    return StreamsOut(node=media.node.load(), items=items)


@router.delete("/streams/{stream_id}", status_code=204, summary="Stop a live stream for every viewer")
async def stop_stream(stream_id: str, media: Media, manager: StreamsManager, request: Request) -> Response:
    sessions = media.sessions.sessions(stream_id)
    if not await media.node.manager.stop_stream(stream_id, "stopped by an operator"):
        raise ApiError(404, "stream_not_found", "该视频流不存在或已停止", "no such live stream")
    for session in sessions:
        await media.sessions.close(session.id, "stopped by an operator")
    source = request.client.host if request.client is not None else None
    event = AuditEvent(
        AuditAction.STREAM_STOP,
        utcnow(),
        manager.id,
        actor_unit=manager.unit_code,
        source_address=source,
        details={"stream": stream_id, "sessions": str(len(sessions))},
    )
    try:
        await asyncio.to_thread(media.access.audit.record, event)
    except AuditUnavailableError:
        log.error("stream_stop of %s not recorded: the audit log is unavailable", stream_id)
    return Response(status_code=204)
