"""The catalog against EVENTS.md, and the sample payloads against real records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_stub import CRM, EVENT_CODES
from crm_webhooks import CATALOG, event_type
from crm_webhooks.domain.catalog import CRM_EVENTS, GROUPED
from crm_webhooks.domain.samples import sample

EVENTS_MD = Path(__file__).resolve().parents[3] / "shared" / "EVENTS.md"


def test_catalog_has_the_crm_events_in_order_then_the_operational_ones() -> None:
    assert [e.code for e in CATALOG] == [*EVENT_CODES, "webhook.failing", "webhook.disabled", "webhook.recovered"]
    assert [e.number for e in CATALOG] == list(range(1, 34))
    assert CATALOG[:30] == CRM_EVENTS


@pytest.mark.skipif(not EVENTS_MD.exists(), reason="shared/EVENTS.md is not beside the repository")
def test_catalog_matches_events_md() -> None:
    text = EVENTS_MD.read_text()
    rows = re.findall(r"^\| (\d+)\s*\| ([a-z_.]+)\s*\| (.+?)\s*\| (.+?)\s*\|$", text, re.M)
    assert [(int(n), c, pt, en) for n, c, pt, en in rows] == [
        (e.number, e.code, e.label_pt, e.label_en) for e in CRM_EVENTS
    ]
    # The operational events' table has no numbers: they follow the CRM's, in its order.
    operational = re.findall(r"^\| (webhook\.[a-z_]+) \| (.+?) \| (.+?) \|", text, re.M)
    assert operational == [(e.code, e.label_pt, e.label_en) for e in CATALOG[30:]]


def test_the_four_mistranslations_are_corrected() -> None:
    labels = " ".join(e.label_pt for e in CATALOG)
    for wrong in ("Conduz", "Folheto", "Brochura"):
        assert wrong not in labels
    assert event_type("lead.created").label("pt-BR") == "Novo prospecto"
    assert event_type("lead.created").label("en") == "New lead"


def test_samples_have_the_shape_of_real_records(tmp_path) -> None:
    from crm_stub.scenario import sales_cycle

    with CRM(f"sqlite:///{tmp_path}/c.db") as crm:
        cycle = sales_cycle(crm)
        real = {
            "lead": crm.leads.get(cycle.lead).to_dict(),
            "client": crm.clients.get(cycle.client).to_dict(),
            "opportunity": crm.opportunities.get(cycle.opportunity).to_dict(),
            "quote": crm.quotes.get(cycle.quote).to_dict(),
            "sale": crm.sales.get(cycle.sale).to_dict(),
            "follow_up": crm.leads.follow_ups(cycle.lead)[0].to_dict(),
        }
    for code in EVENT_CODES:
        obj, _changes = sample(code)
        entity, action = code.split(".")
        shape = real["follow_up"] if action == "follow_up_added" else real[entity]
        expected = {k.replace("lead_id", f"{entity}_id") if action == "follow_up_added" else k for k in shape}
        assert set(obj) == expected, code


def test_a_menu_lists_each_entity_in_the_order_of_a_records_life() -> None:
    """New first, then edits and moves, hand-overs and notes, sharing, and the endings (and a way back) last."""
    groups = dict(GROUPED)
    assert list(groups) == ["lead", "client", "opportunity", "quote", "sale", "webhook"]
    assert [e.code for e in groups["lead"]] == [
        "lead.created",
        "lead.updated",
        "lead.stage_changed",
        "lead.reassigned",
        "lead.follow_up_added",
        "lead.tagged",
        "lead.shared",
        "lead.unshared",
        "lead.archived",
        "lead.discarded",
        "lead.reactivated",
    ]
    assert [e.code for e in groups["opportunity"]][:3] == [
        "opportunity.created",
        "opportunity.updated",
        "opportunity.stage_changed",
    ]
    assert [e.code for e in groups["webhook"]] == ["webhook.failing", "webhook.disabled", "webhook.recovered"]
    assert sorted(e.code for events in groups.values() for e in events) == sorted(e.code for e in CATALOG)


@pytest.mark.parametrize(
    ("stored", "english"),
    [
        ("admin", "disabled by an admin"),
        ("failures:3", "disabled automatically after 3 failed deliveries in a row"),
        ("failures:²", "failures:²"),  # not digits a count is made of: shown as stored, not a crash
        ("", ""),  # never looked up: gettext("") would give the catalog's header
        ("50% paused", "50% paused"),
        ("disabled by an admin", "disabled by an admin"),  # what a 0.3.0 worker still writes during an upgrade
        (
            "disabled automatically after 7 failed deliveries in a row",
            "disabled automatically after 7 failed deliveries in a row",
        ),
    ],
)
def test_a_stored_reason_reads_whatever_is_stored(stored, english) -> None:
    from babel.support import Translations

    from crm_webhooks.domain.hooks import reason_message

    message = reason_message(stored)
    assert str(message) == english
    catalog = Translations.load(Path(__file__).resolve().parents[2] / "crm_webhooks" / "translations", ["pt_BR"])
    if stored in ("failures:²", "", "50% paused"):
        assert message.render(catalog.gettext, catalog.ngettext) == stored
    else:
        assert message.render(catalog.gettext, catalog.ngettext) != english
