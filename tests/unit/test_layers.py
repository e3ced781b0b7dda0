"""The layering of ARCHITECTURE.md, checked from the source: imports point down only.

domain <- protocol <- store <- services (catalog, ...) <- api <- cli/app. A module may import its own layer and
the layers below it, never above; domain and protocol import no I/O frameworks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "xueliang"

# layer name -> the xueliang sub-packages/modules it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "protocol": {"domain"},
    "store": {"domain", "protocol", "config"},
    "catalog": {"domain", "protocol", "store", "jobs", "config"},
    # signaling and catalog are services side by side: they never import each other (the root wires them)
    "signaling": {"domain", "protocol", "store", "config"},
    # media never imports signaling: signaling reaches media through domain.streams.MediaReceivers
    "media": {"domain", "protocol", "config", "jobs"},
    # sharing issues and checks play tokens (issue 5 grows it into the authorisation module)
    "sharing": {"domain", "protocol", "store", "config"},
    "sim": {"domain", "protocol", "catalog", "store", "config", "app"},
    "api": {"domain", "protocol", "store", "catalog", "signaling", "media", "sharing", "jobs", "app", "config"},
    "jobs": {"config"},
    "config": set(),
}
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "domain": {"asyncio", "socket", "sqlalchemy", "fastapi", "starlette", "av", "pydantic", "typer"},
    "protocol": {"asyncio", "socket", "sqlalchemy", "fastapi", "starlette", "av"},
    "store": {"fastapi", "starlette", "typer"},
    "catalog": {"fastapi", "starlette", "typer", "uvicorn"},
    "signaling": {"fastapi", "starlette", "typer", "uvicorn", "sqlalchemy"},
    "media": {"fastapi", "starlette", "typer", "uvicorn", "sqlalchemy"},
}


def _layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "xueliang":
                names.update(f"xueliang.{alias.name}" for alias in node.names)
    return names


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    layer = _layer_of(path)
    if layer not in ALLOWED:
        return  # composition root (cli.py, app.py, __init__.py) may import anything
    allowed = ALLOWED[layer] | {layer, "__version__"}
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "xueliang" and len(parts) > 1:
            assert parts[1] in allowed, f"{path.name} ({layer}) imports {name}, a layer above or beside it"
        assert parts[0] not in FORBIDDEN_THIRD_PARTY.get(layer, set()), f"{path.name} ({layer}) imports {name}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from xueliang.api import app\nimport socket\n", encoding="utf-8")
    assert {"xueliang.api", "socket"} <= _imports(bad)
