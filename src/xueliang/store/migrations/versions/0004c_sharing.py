"""Sharing: share directory, share requests with their cameras and approval steps, grants, sharing events

Revision ID: 0004c
Revises: 0003
Create Date: 2026-12-01

A branch of its own (``migrate`` applies every head). Units and cameras are referenced by ``unit.id`` and
``camera.id``; users only by their string id (the accounts tables arrive on another branch, so no foreign key).
A camera leaving the archive takes its offers and its rows in requests and grants with it; units are RESTRICTed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004c"
down_revision = "0003"
branch_labels = None
depends_on = None


def _fk(column: str, table: str, ondelete: str, source: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "share_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("division_code", sa.String(12), nullable=True),
        sa.Column("modes", sa.JSON(), nullable=False),
        sa.Column("sensitivity", sa.String(8), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("owner_unit_id", "unit", "RESTRICT", "share_offer"),
        _fk("camera_id", "camera", "CASCADE", "share_offer"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_offer")),
    )
    op.create_index("ix_share_offer_owner_unit_id", "share_offer", ["owner_unit_id"])
    op.create_index("ix_share_offer_camera_id", "share_offer", ["camera_id"])

    op.create_table(
        "share_request",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("requester_unit_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.String(64), nullable=False),
        sa.Column("modes", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("case_number", sa.String(100), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=True),
        sa.Column("sensitivity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        _fk("requester_unit_id", "unit", "RESTRICT", "share_request"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_request")),
    )
    op.create_index("ix_share_request_requester_unit_id_status", "share_request", ["requester_unit_id", "status"])

    op.create_table(
        "share_request_camera",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_request.id"],
            name=op.f("fk_share_request_camera_request_id_share_request"),
            ondelete="CASCADE",
        ),
        _fk("camera_id", "camera", "CASCADE", "share_request_camera"),
        sa.PrimaryKeyConstraint("request_id", "camera_id", name=op.f("pk_share_request_camera")),
    )

    op.create_table(
        "approval_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver_id", sa.String(64), nullable=True),
        sa.Column("comment", sa.String(1000), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_request.id"],
            name=op.f("fk_approval_step_request_id_share_request"),
            ondelete="CASCADE",
        ),
        _fk("unit_id", "unit", "RESTRICT", "approval_step"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_step")),
    )
    op.create_index("ix_approval_step_request_id_position", "approval_step", ["request_id", "position"], unique=True)
    op.create_index("ix_approval_step_unit_id_status", "approval_step", ["unit_id", "status"])

    op.create_table(
        "share_grant",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("grantee_unit_id", sa.Integer(), nullable=False),
        sa.Column("grantee_principal_id", sa.String(64), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("divisions", sa.JSON(), nullable=False),
        sa.Column("modes", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_request.id"],
            name=op.f("fk_share_grant_request_id_share_request"),
            ondelete="SET NULL",
        ),
        _fk("grantee_unit_id", "unit", "RESTRICT", "share_grant"),
        _fk("owner_unit_id", "unit", "RESTRICT", "share_grant"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_grant")),
    )
    op.create_index("ix_share_grant_status_valid_until", "share_grant", ["status", "valid_until"])
    op.create_index("ix_share_grant_grantee_unit_id", "share_grant", ["grantee_unit_id"])

    op.create_table(
        "share_grant_camera",
        sa.Column("grant_id", sa.String(32), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["share_grant.id"],
            name=op.f("fk_share_grant_camera_grant_id_share_grant"),
            ondelete="CASCADE",
        ),
        _fk("camera_id", "camera", "CASCADE", "share_grant_camera"),
        sa.PrimaryKeyConstraint("grant_id", "camera_id", name=op.f("pk_share_grant_camera")),
    )
    op.create_index("ix_share_grant_camera_camera_id", "share_grant_camera", ["camera_id"])

    op.create_table(
        "sharing_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("grant_id", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("message_zh", sa.String(500), nullable=False),
        sa.Column("message_en", sa.String(500), nullable=False),
        _fk("unit_id", "unit", "CASCADE", "sharing_event"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_event")),
    )
    op.create_index("ix_sharing_event_unit_id_id", "sharing_event", ["unit_id", "id"])


def downgrade() -> None:
    for table in (
        "sharing_event",
        "share_grant_camera",
        "share_grant",
        "approval_step",
        "share_request_camera",
        "share_request",
        "share_offer",
    ):
        op.drop_table(table)
