"""Resolving the 建设单位/管理单位 values departments write (a unit code or a unit's name) to units.

A value is first taken as a unit code, then as a unit name (spaces ignored). A name no unit has is planned as a
new unit (``auto_created``, code ``auto-`` + 10 hex digits of the name's SHA-1, so a dry run announces the same
code the real import will use), unless the import is strict: then it is a row error. A name two units share is
always an error: the row must use the code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from xueliang.domain.archive import Finding, error
from xueliang.store.units import NewUnit, UnitInfo

AUTO_CODE_PREFIX = "auto-"
_ENTERPRISE_WORDS = ("公司", "集团", "有限", "银行", "酒店", "宾馆", "厂", "商场", "超市", "物业")
_DEPARTMENT_SUFFIXES = (
    "局", "委", "委员会", "办", "办公室", "政府", "管委会", "中心", "大队", "支队", "派出所", "法院", "检察院",
    "街道", "办事处", "站", "所", "院", "馆", "学校", "中学", "小学", "幼儿园", "部", "厅", "处",
)  # fmt: skip


def unit_key(text: str) -> str:
    return "".join(text.split())


def guess_kind(name: str) -> str:
    """department | enterprise | other, from the words of a unit's name."""
    if any(word in name for word in _ENTERPRISE_WORDS):
        return "enterprise"
    if name.endswith(_DEPARTMENT_SUFFIXES):
        return "department"
    return "other"


def auto_code(name: str) -> str:
    return AUTO_CODE_PREFIX + hashlib.sha1(unit_key(name).encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Resolution:
    code: str | None  # the unit code the record stores; None when the value could not be resolved
    finding: Finding | None = None  # an error when unresolved


class UnitDirectory:
    """Every known unit by code and by name, plus the units an import plans to create."""

    def __init__(self, units: Iterable[UnitInfo], *, creating_hint: bool = True) -> None:
        self.creating_hint = creating_hint  # say that an import without --strict-units would create the unit
        self.by_code: dict[str, UnitInfo] = {}
        self.by_name: dict[str, list[UnitInfo]] = {}
        for unit in units:
            self.by_code[unit.code] = unit
            self.by_name.setdefault(unit_key(unit.name), []).append(unit)
        self.planned: dict[str, NewUnit] = {}  # name key -> unit to create
        self._cache: dict[tuple[str, str, bool], Resolution] = {}

    def resolve(self, field_name: str, value: str, *, strict: bool, division_code: str | None = None) -> Resolution:
        """The unit code for a sheet value (see the module docstring); plans a new unit unless ``strict``."""
        cache_key = (field_name, value, strict)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        resolution = self._resolve(field_name, value, strict=strict, division_code=division_code)
        self._cache[cache_key] = resolution
        return resolution

    def _resolve(self, field_name: str, value: str, *, strict: bool, division_code: str | None) -> Resolution:
        text = value.strip()
        if text in self.by_code:
            return Resolution(text)
        key = unit_key(text)
        named = self.by_name.get(key, [])
        if len(named) == 1:
            return Resolution(named[0].code)
        label_zh = "建设单位" if field_name == "owner_unit" else "管理单位"
        label_en = "owner unit" if field_name == "owner_unit" else "management unit"
        if len(named) > 1:
            codes = "、".join(u.code for u in named)
            return Resolution(
                None,
                error(
                    field_name,
                    "unit.ambiguous",
                    f"{label_zh}“{text}”对应多个单位（代码 {codes}），请改填单位代码",
                    f"the {label_en} '{text}' names several units (codes {codes}); write the unit code instead",
                    text,
                ),
            )
        if strict:
            hint_zh = "，或去掉 --strict-units 由导入自动创建" if self.creating_hint else ""
            hint_en = ", or import without --strict-units to create it" if self.creating_hint else ""
            return Resolution(
                None,
                error(
                    field_name,
                    "unit.unknown",
                    f"平台上没有{label_zh}“{text}”：请填写已登记单位的代码或名称（见 /api/v1/units）{hint_zh}",
                    f"the platform has no {label_en} '{text}': write the code or name of a registered unit "
                    f"(see /api/v1/units){hint_en}",
                    text,
                ),
            )
        planned = self.planned.get(key)
        if planned is None:
            planned = NewUnit(
                code=auto_code(text),
                name=text,
                kind=guess_kind(text),
                division_code=division_code,
                auto_created=True,
            )
            self.planned[key] = planned
        return Resolution(planned.code)

    def created_units(self) -> list[NewUnit]:
        return list(self.planned.values())

    def name_of(self, code: str | None) -> str | None:
        if code is None:
            return None
        unit = self.by_code.get(code)
        if unit is not None:
            return unit.name
        for planned in self.planned.values():
            if planned.code == code:
                return planned.name
        return None
