"""`pip install -e ".[qa]"` is all QA installs for the plugin: nothing it imports is left out."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])


def extra(name: str) -> set[str]:
    """The distributions an extra installs by name, through the project's references to its own extras."""
    names: set[str] = set()
    for line in PROJECT["optional-dependencies"][name]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == SELF:
            for inner in requirement.extras:
                names |= extra(inner)
        else:
            names.add(canonicalize_name(requirement.name))
    return names


def with_their_dependencies(names: set[str]) -> set[str]:
    """Those distributions and everything they require in turn (as installed here)."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return found


def test_the_test_extra_holds_everything_the_qa_extra_does() -> None:
    assert extra("qa") and extra("qa") <= extra("test")
    assert not {"playwright", "ruff"} & extra("qa")  # light: no browser, no linter


def test_every_module_the_plugin_imports_comes_with_the_project_or_the_qa_extra() -> None:
    imported: set[str] = set()
    for source in ("crm_webhooks/pytest_plugin.py", "crm_webhooks/testing.py"):
        for node in ast.walk(ast.parse((ROOT / source).read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "crm_stub", "crm_webhooks"}
    assert {"pytest", "pytest_httpserver", "werkzeug"} <= third_party
    installed = with_their_dependencies({canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]})
    installed |= with_their_dependencies(extra("qa"))
    providers = metadata.packages_distributions()
    for module in sorted(third_party):
        assert {canonicalize_name(d) for d in providers[module]} & installed, f"{module} needs a place in the qa extra"
