"""Running the CLI: in-process through click's runner, and as a real subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

from crm_stub import CRM
from crm_webhooks.cli import main


@dataclass
class Cli:
    url: str

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--database-url", self.url, *args], input=input, catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def process(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CRM_DATABASE_URL": self.url}
        # No standard input, as under cron or CI: a command that would ask must not wait for ever.
        return subprocess.run(
            [sys.executable, "-m", "crm_webhooks.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )


def _ready(url: str) -> Cli:
    runner = Cli(url)
    # Test receivers live on loopback.
    assert runner("configure", "--allow-private-networks", "--retry-delays", "60").exit_code == 0
    return runner


@pytest.fixture
def cli(tmp_path) -> Cli:
    return _ready(f"sqlite:///{tmp_path}/cli.db")


@pytest.fixture
def cli_on_each_database(database_url: str) -> Cli:
    """The CLI on SQLite and on PostgreSQL, for commands whose queries differ between them."""
    return _ready(database_url)


@pytest.fixture
def add_hook(cli: Cli, webhook_receiver) -> Callable[..., dict[str, Any]]:
    def add(event: str = "lead.created", **extra: str) -> dict[str, Any]:
        args = ["hooks", "add", "--name", f"{event} hook", "--event", event, "--url", webhook_receiver.url]
        args += ["--key", "X-Api-Key", "--value", "a-long-secret-value"]
        for name, value in extra.items():
            args += [f"--{name}", value]
        return cli.json(*args)

    return add


@pytest.fixture
def spawn_worker() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``crm-webhooks worker`` processes on a database, returned at once.

    One a test left running (a failed assertion, a timeout) is killed at teardown, its pipes
    closed: it must not outlive its test nor leak into the next one's warnings.
    """
    started: list[subprocess.Popen[str]] = []

    def spawn(url: str, *args: str) -> subprocess.Popen[str]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "crm_webhooks.cli", "worker", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CRM_DATABASE_URL": url},
        )
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()


@pytest.fixture
def start_worker(spawn_worker) -> Callable[..., subprocess.Popen[str]]:
    """Starts worker processes, each returned once it says it is running (its signals are heard)."""

    def start(url: str, *args: str) -> subprocess.Popen[str]:
        worker = spawn_worker(url, "--poll-interval", "0.05", *args)
        first = worker.stderr.readline()  # type: ignore[union-attr]
        assert "in flight at most" in first, first
        return worker

    return start


@pytest.fixture
def crm(cli: Cli) -> Iterator[CRM]:
    """The CRM of another process on the CLI's database, which leaves delivering to workers."""
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "none"}}) as instance:
        yield instance


def free_port() -> int:
    """A loopback port nobody listens on (until someone is told to)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
