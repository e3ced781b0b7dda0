"""Where a camera's live video comes from: the archive camera, its bound device channel, the device's media
settings, or its RTSP stream URL, resolved into a :class:`~xueliang.domain.streams.PlaySource`.

Precedence, first that applies:

1. the archive says RTSP (``access_protocol = rtsp``) and has a stream URL: an RTSP pull with the credentials
   decrypted (the source must never be logged);
2. a device channel bound to the camera (issue 3's catalog merge binds them by ID): GB/T 28181 to that device
   and channel; with several, the online one, then the most recently updated, collisions and gone ones last;
3. a device registered under the camera's own ID (an IPC that is its own channel): GB/T 28181 to the device;
4. a stream URL whatever the access protocol: RTSP.

An unknown camera is None; a known one with no source of any kind raises
:class:`~xueliang.domain.streams.UnknownCameraError` with a reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain.streams import MediaTransport, PlaySource, SourceKind, UnknownCameraError
from xueliang.store.crypto import Cipher, join_credentials
from xueliang.store.models import Camera, Device, DeviceChannel

__all__ = ["NO_SOURCE", "PlaySources", "resolve_play_source"]

NO_SOURCE = "摄像机没有可播放的视频源 / camera has no playable source (no bound device channel, no stream URL)"
RTSP = "rtsp"


class PlaySources:
    """Resolves cameras to play sources on a database (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher) -> None:
        self.sessions = sessions
        self.cipher = cipher

    def resolve_play_source(self, camera_platform_id: str) -> PlaySource | None:
        with self.sessions() as session:
            camera = session.execute(
                select(
                    Camera.id,
                    Camera.platform_id,
                    Camera.name,
                    Camera.access_protocol,
                    Camera.stream_url,
                    Camera.stream_credentials,
                ).where(Camera.platform_id == camera_platform_id)
            ).first()
            if camera is None:
                return None
            if (camera.access_protocol or "").lower() == RTSP and camera.stream_url:
                return self._rtsp(camera)
            bound = session.execute(
                select(DeviceChannel.channel_id, *_DEVICE_COLUMNS)
                .join(Device, Device.id == DeviceChannel.device_pk)
                .where(DeviceChannel.camera_id == camera.id)
                .order_by(
                    DeviceChannel.gone,
                    DeviceChannel.collision,
                    DeviceChannel.online.desc(),
                    DeviceChannel.updated_at.desc(),
                    DeviceChannel.id,
                )
                .limit(1)
            ).first()
            if bound is not None:
                return _gb(camera, bound, bound.channel_id)
            device = session.execute(select(*_DEVICE_COLUMNS).where(Device.device_id == camera.platform_id)).first()
            if device is not None:
                return _gb(camera, device, device.device_id)
        if camera.stream_url:
            return self._rtsp(camera)
        raise UnknownCameraError(NO_SOURCE)

    def _rtsp(self, camera: Any) -> PlaySource:
        credentials = self.cipher.decrypt(camera.stream_credentials) if camera.stream_credentials else None
        return PlaySource(
            camera_id=camera.platform_id,
            kind=SourceKind.RTSP,
            rtsp_url=join_credentials(camera.stream_url, credentials),
            name=camera.name,
        )


_DEVICE_COLUMNS = (
    Device.device_id,
    Device.media_transport,
    Device.ssrc_check,
    Device.max_streams,
    Device.stream_number,
)


def _gb(camera: Any, device: Any, channel_id: str) -> PlaySource:
    return PlaySource(
        camera_id=camera.platform_id,
        kind=SourceKind.GB28181,
        device_id=device.device_id,
        channel_id=channel_id,
        transport=MediaTransport(device.media_transport),
        ssrc_check=bool(device.ssrc_check),
        max_streams=device.max_streams,
        stream_number=device.stream_number,
        name=camera.name,
    )


def resolve_play_source(sessions: sessionmaker[Session], cipher: Cipher, camera_platform_id: str) -> PlaySource | None:
    """:meth:`PlaySources.resolve_play_source` without keeping a resolver."""
    return PlaySources(sessions, cipher).resolve_play_source(camera_platform_id)
