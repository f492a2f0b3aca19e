"""The fan-out's decisions, without a database: which delivery rows an event gets, and what conditions say."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crm_webhooks.engine.fanout import Decisions, Waiting, parse_ids, plan

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


def waiting(event_id: str, hook_ids: list[int], **object: object) -> Waiting:
    body = json.dumps({"id": event_id, "type": "lead.created", "data": {"object": object}})
    return Waiting(event_id, T, None, body, hook_ids)


CONDITIONS = {
    1: "object.amount > 10",
    2: "object.amount > 10",
    3: "object.amount > 100",
    4: "object.missing.key == 1",  # reading a key of nothing: an error, not a verdict
}


def test_conditions_let_an_event_through_turn_it_away_or_fail_each_hook_on_its_own() -> None:
    decided = Decisions(CONDITIONS)
    decided.decide(waiting("evt_a", [1, 2, 3, 4], amount=50))
    decided.decide(waiting("evt_b", [3], amount=500))
    decided.decide(waiting("evt_c", [1, 3], amount=5))
    assert [(event.id, hook_ids) for event, hook_ids in decided.passed] == [("evt_a", [1, 2]), ("evt_b", [3])]
    assert decided.skipped == {1: 1, 3: 2}
    assert [(event.id, hook_id) for event, hook_id, _ in decided.broken] == [("evt_a", 4)]
    assert "missing" in str(decided.broken[0][2])


def test_a_conditioned_hook_is_planned_only_where_its_condition_held() -> None:
    decided = Decisions({2: "object.amount > 10", 3: "object.amount > 10"})
    decided.decide(waiting("evt_a", [2, 3], amount=50))
    decided.decide(waiting("evt_b", [2], amount=5))
    events = [("evt_a", "1,2,3", T, None), ("evt_b", "1,2", T, None)]
    rows = plan(events, {1: True, 2: True, 3: False}, decided=decided)
    assert [(r["event_id"], r["hook_id"], r["next_attempt_at"]) for r in rows] == [
        ("evt_a", 1, T),
        ("evt_a", 2, T),
        ("evt_a", 3, None),  # let through while disabled: held, as any delivery of a disabled hook
        ("evt_b", 1, T),
    ]
