"""Who acts on the platform: principals, roles and the modes of access to video (issue 5).

Pure types shared by accounts (who is calling), the policy module (may they), the audit log (who did) and the
media node (what a play token allows). Roles follow the separation of duties of 等保 2.0: the system administrator
runs accounts and configuration but sees no video by right; the security administrator manages grants and
policies; the auditor reads the audit log and nothing else; unit administrators, operators and viewers work
within their unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SYSADMIN = "sysadmin"  # 系统管理员
    SECADMIN = "secadmin"  # 安全管理员
    AUDITOR = "auditor"  # 审计员
    UNIT_ADMIN = "unit_admin"  # 单位管理员
    OPERATOR = "operator"  # 操作员
    VIEWER = "viewer"  # 查看员


class PrincipalKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    UPPER_PLATFORM = "upper_platform"  # cascade (issue 6): its share scope is its grants


class Mode(StrEnum):
    """The five modes of sharing (实时调取, 录像回放, 抓图, 脱敏后调取, 离线采集/导出)."""

    LIVE = "live"
    PLAYBACK = "playback"
    SNAPSHOT = "snapshot"
    DESENSITISED = "desensitised"
    EXPORT = "export"


class Treatment(StrEnum):
    """What the viewer gets: the picture as it is, or with faces, plates and mask regions blurred."""

    FULL = "full"
    MASKED = "masked"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``unit_code`` is the unit it acts for (the platform's own unit by default)."""

    kind: PrincipalKind
    id: str
    name: str
    unit_code: str
    roles: frozenset[Role]
    scopes: frozenset[str] = frozenset()  # API keys: what the key may do; empty for users

    def has(self, role: Role) -> bool:
        return role in self.roles
