"""Per-device media settings for live video: RTP transport, SSRC check, stream limit, stream number

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

``media_transport`` is named from the platform's side (``tcp_passive``: the platform listens). ``max_streams``
NULL means the media node's default. SQLite adds each column with its CHECK in one ``ALTER TABLE ... ADD
COLUMN`` (a batch table copy would drop ``device`` with foreign keys on, cascading to its channels); PostgreSQL
adds the columns and then named CHECK constraints, as the models name them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CHECKS = {
    "media_transport": "media_transport IN ('udp', 'tcp_passive', 'tcp_active')",
    "max_streams": "max_streams IS NULL OR max_streams >= 0",
    "stream_number": "stream_number IN (0, 1)",
}
_SQLITE_COLUMNS = (
    "media_transport VARCHAR(16) DEFAULT 'udp' NOT NULL CONSTRAINT ck_device_media_transport CHECK ({media_transport})",
    "ssrc_check BOOLEAN DEFAULT 1 NOT NULL",
    "max_streams INTEGER CONSTRAINT ck_device_max_streams CHECK ({max_streams})",
    "stream_number INTEGER DEFAULT '0' NOT NULL CONSTRAINT ck_device_stream_number CHECK ({stream_number})",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for column in _SQLITE_COLUMNS:
            op.execute(f"ALTER TABLE device ADD COLUMN {column.format(**_CHECKS)}")
        return
    op.add_column("device", sa.Column("media_transport", sa.String(16), server_default="udp", nullable=False))
    op.add_column("device", sa.Column("ssrc_check", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("device", sa.Column("max_streams", sa.Integer(), nullable=True))
    op.add_column("device", sa.Column("stream_number", sa.Integer(), server_default="0", nullable=False))
    for name, condition in _CHECKS.items():
        op.create_check_constraint(op.f(f"ck_device_{name}"), "device", condition)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("stream_number", "max_streams", "ssrc_check", "media_transport"):
            op.execute(f"ALTER TABLE device DROP COLUMN {name}")  # SQLite >= 3.35
        return
    for name in _CHECKS:
        op.drop_constraint(op.f(f"ck_device_{name}"), "device", type_="check")
    for name in ("stream_number", "max_streams", "ssrc_check", "media_transport"):
        op.drop_column("device", name)
