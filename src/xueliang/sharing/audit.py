"""The audit log service: the fail-closed sink, the single writer, chain verification, search, export, reports.

Writing happens in two steps so the chain stays linear however many processes record events:
:meth:`AuditLog.record` puts the event in the outbox (one short transaction; any failure raises
:class:`~xueliang.domain.audit.AuditUnavailableError`, and the caller must not serve the video), then wakes the
drainer. The drainer is a daemon *thread* (not an asyncio task: ``record`` is called from sync code, worker
processes and the event loop alike, and the drain is blocking database work) that runs :meth:`AuditLog.drain`
every ``interval`` seconds and on each wake-up; ``drain`` takes the cross-process writer lock, so several
processes may each run a drainer. After each batch the writer advances the head checkpoint file
``<data_dir>/audit-head.json``. :meth:`AuditLog.flush` drains until the outbox is empty (tests, shutdown).

:func:`verify_chain` walks records in seq order and names the first bad one; :class:`ChainProblem` kinds:
``missing_seq`` (a gap: a deleted record), ``broken_link`` (prev_hash is not the previous record's hash),
``altered`` (the record's fields no longer give its hash), ``unknown_alg``, ``truncated`` (the database head is
behind the checkpoint), ``checkpoint_mismatch`` (the record at the checkpoint's seq has another hash).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from xueliang.domain.audit import AuditAction, AuditEvent, AuditUnavailableError
from xueliang.store.audit import (
    GENESIS,
    HASH_ALGORITHMS,
    AuditFilter,
    AuditRecord,
    AuditStore,
    AuditStoreError,
    Checkpoint,
    QueuedEvent,
    advance_checkpoint,
    read_checkpoint,
    sm3_available,
)

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "audit-head.json"
SEARCH_MAX = 1000
EXPORT_FORMATS = ("xlsx", "csv")
# what counts as using video (for usage reports, out-of-hours use and grants never used)
USE_ACTIONS = (AuditAction.PLAY_START, AuditAction.SNAPSHOT, AuditAction.PLAYBACK, AuditAction.PTZ, AuditAction.EXPORT)
_STOP_ACTIONS = (AuditAction.PLAY_STOP, AuditAction.STREAM_STOP)
_COLUMNS = (
    ("seq", "序号"),
    ("at", "时间(UTC)"),
    ("action", "操作"),
    ("actor", "操作人"),
    ("actor_unit", "单位"),
    ("camera_id", "摄像机"),
    ("grant_id", "授权"),
    ("session_id", "会话"),
    ("source_address", "来源地址"),
    ("purpose", "用途"),
    ("outcome", "结果"),
    ("details", "详情"),
    ("hash_alg", "摘要算法"),
    ("hash", "摘要"),
)


class AuditQueryError(ValueError):
    """Bad search or export arguments (a malformed cursor, an unknown format, a reversed window)."""


# ------------------------------------------------------------------------------------------ verification


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: str
    seq: int
    message: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a walk: ``problem`` is the first bad record, or None when the chain holds."""

    records: int
    head: Checkpoint | None
    checkpoint: Checkpoint | None
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(records: Iterable[AuditRecord], checkpoint: Checkpoint | None = None) -> ChainReport:
    """Walk ``records`` (in seq order) from seq 1 and the genesis link; stop at the first bad record."""
    expected_seq, prev, count = 1, GENESIS, 0
    at_checkpoint: str | None = None
    for record in records:
        problem = _check(record, expected_seq, prev)
        if problem is not None:
            return ChainReport(count, Checkpoint(expected_seq - 1, prev) if count else None, checkpoint, problem)
        if checkpoint is not None and record.seq == checkpoint.seq:
            at_checkpoint = record.hash
        expected_seq, prev, count = record.seq + 1, record.hash, count + 1
    head = Checkpoint(expected_seq - 1, prev) if count else None
    return ChainReport(count, head, checkpoint, _against_checkpoint(head, checkpoint, at_checkpoint))


def _check(record: AuditRecord, expected_seq: int, prev: str) -> ChainProblem | None:
    if record.seq != expected_seq:
        missing = f"{expected_seq}" if record.seq == expected_seq + 1 else f"{expected_seq}..{record.seq - 1}"
        return ChainProblem("missing_seq", expected_seq, f"record {missing} missing (next present: {record.seq})")
    if record.hash_alg not in HASH_ALGORITHMS:
        return ChainProblem("unknown_alg", record.seq, f"record {record.seq}: unknown hash algorithm {record.hash_alg}")
    if record.prev_hash != prev:
        return ChainProblem(
            "broken_link", record.seq, f"record {record.seq}: prev_hash is not record {record.seq - 1}'s hash"
        )
    try:
        expected = record.expected_hash()
    except AuditStoreError as exc:
        return ChainProblem("unknown_alg", record.seq, f"record {record.seq}: {exc}")
    if expected != record.hash:
        return ChainProblem("altered", record.seq, f"record {record.seq}: fields changed since it was written")
    return None


