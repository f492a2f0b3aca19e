"""Transactions: grouping, nesting, rollback, and snapshots that outlive them."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from crm_stub import CRM, CRMError, InvalidTransition, Snapshot, bus
from crm_stub.db import read_only

from .conftest import Recorder, World


class Boom(Exception):
    pass


def test_a_block_that_raises_rolls_everything_back(world: World, recorder: Recorder) -> None:
    committed = recorder.committed_codes()
    with pytest.raises(Boom), world.crm.transaction():
        lead = world.crm.leads.create("Temp")
        world.crm.leads.tag(lead.id, "x")
        world.crm.opportunities.change_stage(world.opp, "proposal")
        raise Boom
    # The receivers ran, but what they wrote went with the rollback.
    assert recorder.codes == ["lead.created", "lead.tagged", "opportunity.stage_changed"]
    assert recorder.committed_codes() == committed
    assert [x.name for x in world.crm.leads.list()] == ["ACME"]
    assert world.crm.opportunities.get(world.opp).stage == "prospecting"


def test_a_block_commits_all_its_calls_at_once(world: World, recorder: Recorder) -> None:
    with world.crm.transaction():
        lead = world.crm.leads.create("Grouped")
        world.crm.leads.change_stage(lead.id, "contacted")
        # Inside the block the change is visible to later calls...
        assert world.crm.leads.get(lead.id).stage == "contacted"
        # ...and not yet to anyone else.
        with read_only(), world.crm.engine.connect() as other:
            assert other.scalar(sa.text("select count(*) from leads where name = 'Grouped'")) == 0
    assert recorder.committed_codes()[-2:] == ["lead.created", "lead.stage_changed"]


def test_an_inner_block_rolls_back_alone_when_its_error_is_caught(world: World, recorder: Recorder) -> None:
    with world.crm.transaction():
        world.crm.leads.update(world.lead, phone="1")
        with pytest.raises(Boom), world.crm.transaction():
            world.crm.leads.update(world.lead, phone="2")
            raise Boom
        world.crm.leads.tag(world.lead, "kept")
    lead = world.crm.leads.get(world.lead)
    assert (lead.phone, lead.tags) == ("1", ["kept"])
    assert recorder.committed_codes()[-2:] == ["lead.updated", "lead.tagged"]


def test_a_failed_call_inside_a_block_leaves_the_rest_to_commit(world: World, recorder: Recorder) -> None:
    with world.crm.transaction():
        world.crm.leads.archive(world.lead)
        with pytest.raises(InvalidTransition):
            world.crm.leads.archive(world.lead)
        world.crm.clients.tag(world.client, "kept")
    assert recorder.committed_codes()[-2:] == ["lead.archived", "client.tagged"]


def test_a_receiver_that_fails_undoes_the_change(world: World, recorder: Recorder) -> None:
    def broken(sender, **kw):
        raise RuntimeError("outbox unavailable")

    bus.signal("lead.updated").connect(broken, sender=world.crm)
    try:
        with pytest.raises(RuntimeError, match="outbox unavailable"):
            world.crm.leads.update(world.lead, name="Changed")
    finally:
        bus.signal("lead.updated").disconnect(broken, sender=world.crm)
    # Lost event or lost change: neither. The change did not happen.
    assert world.crm.leads.get(world.lead).name == "ACME"
    assert "lead.updated" not in recorder.committed_codes()


def test_signals_carry_the_open_session_of_the_change(world: World, recorder: Recorder) -> None:
    world.crm.leads.update(world.lead, name="Session")
    (event,) = recorder.received
    assert event.session.in_transaction() is False  # it has committed since
    assert event.obj.name == "Session"


def test_snapshots_are_detached_and_read_only(world: World) -> None:
    lead = world.crm.leads.update(world.lead, phone="+1", industry="steel")
    world.crm.close()  # nothing left to lazy-load from
    assert isinstance(lead, Snapshot)
    assert (lead.id, lead.phone, lead.extra, lead.kind) == (world.lead, "+1", {"industry": "steel"}, "Lead")
    assert lead.to_dict()["extra"] == {"industry": "steel"}
    with pytest.raises(AttributeError, match="read-only"):
        lead.name = "x"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = lead.nope
    copy = lead.to_dict()
    copy["extra"]["industry"] = "changed"
    assert lead.to_dict()["extra"] == {"industry": "steel"}


def test_a_snapshot_is_the_state_at_return_not_later(world: World) -> None:
    first = world.crm.leads.get(world.lead)
    world.crm.leads.update(world.lead, name="Renamed")
    assert first.name == "ACME"
    assert world.crm.leads.get(world.lead).name == "Renamed"


def test_list_filters_by_columns_and_refuses_unknown_ones(world: World) -> None:
    world.crm.leads.create("Other", owner_id=world.bob)
    assert [x.name for x in world.crm.leads.list(owner_id=world.bob)] == ["Other"]
    with pytest.raises(CRMError, match="colour: not a lead field"):
        world.crm.leads.list(colour="red")


def test_custom_stages_replace_the_defaults(database_url: str) -> None:
    with CRM(database_url, stages={"lead": ["cold", "warm", "hot"]}) as crm:
        lead = crm.leads.create("X")
        assert lead.stage == "cold"
        assert crm.leads.change_stage(lead.id, "hot").stage == "hot"
        with pytest.raises(CRMError, match="'new' is not a lead stage"):
            crm.leads.change_stage(lead.id, "new")


@pytest.mark.parametrize(
    "stages",
    [
        {"opportunity": ["open", "closed"]},  # no won/lost: sales could not close anything
        {"invoice": ["draft"]},
        {"lead": []},
    ],
)
def test_bad_stage_configuration_is_refused(stages, tmp_path) -> None:
    with pytest.raises(CRMError, match=r"^stages: "):
        CRM(f"sqlite:///{tmp_path}/x.db", stages=stages)


def test_default_url_comes_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    with CRM() as crm:
        crm.users.create("Env", "env@example.com")
    assert (tmp_path / "env.db").exists()
    monkeypatch.delenv("CRM_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    with CRM() as crm:
        assert crm.database_url == "sqlite:///crm.db"
    assert (tmp_path / "crm.db").exists()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    with CRM(f"sqlite:///{tmp_path}/wal.db") as crm, crm.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_writers_in_several_threads_and_crms_share_one_file_without_lock_errors(database_url: str) -> None:
    # Two CRM objects stand for two processes (a web server and a CLI) on one database.
    crms = [CRM(database_url), CRM(database_url)]
    owner = crms[0].users.create("Owner", "owner@example.com").id
    errors: list[BaseException] = []

    def write(crm: CRM, n: int) -> None:
        try:
            for i in range(25):
                lead = crm.leads.create(f"L{n}-{i}", owner_id=owner)
                crm.leads.tag(lead.id, "bulk")
                # A read followed by a write in one transaction: the classic lock upgrade.
                with crm.transaction():
                    crm.leads.get(lead.id)
                    crm.leads.change_stage(lead.id, "contacted")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(crms[n % 2], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        leads = crms[1].leads.list(stage="contacted")
        assert len(leads) == 100 and all(x.tags == ["bulk"] for x in leads)
    finally:
        for crm in crms:
            crm.close()
