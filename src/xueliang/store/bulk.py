"""Bulk inserts of camera rows, the fast way each database offers (an import writes 100,000 rows at once).

Rows are plain dicts made by ``cameras.camera_row``, never ORM objects, and only the columns that hold a value
in some row are sent: binding parameters is most of the cost.

- SQLite: one DBAPI ``executemany`` of tuples (values already in SQLAlchemy's storage format). From
  :data:`SQLITE_DEFER_SEARCH_ROWS` rows the FTS5 insert trigger is switched off inside the transaction
  (``camera_search_state.deferred``) and the search rows are added by one ``INSERT ... SELECT`` (a trigger per
  row costs about 50 times more). From :data:`SQLITE_REBUILD_INDEX_ROWS` rows, when the load is at least as
  large as the table, the secondary indexes are dropped and built once at the end (sorting once beats random
  B-tree inserts into 13 indexes: 100,000 rows in 2.5 s instead of 4 s on the reference machine). All of it
  happens in the caller's transaction: SQLite's DDL is transactional, so a failed import rolls it all back.
- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg (about twice as fast as executemany).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

SQLITE_DEFER_SEARCH_ROWS = 500
SQLITE_REBUILD_INDEX_ROWS = 20_000


@functools.lru_cache(maxsize=16)
def _sqlite_datetime(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DATETIME storage format


def _sqlite_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False), encoder built once


def json_text(value: Any) -> str:
    """A JSON column's text; a ``str`` is taken as JSON text already (a catalog merge serialises a finding list
    once for the camera and the channel it came from)."""
    if isinstance(value, str):
        return value
    return _JSON(value) if value else "[]"


_SQLITE_CONVERTERS: dict[str, Any] = {
    "created_at": _sqlite_datetime,
    "updated_at": _sqlite_datetime,
    "install_time": _sqlite_date,
    "findings": json_text,
}


def insert_sqlite(connection: Connection, rows: Sequence[dict[str, Any]], columns: list[str]) -> None:
    get = operator.itemgetter(*columns)
    converters = [(i, _SQLITE_CONVERTERS[c]) for i, c in enumerate(columns) if c in _SQLITE_CONVERTERS]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(get(row)) if len(columns) > 1 else [get(row)]
        for index, convert in converters:
            values[index] = convert(values[index])
        params.append(tuple(values))
    sql = f"INSERT INTO camera ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    if len(rows) < SQLITE_DEFER_SEARCH_ROWS:
        connection.exec_driver_sql(sql, params)
        return
    before = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM camera").scalar_one()
    # DML first: pysqlite opens the transaction on it, so the DDL below is part of it and rolls back with it
    connection.exec_driver_sql("UPDATE camera_search_state SET deferred = 1 WHERE id = 1")
    rebuilt: list[tuple[str, str]] = []
    if len(rows) >= max(SQLITE_REBUILD_INDEX_ROWS, before):
        rebuilt = [
            (str(name), str(create))
            for name, create in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'camera' AND sql IS NOT NULL"
            )
        ]
        for name, _create in rebuilt:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    connection.exec_driver_sql(sql, params)
    for _name, create in rebuilt:
        connection.exec_driver_sql(create)
    connection.exec_driver_sql(
        "INSERT INTO camera_search (rowid, search_grams) SELECT id, search_grams FROM camera WHERE id > ?", (before,)
    )
    connection.exec_driver_sql("UPDATE camera_search_state SET deferred = 0 WHERE id = 1")


def copy_postgres(connection: Connection, rows: Sequence[dict[str, Any]], columns: list[str]) -> None:
    import psycopg

    driver_connection = connection.connection.driver_connection
    get = operator.itemgetter(*columns)
    findings = columns.index("findings")
    sql = f"COPY camera ({', '.join(columns)}) FROM STDIN"
    try:
        with (
            driver_connection.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(sql) as copy,
        ):
            for row in rows:
                values = list(get(row))
                values[findings] = json_text(values[findings])
                copy.write_row(values)
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would have raised it
        raise IntegrityError(sql, None, exc) from exc
