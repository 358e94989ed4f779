"""DESIGN.md layer rules, checked on the source: L0-L4 are sans-IO and depend only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "srs"

# package -> layer (DESIGN.md); lower numbers may not import higher ones
LAYERS = {
    "util": 0,
    "config": 0,
    "codec": 1,
    "format": 2,
    "protocol": 2,
    "media": 3,
    "remux": 4,
    "server": 5,
    "client": 5,
    "output": 5,
    "cluster": 5,
    "control": 6,
    "app": 7,
    "cli": 7,
    "__main__": 7,
}
SANS_IO_FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "selectors", "uvloop", "aiohttp"}


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_layer_rules(path: Path) -> None:
    pkg = package_of(path)
    if pkg not in LAYERS:
        return  # srs/__init__.py
    layer = LAYERS[pkg]
    for name in imports(path):
        top = name.split(".")[0]
        if layer <= 4:
            assert top not in SANS_IO_FORBIDDEN, (
                f"{path.name} (L{layer}) imports {name}: sans-IO layers must not"
            )
        if top == "srs" and "." in name:
            target = name.split(".")[1]
            if target in LAYERS:
                assert LAYERS[target] <= layer, f"{path.name} (L{layer}) imports {name} (L{LAYERS[target]})"
