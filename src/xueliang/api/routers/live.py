"""The media node's viewer outputs: HTTP-FLV, WebSocket-FLV, HLS (fMP4) and JPEG snapshots of a viewing session.

Every URL carries the session's play token (``?token=``), signed by the API side and verified here with the
public key only; no other credential is needed, so the URLs work in any player. The token must name the session
in the path. Answers carry ``Access-Control-Allow-Origin: *`` (players fetch from the console's origin) and are
never cached. Tokens never reach a log: the access log is configured without query strings (``cli.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse

from xueliang.api.deps import get_platform
from xueliang.api.errors import ApiError
from xueliang.app import MediaRuntime
from xueliang.domain.audit import AuditAction, AuditUnavailableError
from xueliang.media.hls import HlsStream
from xueliang.media.play_sessions import PlaySession
from xueliang.media.snapshot import SnapshotError
from xueliang.media.viewers import HevcMode, flv_stream
from xueliang.sharing.tokens import PlayClaims, PlayTokenError
from xueliang.sharing.video_access import Ticket

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/media/v1/sessions", tags=["live"], include_in_schema=True)

CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
HLS_FIRST_SEGMENT_TIMEOUT_S = 10.0
WS_CLOSE_ENDED = 4000  # application close code: the session or stream ended
WS_CLOSE_REFUSED = 4403


def get_media(request: Request) -> MediaRuntime:
    media = get_platform(request).media
    if media is None:
        raise ApiError(503, "media_not_running", "本进程未运行媒体节点", "the media node does not run in this process")
    return media


Media = Annotated[MediaRuntime, Depends(get_media)]
Token = Annotated[str, Query(max_length=4096, description="play token from the play call")]


def _claims(media: MediaRuntime, session_id: str, token: str) -> PlayClaims:
    try:
        claims = media.tokens.verify(token)
    except PlayTokenError as exc:
        raise ApiError(403, "play_token_refused", f"播放令牌无效：{exc}", str(exc)) from exc
    if claims.session != session_id:
        raise ApiError(403, "play_token_refused", "播放令牌与会话不符", "the play token is for another session")
    return claims


def _session(media: MediaRuntime, session_id: str, token: str) -> PlaySession:
    """The session the token opens, or a 403/410 saying why not. A session ended by a revoked grant is gone."""
    claims = _claims(media, session_id, token)
    session = media.sessions.get(session_id)
    if session is None:
        raise ApiError(410, "play_session_ended", "播放会话已结束，请重新播放", "the viewing session ended; play again")
    if claims.camera_id != session.camera_id or claims.variant != session.viewing.variant:
        raise ApiError(403, "play_token_refused", "播放令牌与会话不符", "the play token does not match the session")
    return session


@router.get("/{session_id}/live.flv", summary="HTTP-FLV of a viewing session")
async def http_flv(session_id: str, token: Token, media: Media, hevc: HevcMode = "codec12") -> StreamingResponse:
    session = _session(media, session_id, token)
    viewer = session.viewing.hub.add_viewer()

    async def body() -> Any:
        async with media.sessions.connection(session, viewer.close):
            async for chunk in flv_stream(session.viewing.hub, hevc_mode=hevc, viewer=viewer):
                yield chunk

    return StreamingResponse(body(), media_type="video/x-flv", headers=CORS)


@router.websocket("/{session_id}/live.flv")
async def ws_flv(websocket: WebSocket, session_id: str, token: str = "", hevc: HevcMode = "codec12") -> None:
    media = get_platform_media(websocket)
    try:
        session = _session(media, session_id, token) if media is not None else None
    except ApiError as exc:
        await websocket.close(code=WS_CLOSE_REFUSED, reason=exc.en[:120])
        return
    if session is None:
        await websocket.close(code=WS_CLOSE_REFUSED, reason="the media node does not run in this process")
        return
    await websocket.accept()
    viewer = session.viewing.hub.add_viewer()
    try:
        async with media.sessions.connection(session, viewer.close):  # type: ignore[union-attr]
            async for chunk in flv_stream(session.viewing.hub, hevc_mode=hevc, viewer=viewer):
                await websocket.send_bytes(chunk)
        await websocket.close(code=WS_CLOSE_ENDED, reason=(session.close_reason or "stream ended")[:120])
    except WebSocketDisconnect:
        pass


def get_platform_media(websocket: WebSocket) -> MediaRuntime | None:
    media: MediaRuntime | None = websocket.app.state.platform.media
    return media


@router.get("/{session_id}/index.m3u8", summary="HLS live playlist (fMP4 segments) of a viewing session")
async def hls_playlist(session_id: str, token: Token, media: Media) -> Response:
    session = _session(media, session_id, token)
    media.sessions.touch(session)
    stream = media.node.hls.get(session.viewing.hub)
    if not await stream.wait_segments(1, timeout=HLS_FIRST_SEGMENT_TIMEOUT_S):
        raise ApiError(504, "hls_not_ready", "HLS 分片尚未生成", "no HLS segment yet: the stream sends no video")
    return Response(stream.playlist(f"token={token}"), media_type="application/vnd.apple.mpegurl", headers=CORS)


def _hls_part(media: MediaRuntime, session_id: str, token: str, part: Callable[[HlsStream], bytes | None]) -> Response:
    session = _session(media, session_id, token)
    media.sessions.touch(session)
    data = part(media.node.hls.get(session.viewing.hub))
    if data is None:
        raise ApiError(404, "hls_segment_gone", "分片已过期", "that segment is gone (the player fell behind)")
    return Response(data, media_type="video/mp4", headers=CORS)


@router.get("/{session_id}/init-{init_id}.mp4", summary="HLS initialisation segment")
async def hls_init(session_id: str, init_id: int, token: Token, media: Media) -> Response:
    return _hls_part(media, session_id, token, lambda stream: stream.init_segment(init_id))


@router.get("/{session_id}/seg-{sequence}.m4s", summary="HLS media segment")
async def hls_segment(session_id: str, sequence: int, token: Token, media: Media) -> Response:
    return _hls_part(media, session_id, token, lambda stream: stream.segment(sequence))


@router.get("/{session_id}/snapshot.jpg", summary="JPEG of the stream's latest keyframe")
async def snapshot(session_id: str, token: Token, media: Media) -> Response:
    if not _claims(media, session_id, token).snapshot:
        raise ApiError(403, "no_grant", "授权不含抓图", "the grant does not allow snapshots")
    session = _session(media, session_id, token)
    media.sessions.touch(session)
    try:
        picture = await media.node.snapshots.take(session.viewing.hub)
    except SnapshotError as exc:
        raise ApiError(503, "snapshot_unavailable", "暂无可用画面", str(exc)) from exc
    if isinstance(session.ticket, Ticket):  # recorded before it is served: no record, no picture
        try:
            await asyncio.to_thread(media.access.record, AuditAction.SNAPSHOT, session.ticket, session_id=session.id)
        except AuditUnavailableError as exc:
            raise ApiError(
                503, "audit_unavailable", "审计记录暂不可写，操作已拒绝", "the audit log is unavailable"
            ) from exc
    return Response(picture.jpeg, media_type="image/jpeg", headers=CORS)
