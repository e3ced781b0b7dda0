"""GB/T 28181 devices: devices, their channels (catalog), online history, alarms, refused registrations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

``device_channel.camera_id`` binds a device's video channel to the archive camera it is (the mapping between
the platform ID and (device, channel ID) that signalling uses); a camera deleted from the archive leaves the
channel unbound. ``online_event`` and ``alarm`` are history tables that grow without end (prune by time).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", _code(20), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("manufacturer", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("firmware", sa.Text(), nullable=True),
        sa.Column("device_type", _code(3), nullable=True),
        sa.Column("transport", sa.String(length=3), nullable=True),
        sa.Column("charset", sa.String(length=16), nullable=True),
        sa.Column("edition", sa.String(length=4), nullable=True),
        sa.Column("remote_host", sa.String(length=64), nullable=True),
        sa.Column("remote_port", sa.Integer(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("expires", sa.Integer(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("online_changed_at", sa.DateTime(), nullable=True),
        sa.Column("channel_count", sa.Integer(), nullable=True),
        sa.Column("catalog_status", sa.String(length=16), nullable=False),
        sa.Column("catalog_received", sa.Integer(), nullable=False),
        sa.Column("catalog_expected", sa.Integer(), nullable=True),
        sa.Column("catalog_synced_at", sa.DateTime(), nullable=True),
        sa.Column("pre_registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("transport IN ('udp', 'tcp')", name=op.f("ck_device_transport")),
        sa.CheckConstraint(
            "catalog_status IN ('none', 'complete', 'partial', 'timeout')", name=op.f("ck_device_catalog_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("device_id", name=op.f("uq_device_device_id")),
    )
    op.create_index("ix_device_online_device_id", "device", ["online", "device_id"])

    op.create_table(
        "device_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("channel_id", _code(64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("civil_code", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("collision", sa.Boolean(), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.Column("item_digest", sa.String(length=32), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('camera', 'region', 'system', 'business_group', 'virtual_org', 'device', 'alarm', 'other')",
            name=op.f("ck_device_channel_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_device_channel_device_pk_device"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_device_channel_camera_id_camera"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_channel")),
        sa.UniqueConstraint("device_pk", "channel_id", name=op.f("uq_device_channel_device_pk_channel_id")),
    )
    op.create_index("ix_device_channel_camera_id", "device_channel", ["camera_id"])
    op.create_index("ix_device_channel_channel_id", "device_channel", ["channel_id"])

    op.create_table(
        "online_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", _code(20), nullable=False),
        sa.Column("channel_id", _code(64), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_event")),
    )
    op.create_index("ix_online_event_device_id_at", "online_event", ["device_id", "at"])

    op.create_table(
        "alarm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", _code(20), nullable=False),
        sa.Column("channel_id", _code(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("method", sa.Integer(), nullable=True),
        sa.Column("alarm_type", sa.Text(), nullable=True),
        sa.Column("alarm_time", sa.DateTime(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm")),
    )
    op.create_index("ix_alarm_received_at_id", "alarm", ["received_at", "id"])
    op.create_index("ix_alarm_device_id_received_at_id", "alarm", ["device_id", "received_at", "id"])

    op.create_table(
        "device_rejection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", _code(64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_rejection")),
        sa.UniqueConstraint("device_id", name=op.f("uq_device_rejection_device_id")),
    )


def downgrade() -> None:
    op.drop_table("device_rejection")
    op.drop_index("ix_alarm_device_id_received_at_id", table_name="alarm")
    op.drop_index("ix_alarm_received_at_id", table_name="alarm")
    op.drop_table("alarm")
    op.drop_index("ix_online_event_device_id_at", table_name="online_event")
    op.drop_table("online_event")
    op.drop_index("ix_device_channel_channel_id", table_name="device_channel")
    op.drop_index("ix_device_channel_camera_id", table_name="device_channel")
    op.drop_table("device_channel")
    op.drop_index("ix_device_online_device_id", table_name="device")
    op.drop_table("device")
