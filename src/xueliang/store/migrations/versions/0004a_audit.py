"""Audit log: append-only hash-chained ``audit_record`` and the writer's ``audit_outbox``

Revision ID: 0004a
Revises: 0003
Create Date: 2026-12-01

``audit_record`` refuses UPDATE and DELETE: a plpgsql trigger on PostgreSQL, ``RAISE(ABORT)`` triggers on
SQLite. Retention pruning (older than 180 days) is a maintenance step that lifts the triggers inside its own
transaction (see ``xueliang.store.audit``: not built yet); nothing else deletes.

The DDL is spelled out here (not imported) so this migration stays what it was when it ran. The import of
``xueliang.store.audit`` below only registers its tables in ``Base.metadata`` for Alembic's comparisons (the
schema test), until the models module imports it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.store.audit  # noqa: F401  (registers audit_record / audit_outbox in Base.metadata)

revision = "0004a"
down_revision = "0003"
branch_labels = None
depends_on = None

_PG_TRIGGERS = (
    """CREATE FUNCTION audit_record_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$""",
    "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
    "FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_change()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: DELETE refused'); END",
)


def upgrade() -> None:
    op.create_table(
        "audit_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_unit", sa.String(64)),
        sa.Column("camera_id", sa.String(64)),
        sa.Column("grant_id", sa.String(64)),
        sa.Column("session_id", sa.String(128)),
        sa.Column("source_address", sa.String(64)),
        sa.Column("purpose", sa.Text()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(128), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("hash_alg", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_record_seq")),
        sa.CheckConstraint("hash_alg IN ('sha256', 'sm3')", name=op.f("ck_audit_record_hash_alg")),
    )
    op.create_index("ix_audit_record_at", "audit_record", ["at"])
    op.create_index("ix_audit_record_actor_seq", "audit_record", ["actor", "seq"])
    op.create_index("ix_audit_record_actor_unit_seq", "audit_record", ["actor_unit", "seq"])
    op.create_index("ix_audit_record_camera_id_seq", "audit_record", ["camera_id", "seq"])
    op.create_index("ix_audit_record_grant_id_seq", "audit_record", ["grant_id", "seq"])
    op.create_table(
        "audit_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_outbox")),
    )
    for statement in _SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else _PG_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS audit_record_refuse_change()")
    op.drop_table("audit_outbox")
    op.drop_index("ix_audit_record_grant_id_seq", "audit_record")
    op.drop_index("ix_audit_record_camera_id_seq", "audit_record")
    op.drop_index("ix_audit_record_actor_unit_seq", "audit_record")
    op.drop_index("ix_audit_record_actor_seq", "audit_record")
    op.drop_index("ix_audit_record_at", "audit_record")
    op.drop_table("audit_record")
