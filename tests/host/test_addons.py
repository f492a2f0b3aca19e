"""Addon discovery through a real entry point, installation, and loading by later processes."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from types import ModuleType

import pytest
import sqlalchemy as sa

from crm_stub import CRM, CRMError
from crm_stub.db import read_only

ADDON_SOURCE = '''
import sqlalchemy as sa
from crm_stub import Manifest, bus

metadata = sa.MetaData()
seen = sa.Table("echo_seen", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.String(80)))
installs = []


class Echo:
    """Writes a row per new lead in the change's own session, as an outbox does."""

    manifest = Manifest(name="echo", version="1.0", summary="Echoes lead.created into a table")

    def __init__(self, crm, *, prefix=""):
        self.crm, self.prefix, self.closed = crm, prefix, False
        bus.signal("lead.created").connect(self._on_lead, sender=crm)

    def install(self):
        installs.append(self)
        metadata.create_all(self.crm.engine)

    def _on_lead(self, sender, *, session, obj, changes, actor_id):
        session.execute(seen.insert().values(code=f"{self.prefix}lead.created:{obj.id}"))

    def close(self):
        self.closed = True
        bus.signal("lead.created").disconnect(self._on_lead, sender=self.crm)


class Needy:
    manifest = Manifest(name="needy", version="0.1", depends=("echo",), summary="Depends on echo")

    def __init__(self, crm):
        self.echo = crm.addons["echo"]

    def install(self):
        pass
'''


@pytest.fixture(scope="session")
def echo_addon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """A tiny addon distribution on sys.path, discovered through its entry points like any other."""
    site = tmp_path_factory.mktemp("site")
    (site / "echo_addon").mkdir()
    (site / "echo_addon" / "__init__.py").write_text(textwrap.dedent(ADDON_SOURCE))
    dist = site / "echo_addon-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-addon\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[crm_stub.addons]\necho = echo_addon:Echo\nneedy = echo_addon:Needy\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("echo_addon")
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("echo_addon", None)


def seen_codes(crm: CRM) -> list[str]:
    with read_only(), crm.engine.connect() as conn:
        return list(conn.scalars(sa.text("select code from echo_seen order by id")))


def test_addons_are_discovered_through_their_entry_points(host: CRM, echo_addon: ModuleType) -> None:
    assert {"echo", "needy"} <= set(host.addons.available)
    assert host.addons.available["echo"] is echo_addon.Echo
    assert host.addons.available["needy"].manifest.depends == ("echo",)


def test_install_creates_tables_and_is_idempotent(host: CRM, echo_addon: ModuleType) -> None:
    before = len(echo_addon.installs)
    echo = host.install_addon("echo", prefix="a:")
    assert host.install_addon("echo") is echo
    assert host.install_addon("echo", prefix="a:") is echo
    assert host.addons["echo"] is echo and list(host.addons) == ["echo"]
    assert len(echo_addon.installs) == before + 1
    lead = host.leads.create("X")
    assert seen_codes(host) == [f"a:lead.created:{lead.id}"]


def test_what_the_addon_writes_rolls_back_with_the_change(host: CRM, echo_addon: ModuleType) -> None:
    host.install_addon("echo")
    with pytest.raises(ZeroDivisionError), host.transaction():
        host.leads.create("Gone")
        1 / 0  # noqa: B018 - any error in the block
    assert seen_codes(host) == []


def test_a_later_process_loads_installed_addons_with_their_options(database_url: str, echo_addon: ModuleType) -> None:
    with CRM(database_url) as first:
        first.install_addon("echo", prefix="stored:")
    installs = len(echo_addon.installs)
    with CRM(database_url) as later:
        assert later.addons["echo"].prefix == "stored:"
        lead = later.leads.create("Y")
        assert seen_codes(later) == [f"stored:lead.created:{lead.id}"]
    # Loading is not installing.
    assert len(echo_addon.installs) == installs


def test_process_overrides_do_not_change_what_is_stored(database_url: str, echo_addon: ModuleType) -> None:
    with CRM(database_url, addons=["echo"]) as first:
        assert first.addons["echo"].prefix == ""
    with CRM(database_url, addon_options={"echo": {"prefix": "worker:"}}) as worker:
        assert worker.addons["echo"].prefix == "worker:"
    with CRM(database_url) as again:
        assert again.addons["echo"].prefix == ""


def test_reinstalling_with_new_options_replaces_the_addon(host: CRM, echo_addon: ModuleType) -> None:
    old = host.install_addon("echo", prefix="old:")
    new = host.install_addon("echo", prefix="new:")
    assert new is not old and old.closed and host.addons["echo"] is new
    lead = host.leads.create("Z")
    assert seen_codes(host) == [f"new:lead.created:{lead.id}"]


def test_dependencies_are_installed_first(host: CRM, echo_addon: ModuleType) -> None:
    needy = host.install_addon("needy")
    assert needy.echo is host.addons["echo"]
    assert list(host.addons) == ["echo", "needy"]


def test_a_new_manifest_version_runs_the_install_hook_again(database_url: str, echo_addon: ModuleType) -> None:
    with CRM(database_url, addons=["echo"]) as crm, crm.transaction() as session:
        session.execute(sa.text("update crm_addons set version = '0.9' where name = 'echo'"))
    installs = len(echo_addon.installs)
    with CRM(database_url) as crm, read_only(), crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select version from crm_addons where name = 'echo'")) == "1.0"
    assert len(echo_addon.installs) == installs + 1


def test_close_releases_every_addon(database_url: str, echo_addon: ModuleType) -> None:
    crm = CRM(database_url, addons=["echo"])
    echo = crm.addons["echo"]
    crm.close()
    assert echo.closed
    assert len(crm.addons) == 0


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nope", {}, "addon 'nope' is not available in this environment"),
        # Options are stored for later processes, so they must survive JSON.
        ("echo", {"prefix": object()}, "options of addon 'echo' must be JSON values"),
    ],
)
def test_bad_installs_are_refused_and_store_nothing(host: CRM, echo_addon: ModuleType, name, options, message) -> None:
    with pytest.raises(CRMError, match=message):
        host.install_addon(name, **options)
    with read_only(), host.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from crm_addons")) == 0


def test_an_addon_that_is_not_installed_is_a_clear_key_error(host: CRM) -> None:
    with pytest.raises(KeyError, match="addon 'echo' is not installed"):
        host.addons["echo"]
