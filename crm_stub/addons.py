"""Addons: found by entry point, installed once per database, loaded by every process.

An addon is a distribution that declares an entry point in the group
``crm_stub.addons``.  The entry point names a factory (usually a class) with a
``manifest`` attribute.  The host calls ``factory(crm, **options)`` to get the
addon's object, then ``install()`` on it the first time (and again when the
manifest's version changes) so it can create or upgrade its tables, then
``start()`` if it has one (threads belong there, once its tables exist).  The
object may define ``close()`` to release threads and connections.

The host never imports an addon by name: it only walks entry points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from .errors import CRMError
from .models import InstalledAddon

if TYPE_CHECKING:
    from .crm import CRM

ENTRY_POINT_GROUP = "crm_stub.addons"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    depends: tuple[str, ...] = ()
    summary: str = ""


class AddonFactory(Protocol):
    manifest: Manifest

    def __call__(self, crm: CRM, **options: Any) -> Any: ...


def discover(name: str | None = None) -> dict[str, AddonFactory]:
    """Addons installed in this Python environment (or the one called ``name``), by name.

    Only the entry points asked for are imported, so one broken addon cannot
    stop a CRM that does not use it from starting.
    """
    found: dict[str, AddonFactory] = {}
    selected = entry_points(group=ENTRY_POINT_GROUP, **({"name": name} if name else {}))
    for ep in selected:
        factory = ep.load()
        manifest = getattr(factory, "manifest", None)
        if not isinstance(manifest, Manifest) or manifest.name != ep.name:
            raise CRMError(f"entry point {ep.name!r} ({ep.value}) must carry a crm_stub Manifest named {ep.name!r}")
        found[ep.name] = factory
    return found


class Addons(Mapping[str, Any]):
    """The addons loaded into one CRM: ``crm.addons[name]`` is the addon's object."""

    def __init__(self, crm: CRM, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._crm = crm
        # Options this process runs an addon with, over what the database stores.
        self._overrides = {name: dict(opts) for name, opts in (overrides or {}).items()}
        self._loaded: dict[str, Any] = {}
        self._options: dict[str, dict[str, Any]] = {}
        self._available: dict[str, AddonFactory] | None = None

    def __getitem__(self, name: str) -> Any:
        try:
            return self._loaded[name]
        except KeyError:
            raise KeyError(f"addon {name!r} is not installed (installed: {sorted(self._loaded) or 'none'})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded)

    def __len__(self) -> int:
        return len(self._loaded)

    def options(self, name: str) -> dict[str, Any]:
        """The options ``name`` is installed with in this database (not this process's overrides)."""
        self[name]  # an addon that is not installed is a KeyError that says so
        return dict(self._options[name])

    @property
    def available(self) -> dict[str, AddonFactory]:
        if self._available is None:
            self._available = discover()
        return self._available

    def _factory(self, name: str) -> AddonFactory:
        factory = (self._available or {}).get(name) or discover(name).get(name)
        if factory is None:
            known = ", ".join(sorted(self.available)) or "none"
            raise CRMError(f"addon {name!r} is not available in this environment (available: {known})")
        return factory

    def load_installed(self) -> int:
        """Load every addon this database has installed, with its stored options.

        The overrides given to the CRM change options for this process only (a
        worker turning the in-process dispatcher off, say).  Returns how many
        were loaded.
        """
        with self._crm._read() as session:
            rows = session.scalars(select(InstalledAddon).order_by(InstalledAddon.installed_at)).all()
            stored = {row.name: (row.version, dict(row.options or {})) for row in rows}
        for name, (version, options) in stored.items():
            if name not in self._loaded:
                self._load(name, version, options, stored)
        return len(stored)

    def _load(self, name: str, version: str, options: dict[str, Any], stored: dict[str, Any]) -> None:
        factory = self._factory(name)
        for dep in factory.manifest.depends:
            if dep not in self._loaded and dep in stored:
                self._load(dep, stored[dep][0], stored[dep][1], stored)
        addon = factory(self._crm, **{**options, **self._overrides.get(name, {})})
        if version != factory.manifest.version:
            addon.install()
            self._record(factory.manifest, stored[name][1])
        _start(addon)
        self._loaded[name] = addon
        self._options[name] = options

    def install(self, name: str, **options: Any) -> Any:
        if name in self._loaded and (not options or options == self._options[name]):
            return self._loaded[name]
        factory = self._factory(name)
        try:
            json.dumps(options)
        except TypeError as exc:
            raise CRMError(f"options of addon {name!r} must be JSON values: {exc}") from None
        for dep in factory.manifest.depends:
            if dep not in self._loaded:
                self.install(dep)
        addon = factory(self._crm, **{**options, **self._overrides.get(name, {})})
        addon.install()
        self._record(factory.manifest, options)
        previous = self._loaded.get(name)
        if previous is not None:
            _close(previous)
        _start(addon)
        self._loaded[name] = addon
        self._options[name] = options
        return addon

    def _record(self, manifest: Manifest, options: dict[str, Any]) -> None:
        with self._crm.transaction() as session:
            row = session.get(InstalledAddon, manifest.name)
            if row is None:
                session.add(InstalledAddon(name=manifest.name, version=manifest.version, options=options))
            else:
                row.version = manifest.version
                row.options = options

    def close(self) -> None:
        for name in reversed(list(self._loaded)):
            _close(self._loaded.pop(name))


def _start(addon: Any) -> None:
    start = getattr(addon, "start", None)
    if start is not None:
        start()


def _close(addon: Any) -> None:
    close = getattr(addon, "close", None)
    if close is not None:
        close()
