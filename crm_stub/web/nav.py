"""The menu: sections with entries that addons add to (System > Integrations > Webhooks)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    section: str  # "System > Integrations"
    label: str  # a gettext message id, translated when shown
    endpoint: str
    description: str = ""


@dataclass
class Nav:
    entries: list[Entry] = field(default_factory=list)

    def add(self, section: str, label: str, endpoint: str, description: str = "") -> None:
        self.entries.append(Entry(section, label, endpoint, description))

    def under(self, section: str) -> list[Entry]:
        return [e for e in self.entries if e.section == section]
