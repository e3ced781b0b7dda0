"""/api/v1/units (建设单位/管理单位) and /api/v1/settings (operational settings such as the naming rule)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from xueliang.api.auth_deps import ARCHIVE_MANAGE, ARCHIVE_READ, require_action
from xueliang.api.deps import Caller, get_caller, get_catalog, get_platform
from xueliang.api.errors import ApiError
from xueliang.api.schemas.units import NamingRuleIn, NamingRuleOut, UnitIn, UnitOut
from xueliang.app import Platform
from xueliang.catalog.service import CatalogService
from xueliang.domain import naming
from xueliang.domain.archive import NamingRule
from xueliang.domain.policy import AdminAction
from xueliang.sharing.accounts import AccountError

router = APIRouter(dependencies=[ARCHIVE_READ])
Catalog = Annotated[CatalogService, Depends(get_catalog)]
CallerDep = Annotated[Caller, Depends(get_caller)]


@router.get("/units", response_model=list[UnitOut], tags=["units"], summary="Units / 单位")
def list_units(catalog: Catalog) -> list[UnitOut]:
    return [
        UnitOut(code=u.code, name=u.name, kind=u.kind, division_code=u.division_code, auto_created=u.auto_created)
        for u in catalog.list_units()
    ]


@router.post(
    "/units",
    response_model=UnitOut,
    status_code=201,
    tags=["units"],
    summary="Create a unit / 新建单位",
    dependencies=[Depends(require_action(AdminAction.USER_MANAGE))],
)
def create_unit(body: UnitIn, platform: Annotated[Platform, Depends(get_platform)], caller: CallerDep) -> UnitOut:
    """A unit users and cameras can belong to (system administrator)."""
    try:
        unit = platform.accounts.create_unit(body.code, body.name, body.kind, body.division_code, actor=caller.user_id)
    except AccountError as exc:
        raise ApiError(exc.status, "unit_exists" if exc.status == 409 else "invalid_unit", exc.zh, exc.en) from exc
    return UnitOut(code=unit.code, name=unit.name, kind=unit.kind, division_code=unit.division_code, auto_created=False)


def _rule_out(rule: NamingRule) -> NamingRuleOut:
    zh, en = naming.describe(rule.template)
    return NamingRuleOut(template=rule.template, enabled=rule.enabled, description_zh=zh, description_en=en)


@router.get("/settings/naming-rule", response_model=NamingRuleOut, tags=["settings"], summary="Naming rule / 命名规则")
def get_naming_rule(catalog: Catalog) -> NamingRuleOut:
    return _rule_out(catalog.naming_rule())


@router.put(
    "/settings/naming-rule",
    dependencies=[ARCHIVE_MANAGE],
    response_model=NamingRuleOut,
    tags=["settings"],
    summary="Set the naming rule",
)
def put_naming_rule(body: NamingRuleIn, catalog: Catalog) -> NamingRuleOut:
    """Camera names are checked against this rule (a warning, never an error) from the next write on."""
    return _rule_out(catalog.set_naming_rule(NamingRule(template=body.template, enabled=body.enabled)))
