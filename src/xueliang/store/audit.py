"""The audit log's tables, its hash chain and the single writer's locked drain (migration ``0004a``).

``audit_outbox`` takes events from any process in short transactions; :meth:`AuditStore.drain` moves them into
``audit_record`` in seq order under a lock that keeps the chain linear across processes (PostgreSQL:
``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``, the database's one writer). ``UNIQUE(seq)`` is the last
line of defence: a second writer that slipped past the lock fails its insert instead of forking the chain.

``audit_record`` is append-only: triggers refuse UPDATE and DELETE on both databases (TRUNCATE is not refused by
a trigger: production grants the application role no TRUNCATE, and the checkpoint shows a truncated log).

Retention: records are kept at least 180 days (网络安全法). Pruning is the only deletion ever intended and is NOT
built yet. The chosen path: an operator-run maintenance command (never the running platform) that, in one
transaction holding the writer lock, lifts the triggers (:func:`drop_append_only_triggers`), deletes records
older than the cutoff (refusing a cutoff under 180 days), records the new first record's seq and prev_hash as a
signed prune anchor that verification starts from, and puts the triggers back (:func:`create_append_only_triggers`).
Until it exists, verification insists the chain starts at seq 1 from :data:`GENESIS`.

Chain: ``hash = H(prev_hash || canonical JSON of the record's fields)``; canonical JSON has sorted keys, no
spaces, UTF-8, and the algorithm's name among the fields (so a record cannot be re-hashed with a weaker one).
The first record links to :data:`GENESIS`. The head is checkpointed outside the database in a JSON file
(:func:`advance_checkpoint`), so a truncated tail is visible.

Errors: :class:`AuditStoreError` (unknown hash algorithm); database errors surface as SQLAlchemy's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    text,
)

from xueliang.store.models import Base

GENESIS = "0" * 64
HASH_ALGORITHMS = ("sha256", "sm3")
# pg_advisory_xact_lock key: "xueliang" in ASCII, a constant every writer process agrees on
_PG_LOCK_KEY = 0x7875656C69616E67

audit_record = Table(
    "audit_record",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("actor_unit", String(64)),
    Column("camera_id", String(64)),
    Column("grant_id", String(64)),
    Column("session_id", String(128)),
    Column("source_address", String(64)),
    Column("purpose", Text),
    Column("outcome", String(16), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(128), nullable=False),
    Column("hash", String(128), nullable=False),
    Column("hash_alg", String(8), nullable=False),
    UniqueConstraint("seq", name="uq_audit_record_seq"),
    CheckConstraint("hash_alg IN ('sha256', 'sm3')", name="hash_alg"),
    Index("ix_audit_record_at", "at"),
    Index("ix_audit_record_actor_seq", "actor", "seq"),
    Index("ix_audit_record_actor_unit_seq", "actor_unit", "seq"),
    Index("ix_audit_record_camera_id_seq", "camera_id", "seq"),
    Index("ix_audit_record_grant_id_seq", "grant_id", "seq"),
)

audit_outbox = Table(
    "audit_outbox",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("queued_at", DateTime, nullable=False),
    Column("payload", Text, nullable=False),
)

_RECORD_FIELDS = (
    "at",
    "action",
    "actor",
    "actor_unit",
    "camera_id",
    "grant_id",
    "session_id",
    "source_address",
    "purpose",
    "outcome",
    "details",
)

_PG_TRIGGERS = (
    """CREATE FUNCTION audit_record_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$""",
    "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
    "FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_change()",
)
_PG_DROP = (
    "DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record",
    "DROP FUNCTION IF EXISTS audit_record_refuse_change()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only: DELETE refused'); END",
)
_SQLITE_DROP = ("DROP TRIGGER IF EXISTS audit_record_no_update", "DROP TRIGGER IF EXISTS audit_record_no_delete")


class AuditStoreError(Exception):
    """The audit store was asked for something it cannot do (an unknown hash algorithm)."""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An event as the outbox holds it: the record's fields without seq and chain."""

    at: dt.datetime
    action: str
    actor: str
    actor_unit: str | None = None
    camera_id: str | None = None
    grant_id: str | None = None
    session_id: str | None = None
    source_address: str | None = None
    purpose: str | None = None
    outcome: str = "ok"
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        values = {name: getattr(self, name) for name in _RECORD_FIELDS}
        values["at"] = _iso(self.at)
        return json.dumps(values, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, payload: str) -> QueuedEvent:
        values = json.loads(payload)
        values["at"] = dt.datetime.fromisoformat(values["at"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of ``audit_record``: an event with its place in the chain. ``at`` is naive UTC."""

    seq: int
    at: dt.datetime
    action: str
    actor: str
    actor_unit: str | None
    camera_id: str | None
    grant_id: str | None
    session_id: str | None
    source_address: str | None
    purpose: str | None
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
    hash_alg: str

    def canonical(self) -> bytes:
        """The bytes the hash covers (besides prev_hash): every field but the chain's own, sorted, UTF-8."""
        values: dict[str, Any] = {name: getattr(self, name) for name in _RECORD_FIELDS}
        values["at"] = _iso(self.at)
        values["seq"] = self.seq
        values["hash_alg"] = self.hash_alg
        return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def expected_hash(self) -> str:
        return chain_hash(self.hash_alg, self.prev_hash, self.canonical())


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head as last written outside the database."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Search criteria; every given one must hold. ``since`` inclusive, ``until`` exclusive (naive UTC)."""

    actor: str | None = None
    unit: str | None = None
    camera: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    grant: str | None = None


def _iso(at: dt.datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def sm3_available() -> bool:
    """Whether the installed ``cryptography`` offers SM3 (``hashes.SM3``, cryptography >= 35 with OpenSSL SM3)."""
    try:
        from cryptography.hazmat.primitives import hashes

        hashes.Hash(hashes.SM3())
    except Exception:  # missing attribute or an OpenSSL build without SM3
        return False
    return True


def chain_hash(alg: str, prev_hash: str, canonical: bytes) -> str:
    """``H(prev_hash || canonical)`` as lowercase hex, ``prev_hash`` taken as its ASCII hex text."""
    data = prev_hash.encode("ascii") + canonical
    if alg == "sha256":
        return hashlib.sha256(data).hexdigest()
    if alg == "sm3":
        from cryptography.hazmat.primitives import hashes

        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize().hex()
    raise AuditStoreError(f"unknown audit hash algorithm: {alg!r} (known: {', '.join(HASH_ALGORITHMS)})")


def seal(event: QueuedEvent, seq: int, prev_hash: str, alg: str) -> AuditRecord:
    """The record ``event`` becomes at ``seq`` after ``prev_hash``."""
    at = event.at.astimezone(dt.UTC).replace(tzinfo=None) if event.at.tzinfo else event.at
    unsealed = AuditRecord(
        seq, at, event.action, event.actor, event.actor_unit, event.camera_id, event.grant_id, event.session_id,
        event.source_address, event.purpose, event.outcome, dict(event.details), prev_hash, "", alg,
    )  # fmt: skip
    return dataclasses.replace(unsealed, hash=unsealed.expected_hash())


def _row_to_record(row: Any) -> AuditRecord:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"__unparseable__": row.details}
    return AuditRecord(
        row.seq, row.at, row.action, row.actor, row.actor_unit, row.camera_id, row.grant_id, row.session_id,
        row.source_address, row.purpose, row.outcome, details, row.prev_hash, row.hash, row.hash_alg,
    )  # fmt: skip


def _record_values(record: AuditRecord) -> dict[str, Any]:
    values = dataclasses.asdict(record)
    values["details"] = json.dumps(record.details, sort_keys=True, ensure_ascii=False)
    return values


@contextlib.contextmanager
def writer_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the audit writer's lock across processes, committed on success."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


class AuditStore:
    """Queries and writes of the two audit tables on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def enqueue(self, event: QueuedEvent, queued_at: dt.datetime) -> None:
        """Queue ``event`` in its own short transaction (the caller's durable promise that it will be recorded)."""
        with self.engine.begin() as connection:
            connection.execute(insert(audit_outbox).values(queued_at=queued_at, payload=event.to_json()))

    def drain(self, alg: str, batch: int = 500) -> list[AuditRecord]:
        """Move up to ``batch`` queued events into the chain, oldest first; the records appended."""
        chain_hash(alg, GENESIS, b"")  # an unknown algorithm fails before the lock is taken
        with writer_transaction(self.engine) as connection:
            queued = connection.execute(select(audit_outbox).order_by(audit_outbox.c.id).limit(batch)).all()
            if not queued:
                return []
            head = connection.execute(
                select(audit_record.c.seq, audit_record.c.hash).order_by(audit_record.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
            records = []
            for row in queued:
                seq += 1
                record = seal(QueuedEvent.from_json(row.payload), seq, prev, alg)
                records.append(record)
                prev = record.hash
            connection.execute(insert(audit_record), [_record_values(r) for r in records])
            connection.execute(delete(audit_outbox).where(audit_outbox.c.id.in_([row.id for row in queued])))
        return records

    def outbox_size(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(audit_outbox)) or 0)

    def head(self) -> Checkpoint | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(audit_record.c.seq, audit_record.c.hash).order_by(audit_record.c.seq.desc()).limit(1)
            ).first()
        return Checkpoint(row.seq, row.hash) if row else None

    def walk(self, batch: int = 2000) -> Iterator[AuditRecord]:
        """Every record in seq order, read in keyset pages (the log may be large)."""
        after = -1
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(audit_record).where(audit_record.c.seq > after).order_by(audit_record.c.seq).limit(batch)
                ).all()
            for row in rows:
                yield _row_to_record(row)
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def search(self, criteria: AuditFilter, limit: int, before_seq: int | None = None) -> list[AuditRecord]:
        """Newest first; ``before_seq`` continues a previous page. Actor, unit, camera and grant each have a
        ``(column, seq)`` index, so a page filtered by one of them is an index range scan however large the log."""
        query = select(audit_record).order_by(audit_record.c.seq.desc()).limit(limit)
        columns = audit_record.c
        for column, value in (
            (columns.actor, criteria.actor),
            (columns.actor_unit, criteria.unit),
            (columns.camera_id, criteria.camera),
            (columns.action, criteria.action),
            (columns.grant_id, criteria.grant),
        ):
            if value is not None:
                query = query.where(column == value)
        if criteria.since is not None:
            query = query.where(columns.at >= criteria.since)
        if criteria.until is not None:
            query = query.where(columns.at < criteria.until)
        if before_seq is not None:
            query = query.where(columns.seq < before_seq)
        with self.engine.connect() as connection:
            return [_row_to_record(row) for row in connection.execute(query)]

    def in_window(self, since: dt.datetime, until: dt.datetime, actions: Sequence[str]) -> list[AuditRecord]:
        """Records of ``actions`` with ``since <= at < until``, in seq order."""
        query = (
            select(audit_record)
            .where(audit_record.c.at >= since, audit_record.c.at < until, audit_record.c.action.in_(actions))
            .order_by(audit_record.c.seq)
        )
        with self.engine.connect() as connection:
            return [_row_to_record(row) for row in connection.execute(query)]

    def grants_used(self, actions: Sequence[str]) -> set[str]:
        """Every grant id any record of ``actions`` names, over the whole log."""
        query = select(audit_record.c.grant_id).where(
            audit_record.c.grant_id.is_not(None), audit_record.c.action.in_(actions)
        )
        with self.engine.connect() as connection:
            return {str(value) for value in connection.scalars(query.distinct())}


# ------------------------------------------------------------------------------------------ maintenance


def create_append_only_triggers(connection: Connection) -> None:
    """Refuse UPDATE and DELETE on ``audit_record`` (the migration creates the same triggers)."""
    for statement in _SQLITE_TRIGGERS if connection.dialect.name == "sqlite" else _PG_TRIGGERS:
        connection.execute(text(statement))


def drop_append_only_triggers(connection: Connection) -> None:
    """Lift the append-only triggers: for the retention maintenance step only, inside its transaction."""
    for statement in _SQLITE_DROP if connection.dialect.name == "sqlite" else _PG_DROP:
        connection.execute(text(statement))


# ------------------------------------------------------------------------------------------ checkpoint


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, or None when there is none. A malformed file raises ValueError."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    values = json.loads(raw)
    if (
        not isinstance(values, dict)
        or not isinstance(values.get("seq"), int)
        or not isinstance(values.get("hash"), str)
    ):
        raise ValueError(f"{path}: not an audit checkpoint (want {{'seq': int, 'hash': str}})")
    return Checkpoint(values["seq"], values["hash"])


def advance_checkpoint(path: Path, head: Checkpoint) -> None:
    """Write ``head`` to ``path`` atomically, unless the file already holds a later head.

    Writers in several processes may finish their batches out of order; a file lock next to the checkpoint and
    the seq comparison keep it monotonic. Written through a temporary file, fsynced, then renamed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            current = read_checkpoint(path)
        except ValueError:
            current = None
        if current is not None and current.seq >= head.seq:
            return
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump({"seq": head.seq, "hash": head.hash}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
