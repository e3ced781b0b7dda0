"""Row helpers of the device store, for any table: device text and times as the columns hold them, wire
dataclasses as JSON, and the bulk writes a catalog merge is made of (DBAPI executemany on SQLite, COPY on
PostgreSQL, grouped executemany updates or, for many rows on PostgreSQL, one ``UPDATE ... FROM`` a staging table).

Everything works in the caller's transaction; :func:`prepare_rows` is pure, so a caller may prepare one table's
rows in a thread while the database writes another's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, text, update
from sqlalchemy.orm import Session

__all__ = [
    "ANY_CHUNK",
    "IN_CHUNK",
    "STAGED_UPDATE_ROWS",
    "PreparedRows",
    "chunks",
    "clip",
    "dialect_insert",
    "dialect_name",
    "insert_prepared",
    "insert_rows",
    "json_text",
    "naive_utc",
    "prepare_rows",
    "update_rows",
    "wire_dict",
]

IN_CHUNK = 1000  # values per IN (...) list (SQLite)
STAGED_UPDATE_ROWS = 1000  # PostgreSQL: from this many rows an update goes through a staging table
ANY_CHUNK = 20_000  # values per = ANY(array) (PostgreSQL: one parameter however many values)


def clip(text: str | None, length: int) -> str | None:
    """Device text for a bounded column: cut, never refused (device input is stored, not rejected)."""
    return None if text is None else text[:length]


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time as the columns hold it: naive UTC (aware times converted, naive ones taken as UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


_PLAIN_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "None"})
_WORD = re.compile(r"\w+")
_FIELDS: dict[tuple[type, frozenset[str]], tuple[tuple[str, ...], Callable[[Any], Any], tuple[str, ...]]] = {}


def _fields(kind: type, left_out: frozenset[str]) -> tuple[tuple[str, ...], Callable[[Any], Any], tuple[str, ...]]:
    """The field names of a dataclass (less ``left_out``), a getter of their values as one tuple, and the names
    of the fields whose values may need converting for JSON (annotated with more than str/int/float/bool)."""
    key = (kind, left_out)
    found = _FIELDS.get(key)
    if found is None:
        fields = [f for f in dataclasses.fields(kind) if f.name not in left_out]
        names = tuple(f.name for f in fields)
        getter = operator.attrgetter(*names)
        special = tuple(f.name for f in fields if not _PLAIN_TYPE_WORDS.issuperset(_WORD.findall(str(f.type))))
        found = _FIELDS[key] = (names, getter if len(names) > 1 else lambda message: (getter(message),), special)
    return found


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value


def wire_dict(message: Any, *, exclude: frozenset[str] = frozenset({"password"})) -> dict[str, Any]:
    """A wire dataclass (catalog item, alarm) as JSON: every field that is set, in field order, except
    ``exclude`` (the password is never stored in clear); empty mappings left out. A catalog merge calls it
    200,000 times: one attrgetter call per message, conversions only for fields not typed plain."""
    names, values, special = _fields(type(message), exclude)
    out = {name: value for name, value in zip(names, values(message), strict=True) if value is not None}
    for name in special:
        if name in out:
            value = _json_value(out[name])
            if value == {}:
                del out[name]
            else:
                out[name] = value
    return out


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def dialect_insert(session: Session, table: Table) -> Any:
    """INSERT with ON CONFLICT for the session's database (SQLite and PostgreSQL share the syntax)."""
    if dialect_name(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def json_text(value: Any) -> str:
    """Compact JSON with characters as they are (a Chinese name costs 3 bytes, not the 6 of ``\\uXXXX``)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class PreparedRows:
    """Rows of one table as the database driver takes them (see :func:`prepare_rows`)."""

    table: Table
    columns: list[str]
    params: list[tuple[Any, ...]]


def prepare_rows(dialect: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> PreparedRows:
    """Plain rows (every dict with the same keys) as driver values: JSON columns as :func:`json_text`, and on
    SQLite the other values in SQLAlchemy's storage format (the column types' own bind processors). Pure: a
    caller may prepare one table's rows in a thread while the database writes another's."""
    columns = list(rows[0]) if rows else []
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            processors.append((index, json_text))
        elif dialect.name == "sqlite":
            storage = column_type.dialect_impl(dialect).bind_processor(dialect)
            if storage is not None:
                processors.append((index, storage))
    getter = operator.itemgetter(*columns) if len(columns) > 1 else None
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(getter(row)) if getter is not None else [row[c] for c in columns]
        for index, process in processors:
            values[index] = process(values[index])
        params.append(tuple(values))
    return PreparedRows(table, columns, params)


def insert_prepared(session: Session, prepared: PreparedRows, *, into: str | None = None) -> None:
    """Insert prepared rows in the caller's transaction (into their table, or the table named ``into``):
    SQLite one DBAPI executemany, PostgreSQL ``COPY``."""
    if not prepared.params:
        return
    target, columns = into or prepared.table.name, prepared.columns
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        sql = f"INSERT INTO {target} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        connection.exec_driver_sql(sql, prepared.params)
    elif connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for values in prepared.params:
                copy.write_row(values)
    else:
        session.execute(insert(prepared.table), [dict(zip(columns, v, strict=True)) for v in prepared.params])


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many plain rows (every dict with the same keys) the fast way each database offers, in the
    caller's transaction. JSON columns take a value or its JSON text (a catalog merge serialises each item
    once, for its digest and its row)."""
    if rows:
        insert_prepared(session, prepare_rows(session.get_bind().dialect, table, rows))


def update_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows by ``id``, each in the columns its dict holds, one statement per column set: an executemany,
    or on PostgreSQL from :data:`STAGED_UPDATE_ROWS` rows on, ``COPY`` into a temporary table and one
    ``UPDATE ... FROM`` it (an executemany of 200,000 updates takes 17 s there, this 2)."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    dialect = session.get_bind().dialect
    for names, group in groups.items():
        if not names:
            continue
        if dialect.name == "postgresql" and len(group) >= STAGED_UPDATE_ROWS:
            _staged_update(session, table, names, group)
            continue
        statement = update(table).where(table.c.id == bindparam("b_id")).values({n: bindparam(f"v_{n}") for n in names})
        session.execute(statement, [{"b_id": row["id"], **{f"v_{n}": row[n] for n in names}} for row in group])


def _staged_update(session: Session, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    staging = f"staging_{table.name}"  # column names come from the table, never from input
    columns = ["id", *names]
    listed = ", ".join(f'"{c}"' for c in columns)
    session.execute(
        text(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {listed} FROM {table.name} WITH NO DATA")  # noqa: S608
    )
    prepared = prepare_rows(session.get_bind().dialect, table, [{c: row[c] for c in columns} for row in rows])
    insert_prepared(session, prepared, into=staging)
    assignments = ", ".join(f'"{n}" = s."{n}"' for n in names)
    # rows whose values are the same are left alone: an update writes a new version of the row into every index
    as_text = {n: "::text" if isinstance(table.c[n].type, JSON) else "" for n in names if n != "updated_at"}
    changed = " OR ".join(f't."{n}"{cast} IS DISTINCT FROM s."{n}"{cast}' for n, cast in as_text.items()) or "TRUE"
    session.execute(
        text(f"UPDATE {table.name} AS t SET {assignments} FROM {staging} AS s WHERE t.id = s.id AND ({changed})")  # noqa: S608
    )
    session.execute(text(f"DROP TABLE {staging}"))
