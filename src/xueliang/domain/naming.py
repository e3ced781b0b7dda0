"""The camera naming rule (命名规则): does a camera's name read the way the city wants?

A rule is a template (archive.NamingRule) of literal text and placeholders:

- ``{division}``: the name of the camera's division, short or long (``裕安区``, ``裕安``, ``六安市裕安区``,
  ``安徽省六安市裕安区``), or of a division under it (a camera filed under 六安市 may be named ``裕安区...``);
  any text when the division is unknown;
- ``{address}``: free text, at least one character (names abbreviate addresses, so it is not compared with
  the install address);
- ``{direction}``: a direction word (``东``, ``东南``, ``朝东``, ``东向``, ``(东)`` ...), the record's own
  direction when it has one.

The default ``{division}{address}{direction}`` accepts ``裕安区梅山南路与皋城路交叉口东`` and refuses
``梅山南路东`` (no division) and ``裕安区梅山南路`` (no direction). Patterns are compiled once per
(template, division, direction) and cached, so checking a name is one regex match.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

from xueliang.domain import divisions

__all__ = ["PLACEHOLDERS", "describe", "matches", "validate_template"]

PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "division": ("行政区划名称", "division name"),
    "address": ("地址", "address"),
    "direction": ("监视方向", "direction"),
}

# direction code (archive.DIRECTION) -> the word; single-character words must not be the tail of a compound
_DIRECTION_WORDS = {
    "1": r"(?<![东西南北])东",
    "2": r"(?<![东西南北])西",
    "3": r"(?<![东西])南",
    "4": r"(?<![东西])北",
    "5": "东南",
    "6": "东北",
    "7": "西南",
    "8": "西北",
}
_ANY_DIRECTION = r"(?:东南|东北|西南|西北|东|西|南|北)"
_GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_SUFFIXES = ("自治县", "自治州", "自治旗", "新区", "林区", "特区", "省", "市", "区", "县", "旗", "州", "盟")


def validate_template(template: str) -> None:
    """Raise ValueError (bilingual) when a template has an unknown placeholder or bad braces."""
    try:
        fields = [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"命名规则模板格式错误：{template} / malformed naming rule template: {template}") from exc
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ValueError(
            f"命名规则模板含未知占位符 {unknown}，可用：{allowed} / "
            f"unknown placeholders {unknown} in the naming rule; allowed: {allowed}"
        )


def describe(template: str) -> tuple[str, str]:
    """The template in words: ``行政区划名称+地址+监视方向`` / ``division name + address + direction``."""
    zh: list[str] = []
    en: list[str] = []
    for text, name, _spec, _conv in string.Formatter().parse(template):
        if text:
            zh.append(f"“{text}”")
            en.append(f'"{text}"')
        if name is not None:
            label_zh, label_en = PLACEHOLDERS.get(name, (name, name))
            zh.append(label_zh)
            en.append(label_en)
    return "+".join(zh), " + ".join(en)


def _division_names(code: str) -> list[str]:
    """Ways a name may spell the division: its own name, without suffix, and with its ancestors."""
    division = divisions.get(code)
    if division is None:
        return []
    if division.level is divisions.Level.GRASSROOTS and division.parent_code is not None:
        division = divisions.get(division.parent_code)
        if division is None:
            return []
    names = {division.name}
    for suffix in _SUFFIXES:
        stem = division.name.removesuffix(suffix)
        if stem != division.name and len(stem) >= 2:
            names.add(stem)
            break
    full = divisions.full_name(division.code)
    chain = [a.name for a in divisions.ancestors(division.code)]
    names.add(full)
    if chain:
        names.add(full.removeprefix(chain[0]))  # without the province
    # a camera filed under a city (or province) may be named after the county it stands in
    below = divisions.children(division.code)
    for child in list(below):
        below.extend(divisions.children(child.code))
    names.update(d.name for d in below if d.name not in _GROUPING_NAMES)
    return sorted((n for n in names if n), key=len, reverse=True)


@lru_cache(maxsize=4096)
def _pattern(template: str, division_code: str, direction: str) -> re.Pattern[str]:
    parts: list[str] = []
    for text, name, _spec, _conv in string.Formatter().parse(template):
        if text:
            parts.append(re.escape(text))
        if name == "division":
            names = _division_names(division_code) if division_code else []
            parts.append("(?:" + "|".join(map(re.escape, names)) + ")" if names else ".*?")
        elif name == "address":
            parts.append(".+?")
        elif name == "direction":
            word = _DIRECTION_WORDS.get(direction, _ANY_DIRECTION)
            parts.append(r"\s*[(（]?\s*(?:朝|向|往)?" + word + r"(?:向|侧|方向|面)?\s*[)）]?")
        elif name is not None:
            parts.append(".*?")
    return re.compile("^" + "".join(parts) + r"\s*$", re.DOTALL)


def matches(template: str, name: str, division_code: str | None, direction: str | None) -> bool:
    """Whether ``name`` follows ``template`` for a camera in ``division_code`` facing ``direction``."""
    return _pattern(template, division_code or "", direction or "").match(name.strip()) is not None
