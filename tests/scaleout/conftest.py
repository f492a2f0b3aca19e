"""Worker processes sharing one PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from crm_stub import CRM


@pytest.fixture
def pg(postgres_database_url: str) -> Iterator[CRM]:
    """The CRM process: writes events, delivers nothing itself (workers do)."""
    with CRM(postgres_database_url) as crm:
        # A generous timeout: a receiver in this busy test process must not time out (that would
        # be a legitimate resend); the lease, 2 x timeout + 5 s, is then 15 s.  Retries come
        # quickly, and enough of them that a receiver failing now and then loses nothing.
        crm.install_addon(
            "crm_webhooks", allow_private_networks=True, dispatcher="none", timeout=5, retry_delays=[0.2] * 8
        )
        yield crm


class Workers:
    """Starts worker processes on ``pg``'s database; each is ready (listening, claiming) when returned."""

    def __init__(self, database_url: str) -> None:
        # Named, so that a test killing "the workers' connections" kills theirs only, not those of
        # tests running beside it on the same server.
        self.application_name = f"crm-test-worker-{uuid.uuid4().hex[:12]}"
        self.env = {**os.environ, "CRM_DATABASE_URL": database_url, "PGAPPNAME": self.application_name}
        self.started: list[subprocess.Popen[str]] = []

    def __call__(self, *args: str) -> subprocess.Popen[str]:
        (proc,) = self.several(1, *args)
        return proc

    def several(self, count: int, *args: str) -> list[subprocess.Popen[str]]:
        """``count`` workers started side by side: their start-ups (imports, connections) overlap."""
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "crm_webhooks.cli", "worker", *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
            )
            for _ in range(count)
        ]
        self.started += procs
        for proc in procs:
            said = []
            while not said or "in flight at most" not in said[-1]:  # log lines may come first
                line = proc.stderr.readline()  # type: ignore[union-attr]
                assert line, "".join(said)
                said.append(line)
            # Keep reading what it logs (a line per attempt): a full pipe would stall the worker.
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        return procs

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)


@pytest.fixture
def workers(pg: CRM) -> Iterator[Workers]:
    started = Workers(pg.database_url)
    yield started
    started.stop()
