"""camera archive: units, cameras, settings, import jobs, text search index

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The text search index depends on the dialect (see ``xueliang.store.search``):
SQLite gets an FTS5 external-content table over ``camera.search_grams`` kept in sync by triggers (SQLite 3.40
has no ``contentless_delete``, so the triggers hand FTS5 the old grams to delete), and a one-row table
``camera_search_state`` through which a bulk insert defers the insert trigger to one INSERT ... SELECT.
PostgreSQL gets a GIN index on ``string_to_array(search_grams, ' ')``, queried with ``@>``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _code(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE camera_search USING fts5("
    "search_grams, content='camera', content_rowid='id', tokenize='ascii', detail=none, columnsize=0)",
    # a bulk insert sets deferred = 1 inside its transaction, fills camera_search with one INSERT ... SELECT
    # (about 50 times faster than a trigger per row) and sets it back before committing
    "CREATE TABLE camera_search_state (id INTEGER PRIMARY KEY CHECK (id = 1), deferred INTEGER NOT NULL)",
    "INSERT INTO camera_search_state (id, deferred) VALUES (1, 0)",
    "CREATE TRIGGER camera_search_ai AFTER INSERT ON camera "
    "WHEN (SELECT deferred FROM camera_search_state WHERE id = 1) = 0 BEGIN "
    "INSERT INTO camera_search(rowid, search_grams) VALUES (new.id, new.search_grams); END",
    "CREATE TRIGGER camera_search_ad AFTER DELETE ON camera BEGIN "
    "INSERT INTO camera_search(camera_search, rowid, search_grams) VALUES ('delete', old.id, old.search_grams); END",
    "CREATE TRIGGER camera_search_au AFTER UPDATE OF search_grams ON camera "
    "WHEN old.search_grams IS NOT new.search_grams BEGIN "
    "INSERT INTO camera_search(camera_search, rowid, search_grams) VALUES ('delete', old.id, old.search_grams); "
    "INSERT INTO camera_search(rowid, search_grams) VALUES (new.id, new.search_grams); END",
)
POSTGRES_SEARCH = ("CREATE INDEX ix_camera_search_grams ON camera USING gin (string_to_array(search_grams, ' '))",)


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", _code(64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("division_code", _code(12), nullable=True),
        sa.Column("auto_created", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('department', 'enterprise', 'other')", name=op.f("ck_unit_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_unit_code")),
    )
    op.create_index(op.f("ix_unit_name"), "unit", ["name"])

    op.create_table(
        "camera",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", _code(20), nullable=False),
        sa.Column("name", _code(200), nullable=False),
        sa.Column("division_code", _code(8), nullable=True),
        sa.Column("grassroots_code", _code(12), nullable=True),
        sa.Column("point_class", _code(4), nullable=True),
        sa.Column("point_common_name", sa.String(length=200), nullable=True),
        sa.Column("manufacturer", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("ipv4", sa.String(length=15), nullable=True),
        sa.Column("ipv6", sa.String(length=45), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("camera_type", _code(4), nullable=True),
        sa.Column("function_type", _code(4), nullable=True),
        sa.Column("supply_light", _code(4), nullable=True),
        sa.Column("encoding", _code(8), nullable=True),
        sa.Column("storage_location", _code(4), nullable=True),
        sa.Column("install_address", sa.String(length=300), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("submitted_longitude", sa.Float(), nullable=True),
        sa.Column("submitted_latitude", sa.Float(), nullable=True),
        sa.Column("submitted_crs", _code(8), nullable=True),
        sa.Column("position_type", _code(4), nullable=True),
        sa.Column("room_type", _code(4), nullable=True),
        sa.Column("direction", _code(4), nullable=True),
        sa.Column("network", _code(20), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("management_unit_id", sa.Integer(), nullable=True),
        sa.Column("management_contact", sa.String(length=100), nullable=True),
        sa.Column("install_time", sa.Date(), nullable=True),
        sa.Column("record_save_days", sa.Integer(), nullable=True),
        sa.Column("use", _code(4), nullable=True),
        sa.Column("status", _code(4), nullable=True),
        sa.Column("resolution", sa.String(length=64), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=True),
        sa.Column("upper_connected", sa.Boolean(), nullable=True),
        sa.Column("construction_category", _code(4), nullable=True),
        sa.Column("install_height", sa.Float(), nullable=True),
        sa.Column("view_distance", sa.Float(), nullable=True),
        sa.Column("horizontal_fov", sa.Float(), nullable=True),
        sa.Column("vertical_fov", sa.Float(), nullable=True),
        sa.Column("access_protocol", _code(16), nullable=True),
        sa.Column("stream_url", sa.String(length=500), nullable=True),
        sa.Column("stream_credentials", sa.Text(), nullable=True),
        sa.Column("remark", sa.String(length=500), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("search_grams", sa.Text(), nullable=False),
        sa.CheckConstraint("source IN ('import', 'api', 'device')", name=op.f("ck_camera_source")),
        sa.ForeignKeyConstraint(
            ["management_unit_id"],
            ["unit.id"],
            name=op.f("fk_camera_management_unit_id_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["unit.id"], name=op.f("fk_camera_owner_unit_id_unit"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera")),
        sa.UniqueConstraint("platform_id", name=op.f("uq_camera_platform_id")),
    )
    for name, columns in (
        ("ix_camera_division_code_platform_id", ["division_code", "platform_id"]),
        ("ix_camera_division_code_name_id", ["division_code", "name", "id"]),
        ("ix_camera_division_code_install_time_id", ["division_code", "install_time", "id"]),
        ("ix_camera_division_code_updated_at_id", ["division_code", "updated_at", "id"]),
        ("ix_camera_owner_unit_id", ["owner_unit_id"]),
        ("ix_camera_management_unit_id", ["management_unit_id"]),
        ("ix_camera_network", ["network"]),
        ("ix_camera_camera_type", ["camera_type"]),
        ("ix_camera_point_class", ["point_class"]),
        ("ix_camera_longitude_latitude", ["longitude", "latitude"]),
        ("ix_camera_name_id", ["name", "id"]),
        ("ix_camera_install_time_id", ["install_time", "id"]),
        ("ix_camera_updated_at_id", ["updated_at", "id"]),
    ):
        op.create_index(name, "camera", columns)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH if dialect == "sqlite" else POSTGRES_SEARCH if dialect == "postgresql" else ():
        op.execute(statement)

    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("unit_code", _code(64), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_created", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("created_units", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("report_xlsx", sa.String(length=500), nullable=True),
        sa.Column("report_json", sa.String(length=500), nullable=True),
        sa.CheckConstraint("mode IN ('create', 'upsert')", name=op.f("ck_import_job_mode")),
        sa.CheckConstraint(
            "status IN ('running', 'rejected', 'validated', 'committed', 'failed')", name=op.f("ck_import_job_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )


def downgrade() -> None:
    op.drop_table("import_job")
    op.drop_table("setting")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("camera_search_au", "camera_search_ad", "camera_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS camera_search")
        op.execute("DROP TABLE IF EXISTS camera_search_state")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_camera_search_grams")
    op.drop_table("camera")
    op.drop_index(op.f("ix_unit_name"), table_name="unit")
    op.drop_table("unit")