def _against_checkpoint(
    head: Checkpoint | None, checkpoint: Checkpoint | None, at_checkpoint: str | None
) -> ChainProblem | None:
    if checkpoint is None or checkpoint.seq == 0:
        return None
    head_seq = head.seq if head else 0
    if head_seq < checkpoint.seq:
        return ChainProblem(
            "truncated",
            head_seq + 1,
            f"records {head_seq + 1}..{checkpoint.seq} missing: the checkpoint saw seq {checkpoint.seq}, "
            f"the database ends at {head_seq}",
        )
    if at_checkpoint != checkpoint.hash:
        return ChainProblem(
            "checkpoint_mismatch", checkpoint.seq, f"record {checkpoint.seq}: hash differs from the checkpoint's"
        )
    return None


# ------------------------------------------------------------------------------------------ reports


@dataclass(slots=True)
class UsageLine:
    """Use of video by one key (a unit, a camera, a grant, or an (actor, camera) pair)."""

    key: tuple[str, ...]
    sessions: int = 0
    seconds: float = 0.0
    open_sessions: int = 0
    events: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageReport:
    since: dt.datetime
    until: dt.datetime
    by_unit: list[UsageLine]
    by_camera: list[UsageLine]
    by_grant: list[UsageLine]
    by_viewer: list[UsageLine]  # who watched what: (actor, unit, camera)
    out_of_hours: list[AuditRecord]
    unused_grants: list[str]


def _usage(
    records: Sequence[AuditRecord], since: dt.datetime, until: dt.datetime
) -> dict[str, dict[tuple[str, ...], UsageLine]]:
    """Sessions (play start to its stop, clipped to the window) and event counts, grouped four ways."""
    groups: dict[str, dict[tuple[str, ...], UsageLine]] = {g: {} for g in ("unit", "camera", "grant", "viewer")}

    def keys(r: AuditRecord) -> dict[str, tuple[str, ...]]:
        unit, camera, grant = r.actor_unit or "-", r.camera_id or "-", r.grant_id or "-"
        return {"unit": (unit,), "camera": (camera,), "grant": (grant,), "viewer": (r.actor, unit, camera)}

    def add(r: AuditRecord, seconds: float, opened: bool, event: str | None) -> None:
        for group, key in keys(r).items():
            line = groups[group].setdefault(key, UsageLine(key))
            if event is None:
                line.sessions += 1
                line.seconds += max(seconds, 0.0)
                line.open_sessions += int(opened)
            else:
                line.events[event] = line.events.get(event, 0) + 1

    starts: dict[str, AuditRecord] = {}
    for r in records:
        if r.action == AuditAction.PLAY_START and r.outcome == "ok":
            if r.session_id:
                starts[r.session_id] = r
            add(r, 0.0, False, "play_start")
        elif r.action in _STOP_ACTIONS and r.session_id:
            start = starts.pop(r.session_id, None)
            begun = start.at if start else since
            add(start or r, (r.at - begun).total_seconds(), False, None)
        elif r.action in USE_ACTIONS and r.outcome == "ok":
            add(r, 0.0, False, str(r.action))
    for start in starts.values():  # still playing at the window's end
        add(start, (until - start.at).total_seconds(), True, None)
    return groups


def _out_of_hours(records: Iterable[AuditRecord], zone: dt.tzinfo) -> list[AuditRecord]:
    """Uses of video between 22:00 and 06:00 local time."""
    found = []
    for r in records:
        if r.action in USE_ACTIONS:
            local = r.at.replace(tzinfo=dt.UTC).astimezone(zone)
            if local.hour >= 22 or local.hour < 6:
                found.append(r)
    return found


def _sorted(lines: dict[tuple[str, ...], UsageLine]) -> list[UsageLine]:
    return sorted(lines.values(), key=lambda line: (-line.seconds, -sum(line.events.values()), line.key))


# ------------------------------------------------------------------------------------------ export


def export_rows(records: Iterable[AuditRecord], fmt: str) -> bytes:
    """Records as an xlsx workbook or a UTF-8 csv with BOM (so Excel reads the Chinese right)."""
    if fmt not in EXPORT_FORMATS:
        raise AuditQueryError(f"unknown export format {fmt!r} (xlsx or csv)")
    header = [f"{zh} {en}" for en, zh in _COLUMNS]
    rows = ([_cell(r, name) for name, _ in _COLUMNS] for r in records)
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(rows)
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("审计记录")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, header, bold)
    for number, row in enumerate(rows, start=1):
        sheet.write_row(number, 0, row)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def _cell(record: AuditRecord, name: str) -> str | int:
    value = getattr(record, name)
    if name == "details":
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if name == "at":
        return str(value.isoformat(sep=" ", timespec="seconds"))
    if name == "seq":
        return int(value)
    return "" if value is None else str(value)


# ------------------------------------------------------------------------------------------ the service


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    next_cursor: str | None


