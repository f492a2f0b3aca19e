"""The fan-out's decision, without a database: which delivery rows an event gets."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks.engine.fanout import parse_ids, plan

T = dt.datetime(2026, 11, 25, 12, 0, 0)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("7", [7]),
        ("3,7,12", [3, 7, 12]),
        ("3,,7", [3, 7]),  # never written so, but an empty part must not become hook 0
    ],
)
def test_parse_ids(text: str, ids: list[int]) -> None:
    assert parse_ids(text) == ids


def test_each_existing_hook_gets_a_delivery_due_when_the_event_happened() -> None:
    rows = plan([("evt_a", "1,2", T, "lead:1")], {1: True, 2: True})
    assert [(r["event_id"], r["hook_id"], r["next_attempt_at"], r["created_at"]) for r in rows] == [
        ("evt_a", 1, T, T),
        ("evt_a", 2, T, T),
    ]
    assert {r["status"] for r in rows} == {"pending"} and {r["attempt_count"] for r in rows} == {0}


def test_a_deleted_hook_gets_nothing_and_a_disabled_one_is_held() -> None:
    rows = plan([("evt_a", "1,2,3", T, "lead:1"), ("evt_b", "3", T, "lead:2")], {1: True, 3: False})
    assert [(r["event_id"], r["hook_id"], r["next_attempt_at"]) for r in rows] == [
        ("evt_a", 1, T),
        ("evt_a", 3, None),
        ("evt_b", 3, None),
    ]


def test_only_hooks_that_keep_record_order_name_the_record() -> None:
    rows = plan([("evt_a", "1,2", T, "lead:7"), ("evt_t", "1", T, None)], {1: True, 2: True}, ordered={1})
    assert [(r["event_id"], r["hook_id"], r["record"]) for r in rows] == [
        ("evt_a", 1, "lead:7"),
        ("evt_a", 2, None),
        ("evt_t", 1, None),
    ]


def test_no_events_no_rows() -> None:
    assert plan([], {1: True}) == []
