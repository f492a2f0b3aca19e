"""A hook's last 24 hours, counted by the database: the figures behind the charts, on SQLite and PostgreSQL.

Deliveries are made for real (a receiver answering 500, then 200) and then moved in
time by SQL, to land at the window's edges.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_stub import NotFound
from crm_stub.models import utcnow
from crm_webhooks.domain.charts import window
from crm_webhooks.models import DeliveryRow

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)

NOW = utcnow().replace(minute=30, second=0, microsecond=0)
START, END = window(NOW)


def deliver(crm, webhooks, leads: int) -> list[int]:
    """``leads`` new leads, delivered now; the new deliveries' ids, oldest first."""
    before = {d.id for d in webhooks.list_deliveries(limit=1000)}
    for n in range(leads):
        crm.leads.create(f"Lead {n}")
    webhooks.run_pending()
    return sorted(d.id for d in webhooks.list_deliveries(limit=1000) if d.id not in before)


def move(crm, ids: list[int], when: dt.datetime) -> None:
    table = DeliveryRow.__table__
    with crm.engine.begin() as conn:  # typed, so SQLite stores it as the models do
        conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(created_at=when))


def hours(stats) -> dict[int, tuple[int, int]]:
    """Hour index in the window -> (succeeded, failed), for the hours that had any."""
    return {i: (s.succeeded, s.failed) for i, s in enumerate(stats) if s.total}


@pytest.fixture
def hooks(webhooks, webhook_receiver):
    """Two hooks on the same event: "erp" behind a receiver that fails, "bi" behind one that works."""
    erp = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url_for("/erp"))
    bi = webhooks.create_hook(name="bi", event="lead.created", url=webhook_receiver.url_for("/bi"))
    return erp, bi


def test_a_hooks_day_counts_the_failures_its_receiver_caused_hour_by_hour(
    crm, webhooks, webhook_receiver, hooks
) -> None:
    erp, bi = hooks
    webhook_receiver.fail_next(times=4, path="/erp")
    ids = deliver(crm, webhooks, 5)  # erp: 4 failed then 1 succeeded; bi: 5 succeeded
    erp_ids = [d.id for d in webhooks.history(erp.id)][::-1]
    assert [webhooks.get_delivery(i).status for i in erp_ids] == ["failed"] * 4 + ["succeeded"]
    move(crm, [erp_ids[0]], START - dt.timedelta(microseconds=1))  # just before the window: left out
    move(crm, [erp_ids[1]], START)  # its first instant
    move(crm, [erp_ids[2], erp_ids[3]], START + dt.timedelta(hours=18, minutes=59))
    move(crm, [erp_ids[4]], END - dt.timedelta(microseconds=1))  # its last instant
    move(crm, [i for i in ids if i not in erp_ids], NOW)

    day = webhooks.last_day(erp.id, now=NOW)
    assert len(day) == 24 and day[0].hour == START and day[-1].hour == END - dt.timedelta(hours=1)
    assert hours(day) == {0: (0, 1), 18: (0, 2), 23: (1, 0)}
    assert hours(webhooks.last_day(bi.id, now=NOW)) == {23: (5, 0)}
    # Each failed delivery had its one attempt: the hours with deliveries have durations.
    assert [i for i, s in enumerate(day) if s.p50_ms is not None] == [0, 18, 23]
    assert all(s.p95_ms >= s.p50_ms > 0 for s in day if s.p50_ms is not None)


def test_the_list_gets_every_hooks_day_from_one_query(crm, webhooks, webhook_receiver, hooks) -> None:
    erp, bi = hooks
    quiet = webhooks.create_hook(name="quiet", event="sale.created", url=webhook_receiver.url)
    webhook_receiver.fail_next(times=2, path="/erp")
    deliver(crm, webhooks, 3)
    selects: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    sa.event.listen(crm.engine, "before_cursor_execute", note)
    try:
        days = webhooks.last_day_by_hook([erp.id, bi.id, quiet.id])
    finally:
        sa.event.remove(crm.engine, "before_cursor_execute", note)
    assert len(selects) == 1
    totals = {hook_id: (sum(s.succeeded for s in d), sum(s.failed for s in d)) for hook_id, d in days.items()}
    assert totals == {erp.id: (1, 2), bi.id: (3, 0), quiet.id: (0, 0)}
    assert webhooks.last_day_by_hook([]) == {}


def test_p50_and_p95_are_the_nearest_ranks_of_the_hours_attempt_durations(crm, webhooks, hooks) -> None:
    erp, _bi = hooks
    deliver(crm, webhooks, 20)
    erp_ids = [d.id for d in webhooks.history(erp.id)]
    move(crm, erp_ids, START + dt.timedelta(hours=2, minutes=10))
    with crm.engine.begin() as conn:  # 1, 2, ... 20 ms, in a shuffled order
        for rank, delivery_id in enumerate(sorted(erp_ids, key=lambda i: (i * 7) % 20), start=1):
            conn.execute(
                sa.text("UPDATE webhook_attempts SET duration_ms = :ms WHERE delivery_id = :id"),
                {"ms": float(rank), "id": delivery_id},
            )
    day = webhooks.last_day(erp.id, now=NOW)
    assert (day[2].p50_ms, day[2].p95_ms) == (10.0, 19.0)
    assert [i for i, s in enumerate(day) if s.p50_ms is not None] == [2]


def test_an_unknown_hook_has_no_day(webhooks) -> None:
    with pytest.raises(NotFound):
        webhooks.last_day(404)


@pytest.mark.parametrize("hook_id", [-1, 2**63, "1", True, None])
def test_an_id_no_hook_can_have_is_not_found_not_a_database_error(webhooks, hook_id) -> None:
    with pytest.raises(NotFound):
        webhooks.last_day(hook_id)
    with pytest.raises(NotFound):
        webhooks.last_day_by_hook([hook_id])
