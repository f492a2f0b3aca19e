"""The addon's four rooms depend one way: surfaces -> services -> engine -> domain.

Read from the source (no import runs): each module's imports of the addon's own
modules may name its own room or a lower one, never a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "crm_webhooks"

# Lowest first.  A module not listed by name goes by its folder.
ROOMS = ("domain", "engine", "services", "surfaces")
BY_FOLDER = {"domain": "domain", "engine": "engine", "migrations": "engine", "web": "surfaces"}
BY_MODULE = {
    "exceptions": "domain",
    "version": "domain",
    "signals": "domain",
    "models": "engine",
    "outbox": "engine",
    "state": "engine",
    "encryption": "engine",
    "schema": "engine",
    "hooks": "services",
    "deliveries": "services",
    "replay": "services",
    "recovery": "services",
    "probing": "services",
    "preview": "services",
    "stats": "services",
    # Counts through the engine's observer hooks, reads the queue through deliveries.
    "metrics": "services",
    # The object install_addon returns is the Python surface (CONTRACT section 2): thin over
    # the services, and where the host asks for the web pages.
    "addon": "surfaces",
    "__init__": "surfaces",
    "cli": "surfaces",
    "stop_signals": "surfaces",
    "demo": "surfaces",
    "testing": "surfaces",
    "pytest_plugin": "surfaces",
}


def room_of(module: str) -> str:
    """``crm_webhooks.engine.claim`` -> ``engine``."""
    parts = module.split(".")[1:] or ["__init__"]
    return BY_FOLDER.get(parts[0]) or BY_MODULE[parts[0]]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1] if len(parts) > 2 else [*parts[:-1], "__init__"]
    return ".".join(p for p in parts if p != "__init__") or "crm_webhooks"


def imported(path: Path, module: str) -> set[str]:
    """The addon's own modules that ``path`` imports, absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(n if _is_module(n) else target for n in names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "crm_webhooks" or name.startswith("crm_webhooks.")}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_a_module_imports_nothing_from_a_higher_room(path: Path) -> None:
    module = module_name(path)
    mine = ROOMS.index(room_of(module))
    higher = sorted(name for name in imported(path, module) if ROOMS.index(room_of(name)) > mine)
    assert higher == [], f"{module} ({ROOMS[mine]}) imports from a higher room: {higher}"


def test_the_rooms_cover_every_module() -> None:
    for path in SOURCES:
        assert room_of(module_name(path)) in ROOMS
