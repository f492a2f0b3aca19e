"""``crm-webhooks worker --metrics-port``: Prometheus scrapes a worker while it delivers."""

from __future__ import annotations

import signal
import socket
import subprocess

import pytest
import requests

from ..scraping import scrape
from ..waiting import wait_until


@pytest.fixture
def cli(cli_on_each_database):
    """Workers' queries differ between the databases: these run on both (add_hook and crm follow)."""
    assert cli_on_each_database("configure", "--retry-delays", "").exit_code == 0  # a 500 fails for good
    return cli_on_each_database


def metrics_url(worker: subprocess.Popen[str]) -> str:
    """The address the worker says it serves its metrics on (port 0: the one it was given)."""
    for line in worker.stderr:  # type: ignore[union-attr]
        if line.startswith("metrics on "):
            return line.removeprefix("metrics on ").strip()
    raise AssertionError("the worker never said where its metrics are")


def test_a_worker_serves_its_metrics_until_it_stops(cli, start_worker, crm, add_hook, webhook_receiver) -> None:
    hook = str(add_hook()["id"])
    webhook_receiver.delay_next(1.5)  # the first answer is slow: long enough to scrape it in flight
    webhook_receiver.fail_next(1)  # the second is a 500
    crm.leads.create("ACME")
    worker = start_worker(cli.url, "--concurrency", "2", "--metrics-port", "0")
    url = metrics_url(worker)
    assert url.startswith("http://127.0.0.1:")

    wait_until(lambda: len(webhook_receiver.requests) == 1, what="the first attempt to be in flight")
    sending = scrape(url)
    assert sending("crm_webhooks_worker_slots") == 2
    assert sending("crm_webhooks_worker_slots_busy") == 1
    assert (sending("crm_webhooks_queue_pending"), sending("crm_webhooks_queue_in_flight")) == (1, 1)

    wait_until(lambda: scrape(url)("crm_webhooks_deliveries_total", hook=hook, outcome="succeeded") == 1)
    crm.leads.create("Initech")
    wait_until(lambda: scrape(url)("crm_webhooks_deliveries_total", hook=hook, outcome="failed") == 1)
    done = scrape(url)
    assert done("crm_webhooks_worker_slots_busy") == 0
    assert (done("crm_webhooks_queue_pending"), done("crm_webhooks_queue_in_flight")) == (0, 0)
    assert done("crm_webhooks_attempt_duration_seconds_count", hook=hook) == 2
    # The slow answer counts only in the buckets above its delay.
    assert done("crm_webhooks_attempt_duration_seconds_bucket", hook=hook, le="1.0") == 1

    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=15)
    assert worker.returncode == 0, err
    with pytest.raises(requests.ConnectionError):  # stopped with the worker: the port is free again
        requests.get(url, timeout=5)


def test_a_taken_metrics_port_is_one_line_error_before_any_delivery(cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("worker", "--metrics-port", str(taken.getsockname()[1]))
    assert result.exit_code == 2
    assert "--metrics-port" in result.stderr and "cannot serve on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


# (--metrics-host, the option the error names, how the address is written): an operator fixes
# the option named, so a host this machine does not have is not the port's fault.
BAD_HOSTS = [
    ("no.such.host.invalid", "--metrics-host", "no.such.host.invalid:0"),
    ("999.1.1.1", "--metrics-host", "999.1.1.1:0"),
    ("192.0.2.1", "--metrics-host", "192.0.2.1:0"),  # a documentation address, on no interface here
    ("fe80::1", "--metrics-host", "[fe80::1]:0"),
]


@pytest.mark.parametrize(("host", "option", "address"), BAD_HOSTS)
def test_a_metrics_host_that_cannot_be_served_on_is_named_as_the_fault(cli, host, option, address) -> None:
    result = cli("worker", "--metrics-port", "0", "--metrics-host", host, "--wait-for-database", "0")
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert f"Invalid value for {option}: cannot serve on {address}: " in line, line
