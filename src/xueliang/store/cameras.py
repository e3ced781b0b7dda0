"""Repository of cameras: bulk writes for imports, lookups, and the filtered, keyset-paginated list.

Writes take plain dicts made by :func:`camera_row`, never ORM objects: inserts through ``store/bulk.py``
(DBAPI executemany on SQLite, COPY on PostgreSQL), updates as Core ``update()`` executemany grouped by the
columns each row supplies. The caller owns the transaction (an import is all rows or none). The list is
described in :meth:`CameraRepository.list` and docs/architecture.md, section "Search".

Rows carry codes; units are referenced by id, and the repository translates unit codes both ways. Stream URLs
are stored without credentials; the credentials go encrypted into ``stream_credentials`` (``store/crypto.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from xueliang.domain.archive import CameraRecord
from xueliang.store import bulk, keyset, search
from xueliang.store.crypto import Cipher, join_credentials, split_credentials
from xueliang.store.keyset import CursorError, PageRequest
from xueliang.store.models import Camera, Unit, utcnow

__all__ = [
    "CameraFilter",
    "CameraPage",
    "CameraRepository",
    "CursorError",
    "PageRequest",
    "StoredCamera",
    "camera_row",
    "columns_for_fields",
]

CAMERA = cast(Table, Camera.__table__)
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CameraRecord))
_UNIT_FIELDS = {"owner_unit": "owner_unit_id", "management_unit": "management_unit_id"}
PLAIN_FIELDS: tuple[str, ...] = tuple(n for n in RECORD_FIELDS if n not in _UNIT_FIELDS and n != "stream_url")
_COORDINATE_COLUMNS = ("longitude", "latitude", "submitted_longitude", "submitted_latitude", "submitted_crs")
#: Columns recomputed on every write, whatever the input supplied.
DERIVED_COLUMNS: frozenset[str] = frozenset({"search_text", "search_grams", "findings", "source", "updated_at"})
IN_CHUNK = 500  # ids per IN (...) list
DIVISION_BRANCHES = 32  # at most this many distinct division codes under a filter: one branch each

_DISTINCT_DIVISIONS = text(
    """
    WITH RECURSIVE d(code) AS (
        SELECT min(division_code) FROM camera WHERE division_code >= :low AND division_code < :high
        UNION ALL
        SELECT (SELECT min(c.division_code) FROM camera c WHERE c.division_code > d.code AND c.division_code < :high)
        FROM d WHERE d.code IS NOT NULL
    )
    SELECT code FROM d WHERE code IS NOT NULL LIMIT :cap
    """
)


# ------------------------------------------------------------------------------------------------ row shapes


@dataclass(slots=True)
class StoredCamera:
    """A camera as the store holds it: the record (units as codes) and what the store adds."""

    id: int
    record: CameraRecord
    owner_unit_name: str | None
    management_unit_name: str | None
    has_credentials: bool
    findings: list[dict[str, Any]]
    source: str
    created_at: dt.datetime
    updated_at: dt.datetime


_plain_values = operator.attrgetter(*PLAIN_FIELDS)


def columns_for_fields(fields: Iterable[str]) -> frozenset[str]:
    """The camera columns that hold the given CameraRecord fields (a supplied coordinate brings the submitted
    coordinates and CRS along; a stream URL its credentials)."""
    columns: set[str] = set()
    for name in fields:
        if name in _UNIT_FIELDS:
            columns.add(_UNIT_FIELDS[name])
        elif name == "stream_url":
            columns.update(("stream_url", "stream_credentials"))
        elif name in ("longitude", "latitude", "submitted_longitude", "submitted_latitude", "submitted_crs"):
            columns.update(_COORDINATE_COLUMNS)
        elif name in RECORD_FIELDS:
            columns.add(name)
    return frozenset(columns)


def camera_row(
    record: CameraRecord,
    *,
    unit_ids: Mapping[str, int],
    cipher: Cipher,
    findings: Sequence[Mapping[str, Any]],
    source: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The column values of one camera row (without ``id`` and ``created_at``)."""
    row: dict[str, Any] = dict(zip(PLAIN_FIELDS, _plain_values(record), strict=True))
    row["name"] = record.name or ""
    row["owner_unit_id"] = unit_ids[record.owner_unit] if record.owner_unit else None
    row["management_unit_id"] = unit_ids[record.management_unit] if record.management_unit else None
    url, credentials = split_credentials(record.stream_url) if record.stream_url else (None, None)
    row["stream_url"] = url
    row["stream_credentials"] = cipher.encrypt(credentials) if credentials else None
    row["findings"] = list(findings)
    row["source"] = source
    row["updated_at"] = now
    row["search_text"], row["search_grams"] = search.search_columns(
        record.name, record.install_address, record.point_common_name, record.platform_id
    )
    return row


