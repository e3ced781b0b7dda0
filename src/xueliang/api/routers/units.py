"""/api/v1/units (建设单位/管理单位) and /api/v1/settings (operational settings such as the naming rule)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from xueliang.api.deps import get_catalog
from xueliang.api.schemas.units import NamingRuleIn, NamingRuleOut, UnitOut
from xueliang.catalog.service import CatalogService
from xueliang.domain import naming
from xueliang.domain.archive import NamingRule

router = APIRouter()
Catalog = Annotated[CatalogService, Depends(get_catalog)]


@router.get("/units", response_model=list[UnitOut], tags=["units"], summary="Units / 单位")
def list_units(catalog: Catalog) -> list[UnitOut]:
    return [
        UnitOut(code=u.code, name=u.name, kind=u.kind, division_code=u.division_code, auto_created=u.auto_created)
        for u in catalog.list_units()
    ]


def _rule_out(rule: NamingRule) -> NamingRuleOut:
    zh, en = naming.describe(rule.template)
    return NamingRuleOut(template=rule.template, enabled=rule.enabled, description_zh=zh, description_en=en)


@router.get("/settings/naming-rule", response_model=NamingRuleOut, tags=["settings"], summary="Naming rule / 命名规则")
def get_naming_rule(catalog: Catalog) -> NamingRuleOut:
    return _rule_out(catalog.naming_rule())


@router.put("/settings/naming-rule", response_model=NamingRuleOut, tags=["settings"], summary="Set the naming rule")
def put_naming_rule(body: NamingRuleIn, catalog: Catalog) -> NamingRuleOut:
    """Camera names are checked against this rule (a warning, never an error) from the next write on."""
    return _rule_out(catalog.set_naming_rule(NamingRule(template=body.template, enabled=body.enabled)))
