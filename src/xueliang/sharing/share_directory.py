"""The share directory (共享目录): which cameras a unit offers for sharing, by camera, division or unit, and how.

The directory part of :class:`~xueliang.sharing.grants.SharingService`. Publishing and removing are
``SHARE_PUBLISH`` for the policy (a security administrator, or the owner unit's administrator); changes follow the
core's order (check, audit records, then writes: see :mod:`xueliang.sharing.sharing_core`). Removing an offer ends
no grant: grants already made stay until they expire or are revoked.
"""

from __future__ import annotations

from xueliang.domain import grants as g
from xueliang.domain.audit import AuditAction
from xueliang.domain.grants import ShareScope
from xueliang.domain.policy import AdminAction
from xueliang.domain.principals import Mode, Principal
from xueliang.sharing.share_common import InvalidShareError, SharingNotFoundError, change_record, modes_text
from xueliang.sharing.sharing_core import SharingCore, owner_ref
from xueliang.store.db import transaction
from xueliang.store.sharing import Offer


class ShareDirectory(SharingCore):
    """The share-directory part of :class:`~xueliang.sharing.grants.SharingService`."""

    def publish(
        self,
        principal: Principal,
        scope: ShareScope,
        target: str | None,
        modes: frozenset[Mode],
        sensitivity: g.Sensitivity = g.Sensitivity.NORMAL,
        owner_unit_code: str | None = None,
        *,
        source_address: str | None = None,
    ) -> Offer:
        """Put a camera, a division (of the owner's cameras) or all of a unit's cameras in the share directory;
        publishing the same (owner, scope, target) again replaces its modes and sensitivity."""
        if not modes:
            raise InvalidShareError("至少选择一种共享方式", "choose at least one mode")
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            owner = owner_unit_code or principal.unit_code
            cameras: tuple[str, ...] = ()
            if scope is ShareScope.CAMERA:
                camera = repo.cameras([target or ""]).get(target or "")
                if camera is None:
                    raise SharingNotFoundError(f"摄像机 {target} 不存在", f"camera {target} does not exist")
                owner, cameras = camera.ref.owner_unit_code, (camera.ref.id,)
            elif scope is ShareScope.DIVISION and not (target and target.isdigit() and 2 <= len(target) <= 12):
                raise InvalidShareError("行政区划代码应为 2 至 12 位数字", "a division code is 2 to 12 digits")
            elif scope is ShareScope.UNIT:
                target = None
            if repo.unit_id(owner) is None:
                raise SharingNotFoundError(f"单位 {owner} 不存在", f"unit {owner} does not exist")
            self.require(principal, AdminAction.SHARE_PUBLISH, owner_ref(owner), source_address=source_address)
            self.record(
                change_record(
                    AuditAction.GRANT_CHANGE,
                    "offer.published",
                    principal,
                    now,
                    cameras=cameras,
                    source_address=source_address,
                    owner=owner,
                    scope=scope.value,
                    target=target or "",
                    modes=modes_text(modes),
                    sensitivity=sensitivity.value,
                )
            )
            offer = repo.publish(owner, scope, target, modes, sensitivity, principal.id)
            zh, en = f"发布共享目录（{scope.value}）", f"published to the share directory ({scope.value})"
            repo.add_event("offer.published", owner, principal.id, now, zh, en)
        return offer

    def unpublish(self, principal: Principal, offer_id: int, *, source_address: str | None = None) -> Offer:
        """Take an offer out of the directory; returns what it was."""
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            offer = repo.get_offer(offer_id)
            if offer is None:
                raise SharingNotFoundError(f"共享目录项 {offer_id} 不存在", f"share offer {offer_id} does not exist")
            owner = offer.owner_unit_code
            self.require(principal, AdminAction.SHARE_PUBLISH, owner_ref(owner), source_address=source_address)
            self.record(
                change_record(
                    AuditAction.GRANT_CHANGE,
                    "offer.removed",
                    principal,
                    now,
                    cameras=() if offer.camera_id is None else (offer.camera_id,),
                    source_address=source_address,
                    owner=owner,
                    scope=offer.scope.value,
                    target=offer.camera_id or offer.division_code or "",
                    offer=str(offer.id),
                )
            )
            repo.unpublish(offer.id)
            zh, en = f"撤下共享目录项（{offer.scope.value}）", f"removed from the share directory ({offer.scope.value})"
            repo.add_event("offer.removed", owner, principal.id, now, zh, en)
        return offer

    def offers(self, owner_unit_code: str) -> list[Offer]:
        with self.sessions() as session:
            return self.repo(session).offers_of(owner_unit_code)

    def directory(
        self, principal: Principal, owner_unit_code: str | None, *, source_address: str | None = None
    ) -> list[Offer]:
        """What one unit offers (``owner_unit_code``), or the whole directory (None): every unit taking part in
        sharing may browse it, to know what it can request."""
        self.member(principal, "share_offer.list", source_address)
        with self.sessions() as session:
            return self.repo(session).offers_of(owner_unit_code)