# ------------------------------------------------------------------------------------------------ list query


@dataclass(frozen=True, slots=True)
class CameraFilter:
    """Filters of the camera list, already resolved to what the columns hold."""

    division_prefix: str | None = None  # significant digits: "3415" = 341500 and every division under it
    owner_unit_id: int | None = None
    network: str | None = None
    camera_type: str | None = None
    point_class: str | None = None
    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat (WGS-84)


@dataclass(slots=True)
class CameraPage:
    items: list[StoredCamera]
    next_cursor: str | None
    total: int | None


def _prefix_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (digits), as an index range: codes compare byte-wise, ':' follows '9'."""
    return and_(column >= prefix, column < prefix + ":")


# ------------------------------------------------------------------------------------------------ repository


class CameraRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._owner = aliased(Unit, name="owner_unit")
        self._manager = aliased(Unit, name="management_unit")

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # ---- reading

    def _select(self) -> Select[Any]:
        owner, manager = self._owner, self._manager
        return select(
            CAMERA,
            owner.code.label("owner_code"),
            owner.name.label("owner_name"),
            manager.code.label("management_code"),
            manager.name.label("management_name"),
        ).select_from(
            CAMERA.outerjoin(owner, owner.id == Camera.owner_unit_id).outerjoin(
                manager, manager.id == Camera.management_unit_id
            )
        )

    @staticmethod
    def _stored(row: Any) -> StoredCamera:
        m = row._mapping
        record = CameraRecord(
            **{name: m[name] for name in PLAIN_FIELDS},
            owner_unit=m["owner_code"],
            management_unit=m["management_code"],
            stream_url=m["stream_url"],
        )
        return StoredCamera(
            id=m["id"],
            record=record,
            owner_unit_name=m["owner_name"],
            management_unit_name=m["management_name"],
            has_credentials=m["stream_credentials"] is not None,
            findings=list(m["findings"] or []),
            source=m["source"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )

    def get(self, platform_id: str) -> StoredCamera | None:
        row = self.session.execute(self._select().where(Camera.platform_id == platform_id)).first()
        return None if row is None else self._stored(row)

    def get_many(self, platform_ids: Iterable[str]) -> dict[str, StoredCamera]:
        found: dict[str, StoredCamera] = {}
        for chunk in _chunks(sorted(set(platform_ids))):
            for row in self.session.execute(self._select().where(Camera.platform_id.in_(chunk))):
                stored = self._stored(row)
                found[stored.record.platform_id] = stored
        return found

    def existing_ids(self, platform_ids: Iterable[str]) -> set[str]:
        """Those of ``platform_ids`` already in the archive (chunked IN lists)."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(platform_ids))):
            found.update(self.session.scalars(select(Camera.platform_id).where(Camera.platform_id.in_(chunk))))
        return found

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Every platform ID starting with ``prefix`` (digits 1-14 for ``ids.next_free_serial``)."""
        statement = select(Camera.platform_id).where(_prefix_range(Camera.platform_id, prefix))
        return list(self.session.scalars(statement.order_by(Camera.platform_id)))

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(CAMERA)) or 0)

    def stream_url_with_credentials(self, platform_id: str, cipher: Cipher) -> str | None:
        """The stream URL with its decrypted credentials, for whoever must pull the stream. Never log it."""
        row = self.session.execute(
            select(Camera.stream_url, Camera.stream_credentials).where(Camera.platform_id == platform_id)
        ).first()
        if row is None or row.stream_url is None:
            return None
        credentials = cipher.decrypt(row.stream_credentials) if row.stream_credentials else None
        return join_credentials(row.stream_url, credentials)

    # ---- writing

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows made by :func:`camera_row` (every dict with the same keys), in the caller's transaction.

        Columns that are None in every row are left out (they default to NULL): binding parameters is most of
        the cost. SQLite: one DBAPI executemany, the FTS5 rows added by one INSERT ... SELECT, and for a load at
        least as large as the table the secondary indexes built once afterwards; PostgreSQL: COPY.
        """
        if not rows:
            return
        now = utcnow()
        for row in rows:
            row.setdefault("created_at", now)
        is_not_none = functools.partial(operator.is_not, None)
        columns = [c for c in rows[0] if any(map(is_not_none, map(operator.itemgetter(c), rows)))]
        if self.dialect == "sqlite":
            bulk.insert_sqlite(self.session.connection(), rows, columns)
        elif self.dialect == "postgresql":
            bulk.copy_postgres(self.session.connection(), rows, columns)
        else:
            self.session.execute(insert(CAMERA), [{c: r[c] for c in columns} for r in rows])

    def update_many(self, rows: Sequence[dict[str, Any]], columns: Sequence[frozenset[str]]) -> None:
        """Update existing cameras by platform ID, each only in its ``columns`` (plus the derived ones).

        Rows with the same column set go in one executemany; a sheet gives one or a few such groups.
        """
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row, wanted in zip(rows, columns, strict=True):
            names = frozenset((wanted | DERIVED_COLUMNS) - {"platform_id", "id", "created_at"})
            groups.setdefault(names, []).append(
                {"b_platform_id": row["platform_id"], **{f"v_{n}": row[n] for n in names}}
            )
        for names, params in groups.items():
            statement = (
                update(CAMERA)
                .where(CAMERA.c.platform_id == bindparam("b_platform_id"))
                .values({n: bindparam(f"v_{n}") for n in sorted(names)})
            )
            self.session.execute(statement, params)

    def delete(self, platform_id: str) -> bool:
        result = self.session.execute(delete(CAMERA).where(CAMERA.c.platform_id == platform_id))
        return bool(getattr(result, "rowcount", 0))

    def analyze(self) -> None:
        """Refresh planner statistics after a large write (the search plan depends on them)."""
        self.session.execute(text("ANALYZE camera"))

    # ---- the list

    def _text_condition(self, q: str) -> ColumnElement[bool] | None:
        norm = search.normalise(q)
        if not norm:
            return None
        like = Camera.search_text.like(f"%{norm}%")
        if len(norm) == 1:
            condition: ColumnElement[bool] = like
        elif self.dialect == "postgresql":
            condition = and_(search.postgres_grams_contain(Camera.search_grams, search.bigrams(norm)), like)
        else:
            condition = and_(search.sqlite_grams_match(self.session, Camera.id, search.bigrams(norm), norm), like)
        if search.is_id_prefix_query(norm):
            condition = or_(condition, _prefix_range(Camera.platform_id, norm))
        return condition

    def _conditions(self, filters: CameraFilter, *, division: bool = True) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if division and filters.division_prefix:
            conditions.append(_prefix_range(Camera.division_code, filters.division_prefix))
        if filters.owner_unit_id is not None:
            conditions.append(Camera.owner_unit_id == filters.owner_unit_id)
        if filters.network:
            conditions.append(Camera.network == filters.network)
        if filters.camera_type:
            conditions.append(Camera.camera_type == filters.camera_type)
        if filters.point_class:
            conditions.append(Camera.point_class == filters.point_class)
        if filters.bbox:
            min_lon, min_lat, max_lon, max_lat = filters.bbox
            conditions.append(Camera.longitude.between(min_lon, max_lon))
            conditions.append(Camera.latitude.between(min_lat, max_lat))
        if filters.q:
            text_condition = self._text_condition(filters.q)
            if text_condition is not None:
                conditions.append(text_condition)
        return conditions

    def division_codes(self, prefix: str, cap: int) -> list[str] | None:
        """The distinct division codes of cameras under ``prefix``, or None when there are more than ``cap``.

        A loose index scan (one index seek per distinct code), so it costs microseconds however many cameras.
        """
        rows = self.session.execute(
            _DISTINCT_DIVISIONS, {"low": prefix, "high": prefix + ":", "cap": cap + 1}
        ).scalars()
        codes = list(rows)
        return None if len(codes) > cap else codes

    def list(self, filters: CameraFilter, page: PageRequest) -> CameraPage:
        """One page of cameras in (sort, id) order; ``next_cursor`` continues after its last row.

        With a division filter the list runs as one branch per distinct division code under it (a county has one
        or a few), each ``division_code = :code ... ORDER BY sort, id LIMIT n`` read in order from the
        ``(division_code, sort key, id)`` index, merged by the outer ORDER BY: a county's 30,000 cameras with a
        common text (路口) cost about as much as 50. A range over the codes instead would read and sort them all,
        and a scan in sort order would skip every camera of the divisions before it (IDs start with the division).
        """
        if page.sort not in keyset.SORT_KEYS:
            raise keyset.CursorError(f"unknown sort key {page.sort}")
        conditions = self._conditions(filters, division=False)
        if page.cursor:
            value, pk = keyset.decode_cursor(page.cursor, page.sort, page.order)
            conditions.append(keyset.after(Camera, page.sort, page.order, value, pk))
        codes: list[str] | None = None
        if filters.division_prefix:
            codes = self.division_codes(filters.division_prefix, DIVISION_BRANCHES)
            if codes is None:
                conditions.append(_prefix_range(Camera.division_code, filters.division_prefix))
            elif not codes:
                return CameraPage([], None, 0 if page.with_total else None)

        if codes:
            branches = []
            for code in codes:
                branch = self._select().where(*conditions, Camera.division_code == code)
                inner = branch.order_by(*keyset.ordering(Camera, page)).limit(page.limit + 1).subquery()
                branches.append(select(inner))
            merged = union_all(*branches).subquery("page")
            statement = select(merged).order_by(*keyset.ordering(merged.c, page)).limit(page.limit + 1)
        else:
            statement = self._select().where(*conditions).order_by(*keyset.ordering(Camera, page)).limit(page.limit + 1)
        rows = self.session.execute(statement).all()

        items = [self._stored(row) for row in rows[: page.limit]]
        next_cursor = None
        if len(rows) > page.limit and items:
            last = items[-1]
            value = last.updated_at if page.sort == "updated_at" else getattr(last.record, page.sort)
            next_cursor = keyset.encode_cursor(page.sort, page.order, value, last.id)
        total = None
        if page.with_total:
            count_conditions = self._conditions(filters)
            total = int(self.session.scalar(select(func.count()).select_from(CAMERA).where(*count_conditions)) or 0)
        return CameraPage(items, next_cursor, total)

    def iter_grouped(self, filters: CameraFilter, *, batch: int = 2000) -> Iterator[StoredCamera]:
        """Every matching camera, by division code, then owner unit code, then platform ID (for exports)."""
        statement = (
            self._select()
            .where(*self._conditions(filters))
            .order_by(Camera.division_code, self._owner.code, Camera.platform_id)
            .execution_options(yield_per=batch)
        )
        for row in self.session.execute(statement):
            yield self._stored(row)


def _chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
