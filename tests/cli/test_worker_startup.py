"""A worker started before its database (a reboot, a deploy) waits for it, as long as it is told to."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
import uuid

import pytest
import sqlalchemy as sa

from .conftest import free_port


def nobody_listening() -> str:
    return f"postgresql://nobody@127.0.0.1:{free_port()}/none"


# (--wait-for-database, how the last line starts, the tries said before it)
GIVING_UP = [
    ("0", "error: database: connection failed: ", []),  # as before the option existed
    (
        "3",
        "error: database: not reachable after 3 s (",
        ["database not reachable attempt=1 retry_in_s=0.5 ", "database not reachable attempt=2 retry_in_s=1.0 "],
    ),
]


@pytest.mark.parametrize(("wait", "error", "tries"), GIVING_UP, ids=["0 s", "3 s"])
def test_without_its_database_a_worker_tries_for_as_long_as_asked_then_says_why(
    spawn_worker, wait, error, tries
) -> None:
    started = time.monotonic()
    worker = spawn_worker(nobody_listening(), "--wait-for-database", wait)
    _out, err = worker.communicate(timeout=60)  # generous: a busy machine starts Python slowly
    *said, last = err.splitlines()
    assert worker.returncode == 1 and last.startswith(error) and last.endswith("Connection refused"), err
    assert time.monotonic() - started >= float(wait)
    for line, expected in zip(said, tries, strict=False):
        assert expected in line and 'error="connection failed: ' in line
    assert len(said) >= len(tries) and "Traceback" not in err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_ends_the_wait_at_once(spawn_worker, stop) -> None:
    worker = spawn_worker(nobody_listening(), "--wait-for-database", "60", "--log-format", "json")
    first = json.loads(worker.stderr.readline())  # type: ignore[union-attr]
    assert (first["message"], first["attempt"]) == ("database not reachable", 1)
    sent = dt.datetime.now(dt.UTC)
    worker.send_signal(stop)
    _out, err = worker.communicate(timeout=10)
    assert worker.returncode == 0, err
    last = json.loads(err.splitlines()[-1])
    assert last["message"] == f"{stop.name} while waiting for the database: stopped"
    # Its own clock says when it stopped: leaving Python afterwards is slow on a busy machine.
    assert dt.datetime.fromisoformat(last["time"]) - sent < dt.timedelta(seconds=1)


@pytest.mark.postgres
def test_a_worker_started_before_its_database_starts_once_it_appears(spawn_worker, postgres_database_url) -> None:
    server = sa.make_url(postgres_database_url).set(query={})
    name = f"crm_wait_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        worker = spawn_worker(
            server.set(database=name).render_as_string(hide_password=False), "--wait-for-database", "30"
        )
        first = worker.stderr.readline()  # type: ignore[union-attr]
        assert "database not reachable attempt=1" in first and f'database \\"{name}\\" does not exist' in first
        time.sleep(1)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        said = [first]
        while "in flight at most" not in said[-1]:
            line = worker.stderr.readline()  # type: ignore[union-attr]
            assert line, "".join(said)  # it gave up instead
            said.append(line)
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=10)
        assert worker.returncode == 0 and err.endswith("worker stopped after 0 attempts\n"), err
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_sqlite_file_that_cannot_be_opened_is_not_waited_for(spawn_worker, tmp_path) -> None:
    # A file, not a server: a wrong path does not come right by waiting (default: 60 s of tries).
    worker = spawn_worker(f"sqlite:///{tmp_path}/no/such/folder/crm.db")
    _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 1 and "not reachable" not in err
    assert err.splitlines()[-1].startswith("error: database: "), err


@pytest.mark.parametrize("wait", ["nan", "NaN", "-1", "86401", "inf", "soon"])
def test_a_wait_that_is_no_number_of_seconds_is_refused_before_any_try(spawn_worker, wait) -> None:
    # NaN passed click's range (no comparison with it is true) and made a wait that never ended.
    worker = spawn_worker(nobody_listening(), "--wait-for-database", wait)
    _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 2 and "--wait-for-database" in err and "not reachable" not in err, err
    assert len(err.splitlines()) == 1, err
