"""The camera naming rule."""

from __future__ import annotations

import pytest

from xueliang.domain import naming

DEFAULT = "{division}{address}{direction}"


@pytest.mark.parametrize(
    ("name", "division", "direction", "ok"),
    [
        ("裕安区梅山南路与皋城路交叉口东", "341503", "1", True),
        ("裕安区梅山南路与皋城路交叉口东", "341503", None, True),
        ("裕安梅山南路北向", "341503", "4", True),  # the division without its suffix
        ("六安市裕安区梅山南路（朝北）", "34150301", "4", True),  # grassroots code: the county's name
        ("安徽省六安市裕安区皋城路西", "341503", "2", True),
        ("裕安区梅山南路与皋城路交叉口东南", "341503", "5", True),
        ("裕安区梅山南路与皋城路交叉口东", "341503", "5", False),  # the record says south-east
        ("裕安区梅山南路与皋城路交叉口东南", "341503", "3", False),  # 东南 is not 南
        ("梅山南路与皋城路交叉口东", "341503", "1", False),  # no division
        ("金安区梅山南路东", "341503", "1", False),  # another county's name
        ("裕安区梅山南路", "341503", None, False),  # no direction
        ("梅山南路东", None, None, True),  # unknown division: anything goes there
        ("裕安区梅山南路东", "341500", "1", True),  # filed under the city, named after its county
        ("金寨县梅山南路东", "341500", "1", True),
        ("肥西县梅山南路东", "341500", "1", False),  # a county of Hefei
    ],
)
def test_default_rule(name: str, division: str | None, direction: str | None, ok: bool) -> None:
    assert naming.matches(DEFAULT, name, division, direction) is ok


def test_custom_template_with_literal_text() -> None:
    template = "{division}-{address}"
    assert naming.matches(template, "裕安区-梅山南路", "341503", None)
    assert not naming.matches(template, "裕安区梅山南路", "341503", None)


def test_validate_template() -> None:
    naming.validate_template(DEFAULT)
    with pytest.raises(ValueError, match="foo"):
        naming.validate_template("{division}{foo}")
    with pytest.raises(ValueError):
        naming.validate_template("{division")


def test_describe() -> None:
    assert naming.describe(DEFAULT) == ("行政区划名称+地址+监视方向", "division name + address + direction")
    assert naming.describe("{division}-{address}") == ("行政区划名称+“-”+地址", 'division name + "-" + address')
