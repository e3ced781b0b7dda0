"""The migration builds exactly the models' schema, plus the dialect's text search index."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from xueliang.store.models import Base


def test_migration_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    search_objects = ("camera_search", "ix_camera_search_grams")
    diffs = [d for d in diffs if not any(name in str(d) for name in (*search_objects, "alembic_version"))]
    assert diffs == []


def test_text_search_index_exists(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.scalars(text("SELECT name FROM sqlite_master")))
            assert {"camera_search", "camera_search_ai", "camera_search_ad", "camera_search_au"} <= names
        else:
            indexes = {ix["name"] for ix in inspect(connection).get_indexes("camera")}
            definition = connection.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_camera_search_grams'")
            )
            assert "gin" in str(definition).lower() and "string_to_array" in str(definition)
            assert "ix_camera_division_code_platform_id" in indexes


def test_list_filter_columns_are_indexed(engine: Engine) -> None:
    indexed = {tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("camera")}
    for columns in (
        ("division_code", "platform_id"),
        ("owner_unit_id",),
        ("network",),
        ("camera_type",),
        ("point_class",),
        ("longitude", "latitude"),
        ("name", "id"),
        ("install_time", "id"),
        ("updated_at", "id"),
    ):
        assert columns in indexed, columns