class AuditLog:
    """The platform's audit sink (domain.audit.AuditSink) and the auditor's queries over the log."""

    def __init__(
        self,
        engine: Engine,
        *,
        data_dir: Path | None = None,
        hash_alg: str = "sha256",
        interval: float = 0.5,
        batch: int = 500,
        timezone: str = "Asia/Shanghai",
        grant_ids: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        if hash_alg not in HASH_ALGORITHMS:
            raise ValueError(f"audit hash algorithm must be one of {HASH_ALGORITHMS}: {hash_alg!r}")
        if hash_alg == "sm3" and not sm3_available():
            raise ValueError("audit hash algorithm sm3 asked for, but this cryptography/OpenSSL build lacks SM3")
        self.store = AuditStore(engine)
        self.hash_alg = hash_alg
        self.checkpoint_path = data_dir / CHECKPOINT_NAME if data_dir is not None else None
        self.interval = interval
        self.batch = batch
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.grant_ids = grant_ids
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()  # one drain per process at a time; the database lock does the rest
        self._thread: threading.Thread | None = None

    # ---- writing

    def record(self, event: AuditEvent) -> None:
        """Queue ``event`` durably or raise AuditUnavailableError (fail closed: serve no video then)."""
        queued = QueuedEvent(
            event.at, str(event.action), event.actor, event.actor_unit, event.camera_id, event.grant_id,
            event.session_id, event.source_address, event.purpose, event.outcome, dict(event.details),
        )  # fmt: skip
        try:
            self.store.enqueue(queued, dt.datetime.now(dt.UTC).replace(tzinfo=None))
        except (SQLAlchemyError, OSError) as exc:
            log.error("audit record could not be queued: %s", type(exc).__name__)
            raise AuditUnavailableError(f"audit log unavailable: {type(exc).__name__}") from exc
        self._wake.set()

    def drain(self) -> int:
        """Move one batch from the outbox into the chain; the number of records appended."""
        with self._drain_lock:
            records = self.store.drain(self.hash_alg, self.batch)
        if records and self.checkpoint_path is not None:
            advance_checkpoint(self.checkpoint_path, Checkpoint(records[-1].seq, records[-1].hash))
        return len(records)

    def flush(self) -> None:
        """Drain until the outbox is empty (tests and shutdown)."""
        while self.drain() or self.store.outbox_size():
            pass

    def start(self) -> None:
        """Start the background drainer thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="audit-drainer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the drainer and write what is queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush()
        except SQLAlchemyError:
            log.exception("audit outbox not drained at shutdown; the next writer will")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                while self.drain() == self.batch:
                    pass
            except Exception:  # the queue is durable: log, retry on the next tick
                log.exception("audit drain failed; retrying")

    # ---- verification

    def verify(self) -> ChainReport:
        """Walk the whole chain and compare its head with the checkpoint file (when there is one)."""
        checkpoint = read_checkpoint(self.checkpoint_path) if self.checkpoint_path is not None else None
        return verify_chain(self.store.walk(), checkpoint)

    # ---- queries

    def search(
        self,
        *,
        actor: str | None = None,
        unit: str | None = None,
        camera: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        grant: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> AuditPage:
        """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page. Every criterion given must
        hold; ``since`` inclusive, ``until`` exclusive; ``grant`` is a grant id."""
        if not 1 <= limit <= SEARCH_MAX:
            raise AuditQueryError(f"limit must be between 1 and {SEARCH_MAX}: {limit}")
        if since is not None and until is not None and since >= until:
            raise AuditQueryError("since must be before until")
        before: int | None = None
        if cursor is not None:
            if not cursor.isdigit():
                raise AuditQueryError(f"malformed cursor: {cursor!r}")
            before = int(cursor)
        criteria = AuditFilter(actor, unit, camera, action, _naive_utc(since), _naive_utc(until), grant)
        records = self.store.search(criteria, limit, before)
        next_cursor = str(records[-1].seq) if len(records) == limit else None
        return AuditPage(records, next_cursor)

    def export(self, rows: Iterable[AuditRecord], fmt: str) -> bytes:
        return export_rows(rows, fmt)

    def usage_report(self, since: dt.datetime, until: dt.datetime) -> UsageReport:
        """Who watched what and how much, per unit, camera and grant; out-of-hours use; grants never used."""
        start, end = _naive_utc(since), _naive_utc(until)
        if start is None or end is None or start >= end:
            raise AuditQueryError("since must be before until")
        actions = [str(a) for a in (*USE_ACTIONS, *_STOP_ACTIONS)]
        records = self.store.in_window(start, end, actions)
        groups = _usage(records, start, end)
        unused: list[str] = []
        if self.grant_ids is not None:
            used = self.store.grants_used([str(a) for a in USE_ACTIONS])
            unused = sorted(set(self.grant_ids()) - used)
        return UsageReport(
            start,
            end,
            _sorted(groups["unit"]),
            _sorted(groups["camera"]),
            _sorted(groups["grant"]),
            _sorted(groups["viewer"]),
            _out_of_hours(records, self.zone),
            unused,
        )


def _naive_utc(at: dt.datetime | None) -> dt.datetime | None:
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(dt.UTC).replace(tzinfo=None)
