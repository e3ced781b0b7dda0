"""Authorisation in one place: may principal P do action A on camera C now, and with what treatment? (issue 5)

Every entry point (API, console, play tokens for the media node, later the cascade) asks :func:`decide`; nothing
else decides access to video. Pure: the caller passes the time and a :class:`GrantIndex` (the sharing service
keeps one in memory and swaps it whenever grants change), so the rules are property-tested without a database.

The rules:
- Video (a :class:`Mode`) needs a video role (unit_admin, operator, viewer; viewers never export) or an upper
  platform principal. A principal holding sysadmin or auditor gets no video at all, whatever else it holds
  (separation of duties). An API key needs the mode among its scopes.
- A unit uses its own cameras in full. Any other camera needs a grant that is active, inside its time window,
  for the principal's unit (and the principal, when the grant names one), covering the camera, with the mode.
  A grant with DESENSITISED among its modes yields Treatment.MASKED for every use; asking for DESENSITISED
  always yields MASKED.
- PTZ needs an operator or unit administrator who may watch the camera live, in full.
- Administration: sysadmin manages users and configuration (and edits the archive); the auditor reads the audit
  log; the security administrator creates, revokes and renews grants; a unit administrator publishes its own
  cameras, revokes grants on them and decides the owner step for them. Nobody approves a request their own
  unit filed, and nobody creates a grant for their own unit on another unit's cameras.
- Sharing records (share requests, grants, notifications, the share directory): SHARE_READ, asked with the
  record's :class:`SharingParties`. A principal holding none of the sharing roles (unit_admin, operator, viewer,
  secadmin: so the system administrator and the auditor) takes no part in sharing and sees none. The security
  administrator sees every unit's records; anyone else in a sharing role sees a record whose parties include its
  unit (its own unit's lists, and the directory, are asked with :meth:`SharingParties.of_unit`), never the
  records of every unit at once (:data:`EVERY_UNIT`). An API key needs the ``share.read`` scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from xueliang.domain.grants import Grant, ShareScope, StepKind
from xueliang.domain.principals import Mode, Principal, PrincipalKind, Role, Treatment


class AdminAction(StrEnum):
    GRANT_CREATE = "grant.create"  # a grant issued directly, outside a request
    GRANT_APPROVE = "grant.approve"  # decide one approval step of a share request
    GRANT_REVOKE = "grant.revoke"
    GRANT_RENEW = "grant.renew"
    SHARE_PUBLISH = "share.publish"  # put cameras in the share directory
    SHARE_REQUEST = "share.request"  # file a share request
    SHARE_READ = "share.read"  # see share requests, grants, notifications, the directory (context: SharingParties)
    AUDIT_READ = "audit.read"
    USER_MANAGE = "user.manage"
    CONFIG_EDIT = "config.edit"
    CAMERA_EDIT = "camera.edit"
    ARCHIVE_READ = "archive.read"  # the archive, devices and their state: every role but the auditor
    ARCHIVE_MANAGE = "archive.manage"  # imports, devices, bulk archive work: sysadmin or a unit administrator
    STREAMS_MANAGE = "streams.manage"  # see and stop a media node's streams (metadata, no video)
    PTZ = "ptz"  # move a camera: an operator or unit administrator who may watch it live (in full)


Action = Mode | AdminAction

VIDEO_ROLES: Final = frozenset({Role.UNIT_ADMIN, Role.OPERATOR, Role.VIEWER})
NO_VIDEO_ROLES: Final = frozenset({Role.SYSADMIN, Role.AUDITOR})
VIEWER_MODES: Final = frozenset({Mode.LIVE, Mode.PLAYBACK, Mode.SNAPSHOT, Mode.DESENSITISED})
# roles that take part in sharing (see its records); the sysadmin and the auditor do not: separation of duties
SHARING_ROLES: Final = frozenset({Role.UNIT_ADMIN, Role.OPERATOR, Role.VIEWER, Role.SECADMIN})


@dataclass(frozen=True, slots=True)
class CameraRef:
    """What the policy needs of a camera: its platform ID, owner unit (the platform's own unit when the archive
    names none: the caller resolves that) and division code."""

    id: str
    owner_unit_code: str
    division_code: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalContext:
    """The share request an approval, or the grant a creation, is about."""

    requester_unit_code: str
    step: StepKind = StepKind.OWNER
    bureau_unit_code: str | None = None  # the data bureau's unit (数管局), for BUREAU steps


@dataclass(frozen=True, slots=True)
class SharingParties:
    """The units a sharing record concerns, for SHARE_READ: the requesting (grantee) unit, the owner units of its
    cameras and the units deciding its approval steps. ``every_unit`` asks for the records of all units at once
    (every grant, the notifications addressed to no unit)."""

    requester_unit_code: str | None = None
    owner_unit_codes: frozenset[str] = frozenset()
    step_unit_codes: frozenset[str] = frozenset()
    every_unit: bool = False

    @classmethod
    def of_unit(cls, unit_code: str) -> SharingParties:
        """The records of one unit: what it requested, holds, gives and is told."""
        return cls(requester_unit_code=unit_code)

    def includes(self, unit_code: str) -> bool:
        return (
            unit_code == self.requester_unit_code
            or unit_code in self.owner_unit_codes
            or unit_code in self.step_unit_codes
        )


EVERY_UNIT: Final = SharingParties(every_unit=True)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    treatment: Treatment | None
    grant_id: str | None
    reason_zh: str
    reason_en: str


def _deny(zh: str, en: str) -> Decision:
    return Decision(False, None, None, zh, en)


def _allow(zh: str, en: str, treatment: Treatment | None = None, grant_id: str | None = None) -> Decision:
    return Decision(True, treatment, grant_id, zh, en)


@dataclass(frozen=True, slots=True)
class _UnitGrants:
    by_camera: dict[str, list[Grant]] = field(default_factory=dict)
    by_owner_unit: dict[str, list[Grant]] = field(default_factory=dict)
    by_division: dict[str, list[Grant]] = field(default_factory=dict)
    division_lengths: tuple[int, ...] = ()


class GrantIndex:
    """Grants by grantee unit, then by camera ID, owner unit (UNIT scope) and division prefix (DIVISION scope).

    A lookup costs a few dict probes whatever the unit holds. Immutable once built: the sharing service builds a
    new index when grants change and swaps the reference, so readers never see a half-updated one.
    """

    __slots__ = ("_ids", "_units")

    def __init__(self, grants: Iterable[Grant] = ()) -> None:
        units: dict[str, _UnitGrants] = {}
        lengths: dict[str, set[int]] = {}
        ids: set[str] = set()
        for grant in grants:
            ids.add(grant.id)
            unit = units.setdefault(grant.grantee_unit_code, _UnitGrants())
            if grant.scope is ShareScope.CAMERA:
                for camera_id in grant.targets:
                    unit.by_camera.setdefault(camera_id, []).append(grant)
            elif grant.scope is ShareScope.UNIT:
                assert grant.owner_unit_code is not None  # Grant.__post_init__ guarantees it
                unit.by_owner_unit.setdefault(grant.owner_unit_code, []).append(grant)
            else:
                for prefix in grant.targets:
                    unit.by_division.setdefault(prefix, []).append(grant)
                    lengths.setdefault(grant.grantee_unit_code, set()).add(len(prefix))
        self._units = {
            code: _UnitGrants(u.by_camera, u.by_owner_unit, u.by_division, tuple(sorted(lengths.get(code, ()))))
            for code, u in units.items()
        }
        self._ids = frozenset(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, grant_id: object) -> bool:
        return grant_id in self._ids

    def candidates(self, unit_code: str, camera: CameraRef) -> list[Grant]:
        """Grants of ``unit_code`` whose scope covers ``camera`` (valid or not: the caller checks)."""
        unit = self._units.get(unit_code)
        if unit is None:
            return []
        found = list(unit.by_camera.get(camera.id, ()))
        found.extend(unit.by_owner_unit.get(camera.owner_unit_code, ()))
        division = camera.division_code or ""
        for length in unit.division_lengths:
            if length > len(division):
                break
            for grant in unit.by_division.get(division[:length], ()):
                if grant.owner_unit_code in (None, camera.owner_unit_code):
                    found.append(grant)
        return found


def decide(
    principal: Principal,
    action: Action,
    camera: CameraRef | None,
    now: dt.datetime,
    grants: GrantIndex,
    *,
    context: ApprovalContext | SharingParties | None = None,
) -> Decision:
    """May ``principal`` do ``action`` on ``camera`` at ``now``? Video actions answer with a treatment and grant.

    ``context`` is the share request or grant an approval or creation is about (:class:`ApprovalContext`), or the
    parties of the record SHARE_READ asks to see (:class:`SharingParties`)."""
    if isinstance(action, Mode):
        if camera is None:
            return _deny("未指定摄像机", "no camera given")
        return _decide_video(principal, action, camera, now, grants)
    if action is AdminAction.PTZ:
        return _decide_ptz(principal, camera, now, grants)
    return _decide_admin(principal, action, camera, context)


def _decide_ptz(principal: Principal, camera: CameraRef | None, now: dt.datetime, grants: GrantIndex) -> Decision:
    if camera is None:
        return _deny("未指定摄像机", "no camera given")
    if principal.kind is not PrincipalKind.UPPER_PLATFORM and not principal.roles & {Role.UNIT_ADMIN, Role.OPERATOR}:
        return _deny("仅单位管理员或操作员可控制云台", "only unit administrators and operators move cameras")
    if principal.kind is PrincipalKind.API_KEY and AdminAction.PTZ.value not in principal.scopes:
        return _deny("API 密钥无 ptz 权限范围", "the API key lacks the ptz scope")
    live = _decide_video(principal, Mode.LIVE, camera, now, grants)
    if live.allowed and live.treatment is Treatment.MASKED:
        return _deny("脱敏授权不含云台控制", "a desensitised grant does not include moving the camera")
    return live


def _decide_video(
    principal: Principal, mode: Mode, camera: CameraRef, now: dt.datetime, grants: GrantIndex
) -> Decision:
    if principal.roles & NO_VIDEO_ROLES:
        return _deny("系统管理员和审计员无权调阅视频", "system administrators and auditors get no video")
    if principal.kind is PrincipalKind.API_KEY and mode.value not in principal.scopes:
        return _deny(f"API 密钥无 {mode.value} 权限范围", f"the API key lacks the {mode.value} scope")
    if principal.kind is not PrincipalKind.UPPER_PLATFORM:
        if not principal.roles & VIDEO_ROLES:
            return _deny("该角色无权调阅视频", "this role gets no video")
        if mode is Mode.EXPORT and not principal.roles & {Role.UNIT_ADMIN, Role.OPERATOR}:
            return _deny("查看员不能导出录像", "viewers may not export")
        if camera.owner_unit_code == principal.unit_code:
            treatment = Treatment.MASKED if mode is Mode.DESENSITISED else Treatment.FULL
            return _allow("本单位摄像机", "the unit's own camera", treatment)
    best: Grant | None = None
    for grant in grants.candidates(principal.unit_code, camera):
        if not _grant_allows(grant, principal, mode, now):
            continue
        if best is None or _better(grant, best):
            best = grant
    if best is None:
        return _deny("无有效授权", "no valid grant covers this camera, mode and time")
    masked = best.desensitised or mode is Mode.DESENSITISED
    treatment = Treatment.MASKED if masked else Treatment.FULL
    return _allow("授权有效", "allowed by a grant", treatment, best.id)


def _grant_allows(grant: Grant, principal: Principal, mode: Mode, now: dt.datetime) -> bool:
    if not grant.valid_at(now) or grant.grantee_unit_code != principal.unit_code:
        return False
    if grant.grantee_principal_id is not None and grant.grantee_principal_id != principal.id:
        return False
    if mode in (Mode.LIVE, Mode.DESENSITISED):
        return bool(grant.modes & {Mode.LIVE, Mode.DESENSITISED})
    return mode in grant.modes


def _better(grant: Grant, than: Grant) -> bool:
    """Prefer an unmasked grant, then the one lasting longest, then the smallest id (deterministic)."""
    return (not grant.desensitised, grant.valid_until, _neg(grant.id)) > (
        not than.desensitised,
        than.valid_until,
        _neg(than.id),
    )


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _decide_admin(
    principal: Principal,
    action: AdminAction,
    camera: CameraRef | None,
    context: ApprovalContext | SharingParties | None,
) -> Decision:
    if principal.kind is PrincipalKind.API_KEY and action.value not in principal.scopes:
        return _deny(f"API 密钥无 {action.value} 权限范围", f"the API key lacks the {action.value} scope")
    if action is AdminAction.SHARE_READ:
        if not isinstance(context, SharingParties):
            return _deny("未指定共享记录", "no sharing record given")
        return _decide_share_read(principal, context)
    roles = principal.roles
    unit = principal.unit_code
    owns = camera is not None and camera.owner_unit_code == unit
    if action in (AdminAction.USER_MANAGE, AdminAction.CONFIG_EDIT):
        return _role(Role.SYSADMIN in roles, "系统管理员", "system administrator")
    if action is AdminAction.AUDIT_READ:
        return _role(Role.AUDITOR in roles, "审计员", "auditor")
    if action is AdminAction.ARCHIVE_READ:
        return _role(bool(roles - {Role.AUDITOR}), "除审计员外的角色", "any role but the auditor")
    if action in (AdminAction.ARCHIVE_MANAGE, AdminAction.STREAMS_MANAGE):
        return _role(
            bool(roles & {Role.SYSADMIN, Role.UNIT_ADMIN}), "系统管理员或单位管理员", "system or unit administrator"
        )
    if action is AdminAction.CAMERA_EDIT:
        return _role(Role.SYSADMIN in roles or (Role.UNIT_ADMIN in roles and owns), "管理员", "administrator")
    if action is AdminAction.SHARE_PUBLISH:
        return _role(
            Role.SECADMIN in roles or (Role.UNIT_ADMIN in roles and owns),
            "安全管理员或本单位管理员",
            "security administrator or the owner unit's administrator",
        )
    if action is AdminAction.SHARE_REQUEST:
        if owns:
            return _deny("本单位摄像机无需申请", "a unit does not request its own cameras")
        return _role(
            bool(roles & {Role.UNIT_ADMIN, Role.OPERATOR}), "单位管理员或操作员", "unit administrator or operator"
        )
    if action in (AdminAction.GRANT_REVOKE, AdminAction.GRANT_RENEW):
        return _role(
            Role.SECADMIN in roles or (Role.UNIT_ADMIN in roles and owns),
            "安全管理员或所属单位管理员",
            "security administrator or the owner unit's administrator",
        )
    if not isinstance(context, ApprovalContext):
        return _deny("缺少申请上下文", "no share request context given")
    if context.requester_unit_code == unit and not owns:
        return _deny(
            "不能批准本单位对其他单位摄像机的申请", "nobody approves their own unit's request for others' cameras"
        )
    if action is AdminAction.GRANT_CREATE:
        return _role(Role.SECADMIN in roles, "安全管理员", "security administrator")
    return _decide_step(principal, camera, context)


def _decide_share_read(principal: Principal, parties: SharingParties) -> Decision:
    if not principal.roles & SHARING_ROLES:
        return _deny("该角色不参与视频共享", "this role takes no part in sharing")
    if Role.SECADMIN in principal.roles:
        return _allow("安全管理员可查看所有单位的共享记录", "the security administrator sees every unit's records")
    if parties.every_unit:
        return _deny(
            "仅安全管理员可查看所有单位的共享记录", "only the security administrator sees every unit's records"
        )
    if not parties.includes(principal.unit_code):
        return _deny(
            "仅相关单位和安全管理员可查看该共享记录", "only the record's parties and security administrators may see it"
        )
    return _allow("相关单位可查看", "allowed for a party to the record")


def _decide_step(principal: Principal, camera: CameraRef | None, context: ApprovalContext) -> Decision:
    roles, unit = principal.roles, principal.unit_code
    if context.step is StepKind.OWNER:
        owner_admin = Role.UNIT_ADMIN in roles and camera is not None and camera.owner_unit_code == unit
        return _role(owner_admin, "摄像机所属单位管理员", "the camera owner unit's administrator")
    if context.step is StepKind.BUREAU:
        bureau_admin = Role.UNIT_ADMIN in roles and context.bureau_unit_code == unit
        return _role(bureau_admin, "数管局管理员", "the data bureau's administrator")
    return _role(Role.SECADMIN in roles, "安全管理员", "security administrator")


def _role(ok: bool, who_zh: str, who_en: str) -> Decision:
    if ok:
        return _allow(f"{who_zh}可执行", f"allowed for the {who_en}")
    return _deny(f"仅{who_zh}可执行", f"only the {who_en} may do this")
