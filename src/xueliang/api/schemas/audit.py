"""Audit log models: records, a page of them, the usage report and the chain report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from xueliang.sharing.audit import ChainReport, UsageLine, UsageReport
from xueliang.store.audit import AuditRecord, Checkpoint


class AuditRecordOut(BaseModel):
    seq: int = Field(description="its place in the chain")
    at: dt.datetime
    action: str = Field(description="login, play_start, grant_change, share_request, approval, access_denied, ...")
    actor: str
    actor_unit: str | None
    camera_id: str | None
    grant_id: str | None
    session_id: str | None
    source_address: str | None
    purpose: str | None
    outcome: str = Field(description="ok | refused | error")
    details: dict[str, Any]
    hash_alg: str
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    items: list[AuditRecordOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class UsageLineOut(BaseModel):
    key: list[str] = Field(description="unit; camera; grant; or (actor, unit, camera) for viewers")
    sessions: int = Field(description="viewing sessions (play start to stop)")
    seconds: float = Field(description="time watched, clipped to the window")
    open_sessions: int = Field(description="sessions still playing at the window's end")
    events: dict[str, int] = Field(description="uses by action: play_start, snapshot, playback, ptz, export")


class UsageOut(BaseModel):
    since: dt.datetime
    until: dt.datetime
    by_unit: list[UsageLineOut]
    by_camera: list[UsageLineOut]
    by_grant: list[UsageLineOut]
    by_viewer: list[UsageLineOut]
    out_of_hours: list[AuditRecordOut] = Field(description="uses between 22:00 and 06:00 local time")
    unused_grants: list[str] = Field(description="grants no use of video has ever named")


class CheckpointOut(BaseModel):
    seq: int
    hash: str


class ProblemOut(BaseModel):
    kind: str = Field(description="missing_seq, broken_link, altered, unknown_alg, truncated, checkpoint_mismatch")
    seq: int
    message: str


class ChainOut(BaseModel):
    ok: bool
    records: int
    head: CheckpointOut | None
    checkpoint: CheckpointOut | None = Field(description="the head last written outside the database")
    problem: ProblemOut | None = Field(description="the first bad record")


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def record_out(record: AuditRecord) -> AuditRecordOut:
    return AuditRecordOut(
        seq=record.seq,
        at=_utc(record.at),
        action=record.action,
        actor=record.actor,
        actor_unit=record.actor_unit,
        camera_id=record.camera_id,
        grant_id=record.grant_id,
        session_id=record.session_id,
        source_address=record.source_address,
        purpose=record.purpose,
        outcome=record.outcome,
        details=record.details,
        hash_alg=record.hash_alg,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def _line(line: UsageLine) -> UsageLineOut:
    return UsageLineOut(
        key=list(line.key),
        sessions=line.sessions,
        seconds=round(line.seconds, 3),
        open_sessions=line.open_sessions,
        events=dict(line.events),
    )


def usage_out(report: UsageReport) -> UsageOut:
    return UsageOut(
        since=_utc(report.since),
        until=_utc(report.until),
        by_unit=[_line(x) for x in report.by_unit],
        by_camera=[_line(x) for x in report.by_camera],
        by_grant=[_line(x) for x in report.by_grant],
        by_viewer=[_line(x) for x in report.by_viewer],
        out_of_hours=[record_out(r) for r in report.out_of_hours],
        unused_grants=report.unused_grants,
    )


def _checkpoint(point: Checkpoint | None) -> CheckpointOut | None:
    return None if point is None else CheckpointOut(seq=point.seq, hash=point.hash)


def chain_out(report: ChainReport) -> ChainOut:
    problem = report.problem
    return ChainOut(
        ok=report.ok,
        records=report.records,
        head=_checkpoint(report.head),
        checkpoint=_checkpoint(report.checkpoint),
        problem=None if problem is None else ProblemOut(kind=problem.kind, seq=problem.seq, message=problem.message),
    )
