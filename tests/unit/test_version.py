"""One version, said in two places: the package's metadata and the addon's manifest must agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import crm_webhooks
from crm_webhooks.addon import WebhooksAddon


def test_the_version_is_the_same_everywhere() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert crm_webhooks.__version__ == project["version"] == WebhooksAddon.manifest.version
