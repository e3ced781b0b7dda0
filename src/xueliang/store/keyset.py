"""Keyset pagination of the camera list: sort keys, the opaque cursor, ORDER BY and the "after the cursor"
condition.

A page is ``ORDER BY <sort key>, id LIMIT n + 1``; the cursor is base64url JSON of (sort key, order, last sort
value, last id), so the next page starts right after the last row without OFFSET, however deep. Only
``install_time`` may be NULL: NULLs sort first ascending and last descending (SQLite's own order, asked of
PostgreSQL explicitly), and the condition after a cursor handles them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, or_, tuple_

SortKey = Literal["platform_id", "name", "install_time", "updated_at"]
Order = Literal["asc", "desc"]
SORT_KEYS: tuple[str, ...] = ("platform_id", "name", "install_time", "updated_at")


class CursorError(ValueError):
    """A pagination cursor that was not produced by this list with this sort and order."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    sort: SortKey = "platform_id"
    order: Order = "asc"
    limit: int = 50
    cursor: str | None = None
    with_total: bool = False


def encode_cursor(sort: str, order: str, value: object, pk: int) -> str:
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    payload = json.dumps([sort, order, value, pk], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: str, order: str) -> tuple[object, int]:
    """(sort value, pk) from a cursor made by :func:`encode_cursor` for the same sort and order."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        c_sort, c_order, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise CursorError("malformed cursor") from exc
    if c_sort != sort or c_order != order or not isinstance(pk, int) or isinstance(pk, bool):
        raise CursorError("cursor belongs to another sort order")
    try:
        if sort == "install_time":
            value = None if value is None else dt.date.fromisoformat(value)
        elif sort == "updated_at":
            value = dt.datetime.fromisoformat(value)
        elif not isinstance(value, str):
            raise TypeError(value)
    except (TypeError, ValueError) as exc:
        raise CursorError("malformed cursor value") from exc
    return value, pk


def ordering(columns: Any, page: PageRequest) -> list[Any]:
    """ORDER BY (sort key, id) over ``columns`` (a mapped class or a subquery's ``.c``)."""
    column, pk = getattr(columns, page.sort), columns.id
    if page.order == "asc":
        return [column.asc().nulls_first() if page.sort == "install_time" else column.asc(), pk.asc()]
    return [column.desc().nulls_last() if page.sort == "install_time" else column.desc(), pk.desc()]


def after(columns: Any, sort: str, order: str, value: object, pk: int) -> ColumnElement[bool]:
    """The rows after (sort value, pk) in the page order."""
    column, id_column = getattr(columns, sort), columns.id
    if sort != "install_time":  # NOT NULL columns: one row-value comparison the index answers
        if order == "asc":
            return tuple_(column, id_column) > tuple_(value, pk)
        return tuple_(column, id_column) < tuple_(value, pk)
    if order == "asc":
        if value is None:
            return or_(and_(column.is_(None), id_column > pk), column.is_not(None))
        return or_(column > value, and_(column == value, id_column > pk))
    if value is None:
        return and_(column.is_(None), id_column < pk)
    return or_(column < value, and_(column == value, id_column < pk), column.is_(None))
