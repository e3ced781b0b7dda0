"""Cameras resolved to play sources, and the per-device media settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain.archive import CameraRecord
from xueliang.domain.streams import MediaTransport, SourceKind, UnknownCameraError
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.cameras import CameraRepository, camera_row
from xueliang.store.crypto import Cipher, cipher_for
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.device_records import MediaSettings
from xueliang.store.device_repository import DeviceRepository
from xueliang.store.device_rows import wire_dict
from xueliang.store.devices import DeviceStore
from xueliang.store.models import Camera, Device
from xueliang.store.play_sources import PlaySources, resolve_play_source

NVR = "34150200001180000001"
IPC = "34150200001320000077"
CAMERA = "34150200001310000001"
OTHER_CAMERA = "34150200001310000002"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def cipher(tmp_path: Path) -> Cipher:
    return cipher_for(tmp_path)


@pytest.fixture
def store(sessions: sessionmaker[Session], cipher: Cipher) -> DeviceStore:
    return DeviceStore(sessions, cipher)


def add_camera(sessions: sessionmaker[Session], cipher: Cipher, platform_id: str, **fields: object) -> int:
    record = CameraRecord(platform_id=platform_id, name="金安区梅山路东", division_code="341502", **fields)  # type: ignore[arg-type]
    row = camera_row(record, unit_ids={}, cipher=cipher, findings=[], source="import", now=T0)
    with transaction(sessions) as session:
        CameraRepository(session).insert_many([row])
        return int(session.scalar(select(Camera.id).where(Camera.platform_id == platform_id)) or 0)


def bind(sessions: sessionmaker[Session], device_id: str, channel_id: str, camera_pk: int, **row: object) -> None:
    with transaction(sessions) as session:
        repository = DeviceRepository(session)
        pk = repository.ensure_device(device_id, T0)
        values: dict[str, object] = {
            "device_pk": pk,
            "channel_id": channel_id,
            "kind": "camera",
            "name": "通道",
            "online": True,
            "collision": False,
            "gone": False,
            "camera_id": camera_pk,
            "item": wire_dict(CatalogItem(device_id=channel_id)),
            "item_digest": "",
            "findings": [],
            "updated_at": T0,
        }
        values.update(row)
        repository.insert_channels([values])


def test_unknown_camera_is_none(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    assert resolve_play_source(sessions, cipher, CAMERA) is None


def test_bound_channel_with_device_settings(
    sessions: sessionmaker[Session], cipher: Cipher, store: DeviceStore
) -> None:
    camera_pk = add_camera(sessions, cipher, CAMERA)
    bind(sessions, NVR, CAMERA, camera_pk)
    resolver = PlaySources(sessions, cipher)
    source = resolver.resolve_play_source(CAMERA)
    assert source is not None
    assert (source.kind, source.device_id, source.channel_id) == (SourceKind.GB28181, NVR, CAMERA)
    assert (source.transport, source.ssrc_check, source.max_streams, source.stream_number) == (
        MediaTransport.UDP,
        True,
        None,
        0,
    )
    assert source.name == "金安区梅山路东" and source.stream_id == f"{CAMERA}-0"

    assert store.set_media_settings(NVR, MediaSettings("tcp_active", False, 2, 1))
    source = resolver.resolve_play_source(CAMERA)
    assert source is not None
    assert (source.transport, source.ssrc_check, source.max_streams, source.stream_number) == (
        MediaTransport.TCP_ACTIVE,
        False,
        2,
        1,
    )
    assert source.stream_id == f"{CAMERA}-1"


def test_the_live_binding_wins_over_a_gone_or_colliding_one(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    camera_pk = add_camera(sessions, cipher, CAMERA)
    bind(sessions, NVR, CAMERA, camera_pk, gone=True, updated_at=T0 + dt.timedelta(hours=1))
    bind(sessions, "34150200001180000002", CAMERA, camera_pk, collision=True)
    bind(sessions, "34150200001180000003", CAMERA, camera_pk, online=False)
    source = resolve_play_source(sessions, cipher, CAMERA)
    assert source is not None and source.device_id == "34150200001180000003"


def test_an_ipc_registered_under_the_camera_id(
    sessions: sessionmaker[Session], cipher: Cipher, store: DeviceStore
) -> None:
    add_camera(sessions, cipher, IPC)
    store.add_device(IPC)
    source = resolve_play_source(sessions, cipher, IPC)
    assert source is not None and (source.device_id, source.channel_id) == (IPC, IPC)


def test_rtsp_camera_with_decrypted_credentials(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    url = "rtsp://admin:Pa55word@10.1.2.3:554/Streaming/Channels/101"
    add_camera(sessions, cipher, CAMERA, access_protocol="rtsp", stream_url=url)
    with sessions() as session:
        stored = session.execute(select(Camera.stream_url, Camera.stream_credentials)).one()
    assert "Pa55word" not in stored.stream_url and "Pa55word" not in (stored.stream_credentials or "")
    source = resolve_play_source(sessions, cipher, CAMERA)
    assert source is not None and source.kind is SourceKind.RTSP and source.rtsp_url == url
    assert source.device_id is None


def test_rtsp_archive_wins_over_a_binding_and_url_is_the_last_resort(
    sessions: sessionmaker[Session], cipher: Cipher
) -> None:
    rtsp_pk = add_camera(sessions, cipher, CAMERA, access_protocol="rtsp", stream_url="rtsp://10.1.2.3/a")
    bind(sessions, NVR, CAMERA, rtsp_pk)
    source = resolve_play_source(sessions, cipher, CAMERA)
    assert source is not None and source.kind is SourceKind.RTSP and source.rtsp_url == "rtsp://10.1.2.3/a"
    add_camera(sessions, cipher, OTHER_CAMERA, access_protocol="gb28181", stream_url="rtsp://10.1.2.4/b")
    source = resolve_play_source(sessions, cipher, OTHER_CAMERA)
    assert source is not None and source.kind is SourceKind.RTSP


def test_a_camera_without_any_source(sessions: sessionmaker[Session], cipher: Cipher) -> None:
    add_camera(sessions, cipher, CAMERA)
    with pytest.raises(UnknownCameraError, match="no playable source"):
        resolve_play_source(sessions, cipher, CAMERA)


def test_media_settings_defaults_updates_and_validation(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    assert store.media_settings(NVR) is None
    assert store.set_media_settings(NVR, MediaSettings()) is False
    store.add_device(NVR)
    assert store.media_settings(NVR) == MediaSettings("udp", True, None, 0)
    assert store.set_media_settings(NVR, MediaSettings("tcp_passive", False, 0, 1)) is True
    assert store.media_settings(NVR) == MediaSettings("tcp_passive", False, 0, 1)
    for bad in ({"transport": "sctp"}, {"max_streams": -1}, {"stream_number": 2}):
        with pytest.raises(ValueError):
            MediaSettings(**bad)  # type: ignore[arg-type]


def test_the_database_refuses_bad_values(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    store.add_device(NVR)
    for values in ({"media_transport": "sctp"}, {"stream_number": 3}, {"max_streams": -2}):
        with pytest.raises(Exception, match=r"(?i)check|constraint"), transaction(sessions) as session:
            session.execute(update(Device).where(Device.device_id == NVR).values(**values))
    assert store.media_settings(NVR) == MediaSettings()


def test_migration_0003_downgrades_and_upgrades_keeping_devices(engine: Engine, store: DeviceStore) -> None:
    from alembic import command

    from xueliang.store.db import alembic_config, migrate

    store.add_device(NVR, name="一号NVR")
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    migrate(engine)
    assert store.media_settings(NVR) == MediaSettings()
    assert store.get_device(NVR) is not None
