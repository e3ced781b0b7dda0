"""Audit records: what the platform must be able to show an auditor (issue 5), and the seam writers use.

Every login, grant change, play start/stop, snapshot, playback, PTZ move and export is an :class:`AuditEvent`.
Writers call an :class:`AuditSink`; the sink is fail-closed: if the record cannot be written it raises
:class:`AuditUnavailableError`, and the caller must not serve the video.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    USER_CHANGE = "user_change"
    GRANT_CHANGE = "grant_change"
    SHARE_REQUEST = "share_request"
    APPROVAL = "approval"
    PLAY_START = "play_start"
    PLAY_STOP = "play_stop"
    PLAY_REFUSED = "play_refused"
    SNAPSHOT = "snapshot"
    PLAYBACK = "playback"
    PTZ = "ptz"
    EXPORT = "export"
    STREAM_STOP = "stream_stop"
    ACCESS_DENIED = "access_denied"
    AUDIT_READ = "audit_read"  # an auditor's query, report or export of the audit log itself


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened. ``at`` is UTC; ``details`` is small and JSON-serialisable (never a secret)."""

    action: AuditAction
    at: dt.datetime
    actor: str  # principal id, "anonymous" or "system"
    actor_unit: str | None = None
    camera_id: str | None = None
    grant_id: str | None = None
    session_id: str | None = None
    source_address: str | None = None
    purpose: str | None = None
    outcome: str = "ok"  # ok | refused | error
    details: dict[str, str] = field(default_factory=dict)


class AuditUnavailableError(Exception):
    """The audit record could not be written: fail closed (no video without its record)."""


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Persist (or durably queue) the event; raise AuditUnavailableError when that is not possible."""
        ...
