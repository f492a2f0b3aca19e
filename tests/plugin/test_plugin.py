"""The QA plugin as QA meets it: a scenario in a fresh project that uses only the fixtures."""

from __future__ import annotations

import importlib.metadata as metadata

import pytest
from packaging.utils import canonicalize_name

from .test_qa_extra import SELF, extra, with_their_dependencies

pytest_plugins = ["pytester"]


def qa_plugins() -> list[str]:
    """``-p`` for each pytest plugin a QA machine loads by itself: the project's, and those of what
    the qa extra installs (pytest-httpserver's).  Loaded by entry point name, so the project's is
    found as a bare install finds it."""
    installed = with_their_dependencies(extra("qa")) | {SELF}
    names = {
        entry.name
        for dist in metadata.distributions()  # a source checkout's egg-info lists the project again
        if canonicalize_name(dist.metadata["Name"]) in installed
        for entry in dist.entry_points.select(group="pytest11")
    }
    return [arg for name in sorted(names) for arg in ("-p", name)]


def run_as_qa(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    """pytest in a subprocess with the plugins of a QA machine only: none of the test extra's
    (hypothesis, schemathesis...), whose imports were most of each run's time."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_subprocess(*qa_plugins(), "-p", "no:cacheprovider", *args)


SCENARIO = """
import pytest

def test_a_lead_becomes_a_sale(crm, webhooks, webhook_receiver):
    sale_hook = webhooks.create_hook(name="venda", event="sale.created", url=webhook_receiver.url,
                                     key="X-Api-Key", value="s3cret")
    alice = crm.users.create(name="Alice", email="alice@example.com")
    lead = crm.leads.create("ACME", email="buyer@acme.test", owner_id=alice.id)
    client = crm.leads.convert(lead.id)
    opp = crm.opportunities.create(client.id, "Annual plan", 1500)
    crm.sales.create(opp.id)

    sale = webhook_receiver.wait_for(type="sale.created")
    assert sale["data"]["object"]["amount"] == "1500.00"
    (request,) = webhook_receiver.requests
    assert request.headers["X-Api-Key"] == "s3cret"
    assert webhook_receiver.verify(request, sale_hook)["id"] == sale["id"]

def test_a_get_hook_is_verified_over_its_query_string(crm, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="g", event="lead.created", method="GET", url=webhook_receiver.url)
    lead = crm.leads.create("Query")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert webhook_receiver.verify(request, hook)["object_id"] == str(lead.id)

def test_the_receiver_can_fail_and_the_hook_retries(crm, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="l", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.fail_next(1)
    crm.leads.create("Flaky")
    webhooks.run_pending()
    assert webhooks.last_delivery(hook.id).status == "pending"

@pytest.mark.webhooks_options(retry_delays=[0])
def test_options_come_from_a_marker(crm, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="l", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.fail_next(1)
    crm.leads.create("Retried at once")
    assert webhook_receiver.wait_for("lead.created", count=2)["data"]["object"]["name"] == "Retried at once"
    assert webhooks.last_delivery(hook.id).status == "succeeded"

def test_the_database(crm, crm_database_url):
    print("DATABASE", crm.engine.dialect.name)

def test_wait_for_says_what_did_arrive(crm, webhooks, webhook_receiver):
    webhooks.create_hook(name="l", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("Only a lead")
    with pytest.raises(AssertionError, match="no sale.created #1 within 0.3 s; received: .'lead.created'.") :
        webhook_receiver.wait_for("sale.created", timeout=0.3)
"""


WRONG_HOOK = """
def test_checked_against_the_wrong_hook(crm, webhooks, webhook_receiver):
    leads = webhooks.create_hook(name="leads", event="lead.created", url=webhook_receiver.url)
    sales = webhooks.create_hook(name="sales", event="sale.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhook_receiver.wait_for("lead.created")
    webhook_receiver.verify(webhook_receiver.requests[0], sales)
"""


def test_a_scenario_with_only_the_plugin_fixtures_on_a_machine_without_keys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The contract's scenario where nobody configured encryption keys: it runs, and writes no key
    into the home directory."""
    from crm_webhooks.encryption import KEY_FILE_ENV, KEYS_ENV

    home = tmp_path / "home"
    home.mkdir()
    for name in (KEYS_ENV, KEY_FILE_ENV, "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    pytester.makepyfile(test_scenario=SCENARIO, test_wrong_hook=WRONG_HOOK)
    result = run_as_qa(pytester, monkeypatch, "-s")
    result.assert_outcomes(passed=SCENARIO.count("\ndef test_"), failed=1)
    result.stdout.fnmatch_lines(["*DATABASE sqlite*"])
    # The wrong hook fails the test as a check does: at the test's line, naming the hook and the request.
    result.stdout.fnmatch_lines(
        [
            ">*webhook_receiver.verify(webhook_receiver.requests?0?, sales)",
            "E*SignatureMismatch: request webhook-id evt_* (POST /hooks) is not signed by hook 2 ('sales', sale.created): "
            "webhook-signature: *",
        ]
    )
    assert "standardwebhooks" not in result.stdout.str() and "signing.py" not in result.stdout.str()
    assert list(home.iterdir()) == []


ISOLATION = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_each_test_starts_empty(crm, webhooks, n):
    assert webhooks.list_hooks() == [] and crm.leads.list() == []
    webhooks.create_hook(name="x", event="lead.created", url="http://127.0.0.1:9/x")
    crm.leads.create("left behind")
"""


@pytest.mark.postgres
def test_the_same_scenarios_run_on_postgresql(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_database_url: str
) -> None:
    pytester.makepyfile(test_scenario=SCENARIO, test_isolation=ISOLATION)
    server = postgres_database_url.split("?")[0]  # the database itself, as a QA engineer would give it
    result = run_as_qa(pytester, monkeypatch, "-s", f"--crm-database-url={server}")
    # Each test gets a schema of its own in that database.
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["*DATABASE postgresql*"])


def test_the_database_can_come_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    pytester.makepyfile(
        test_env="""
def test_env(crm, crm_database_url):
    assert crm_database_url.endswith("from-env.db")
"""
    )
    monkeypatch.setenv("CRM_TEST_DATABASE_URL", f"sqlite:///{tmp_path}/from-env.db")
    result = run_as_qa(pytester, monkeypatch)
    result.assert_outcomes(passed=1)
