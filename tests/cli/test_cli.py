"""The crm-webhooks command line: every command, its output, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_stub import CRM


def test_events_lists_the_catalog(cli) -> None:
    rows = cli.json("events")
    assert len(rows) == 30 and rows[0]["code"] == "client.stage_changed"
    assert rows[23] == {"number": 24, "code": "lead.created", "label_pt": "Novo prospecto", "label_en": "New lead"}
    table = cli("events").stdout
    assert "Mudança de fase do prospecto" in table and "Conduz" not in table


def test_add_shows_the_secret_once_then_masks_it(cli, add_hook) -> None:
    hook = add_hook()
    assert hook["secret"].startswith("whsec_") and hook["value"] == "a-lo…(19)"
    shown = cli.json("hooks", "show", str(hook["id"]))
    assert shown["secret"] != hook["secret"] and "…" in shown["secret"]
    assert "a-long-secret-value" not in cli("hooks", "show", str(hook["id"])).stdout
    revealed = cli.json("hooks", "show", str(hook["id"]), "--reveal")
    assert (revealed["secret"], revealed["value"]) == (hook["secret"], "a-long-secret-value")
    listed = cli("hooks", "list").stdout
    assert "lead.created hook" in listed and "a-long-secret-value" not in listed and hook["secret"] not in listed


def test_update_disable_enable_delete(cli, add_hook) -> None:
    hook = add_hook()
    hid = str(hook["id"])
    assert cli.json("hooks", "update", hid, "--method", "put", "--name", "renamed")["method"] == "PUT"
    assert "disabled" in cli("hooks", "disable", hid).stdout
    assert cli.json("hooks", "list", "--disabled")[0]["name"] == "renamed"
    assert "enabled" in cli("hooks", "enable", hid).stdout
    assert cli.json("hooks", "update", hid, "--no-auth")["key"] is None
    refused = cli("hooks", "delete", hid, input="n\n")
    assert refused.exit_code == 1 and cli.json("hooks", "list")
    assert cli("hooks", "delete", hid, "--yes").exit_code == 0
    assert cli.json("hooks", "list") == []


def test_test_send_exit_code_follows_the_result(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook("sale.created")
    ok = cli("hooks", "test", str(hook["id"]))
    assert ok.exit_code == 0 and "succeeded, HTTP 200" in ok.stdout
    assert webhook_receiver.envelopes[-1]["type"] == "sale.created"
    webhook_receiver.fail_next()
    failed = cli("hooks", "test", str(hook["id"]))
    assert failed.exit_code == 1 and "failed, HTTP 500" in failed.stdout


def test_deliveries_list_show_and_filters(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("One")
        crm.leads.create("Two")
        webhook_receiver.fail_next()
        crm.addons["crm_webhooks"].run_pending()
    rows = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    assert [r["status"] for r in rows] == ["succeeded", "pending"]
    assert [r["status"] for r in cli.json("deliveries", "list", "--status", "pending")] == ["pending"]
    assert cli.json("deliveries", "list", "--since", "1h", "--limit", "1")[0]["id"] == rows[0]["id"]
    assert cli.json("deliveries", "list", "--since", "2099-01-01") == []
    shown = cli.json("deliveries", "show", str(rows[1]["id"]))
    assert shown["payload"]["data"]["object"]["name"] == "One"
    assert shown["attempts"][0]["status_code"] == 500
    assert shown["attempts"][0]["request_headers"]["X-Api-Key"] == "a-lo…(19)"
    text = cli("deliveries", "show", str(rows[1]["id"])).stdout
    assert "HTTP 500" in text and "a-long-secret-value" not in text


def test_ordering_is_set_shown_and_a_waiting_delivery_says_behind_what(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook("lead.updated")
    assert hook["ordering"] == "record"
    assert cli.json("hooks", "update", str(hook["id"]), "--ordering", "none")["ordering"] == "none"
    assert "ordering" in cli("hooks", "show", str(hook["id"])).stdout
    cli("hooks", "update", str(hook["id"]), "--ordering", "record")
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        lead = crm.leads.create("A")
        crm.leads.update(lead.id, name="A1")
        crm.leads.update(lead.id, name="A2")
        webhook_receiver.fail_next()
        crm.addons["crm_webhooks"].run_pending()
    later, earlier = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    assert later["waiting_for"] == earlier["id"]
    text = cli("deliveries", "show", str(later["id"])).stdout
    assert f"waiting behind delivery {earlier['id']}" in text
    bad = cli("hooks", "update", str(hook["id"]), "--ordering", "fifo")
    assert bad.exit_code == 2 and "fifo" in bad.stderr


def test_redeliver_one_and_all_failed_since(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    cli("configure", "--retry-delays", "")  # no retries: a failed attempt is a failed delivery
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        for name in ("A", "B", "C", "D"):
            crm.leads.create(name)
        webhook_receiver.fail_next(4)
        crm.addons["crm_webhooks"].run_pending()
    failed = cli.json("deliveries", "list", "--status", "failed")
    assert len(failed) == 4
    one = cli("deliveries", "redeliver", str(failed[0]["id"]))
    assert one.exit_code == 0 and "succeeded" in one.stdout
    bulk = ["deliveries", "redeliver", "--failed", "--since", "1h", "--hook", str(hook["id"])]
    preview = cli(*bulk, "--dry-run", "--limit", "2")
    assert preview.exit_code == 0 and "2 failed deliveries would be sent again" in preview.stdout
    assert "1 more after those" in preview.stdout
    # D went again on its own above: A, B and C are left, oldest first, once.
    done = cli(*bulk)
    assert done.exit_code == 0 and "redelivered 3 failed deliveries: 3 succeeded" in done.stdout
    names = [e["data"]["object"]["name"] for e in webhook_receiver.envelopes[-3:]]
    assert names == ["A", "B", "C"]  # oldest first, as they happened
    assert "redelivered 0 failed deliveries" in cli(*bulk).stdout
    refused = cli(*bulk, "--since", "2x")
    assert refused.exit_code == 2 and "'2x' is neither a duration" in refused.stderr


def test_prune(cli, add_hook) -> None:
    add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("A")
        crm.leads.create("B")
        crm.addons["crm_webhooks"].run_pending()
    assert "pruned 1 deliveries" in cli("deliveries", "prune", "--older-than", "0s").stdout


def test_configure_stores_options_for_every_process(cli) -> None:
    assert cli.json("configure", "--timeout", "3", "--disable-after-failures", "2")["timeout"] == 3
    with CRM(cli.url) as crm:
        options = crm.addons["crm_webhooks"].options
        assert (options.timeout, options.disable_after_failures, options.allow_private_networks) == (3.0, 2, True)
    assert "timeout" in cli("configure").stdout


BAD = [
    (["hooks", "show", "99"], 1, "error: hook 99 not found"),
    (["hooks", "show", "abc"], 2, "error: Invalid value for 'HOOK_ID': 'abc' is not a valid integer."),
    (
        ["hooks", "add", "--name", "x", "--event", "nope", "--url", "http://127.0.0.1/x"],
        1,
        "error: event: 'nope' is not an event of the catalog",
    ),
    (
        ["hooks", "add", "--name", "x", "--event", "lead.created", "--url", "ftp://x"],
        1,
        "error: url: must start with http:// or https://",
    ),
    (
        [
            "hooks",
            "add",
            "--name",
            "x",
            "--event",
            "lead.created",
            "--url",
            "http://127.0.0.1/x",
            "--key",
            "Host",
            "--value",
            "v",
        ],
        1,
        "error: key: 'Host' is set by the webhook itself",
    ),
    (["hooks", "update", "1"], 2, "error: nothing to change"),
    (["hooks", "test", "7"], 1, "error: hook 7 not found"),
    (["deliveries", "show", "5"], 1, "error: delivery 5 not found"),
    (["deliveries", "redeliver"], 2, "error: give a DELIVERY_ID, or --failed"),
    (["deliveries", "redeliver", "1", "--since", "2h"], 2, "error: --hook, --since, --limit and --dry-run go with"),
    (["deliveries", "list", "--since", "yesterday"], 2, "error: Invalid value for '--since'"),
    (["deliveries", "list", "--status", "lost"], 2, "error: Invalid value for '--status'"),
    (["deliveries", "prune", "--older-than", "soon"], 2, "error: Invalid value for '--older-than'"),
    (["configure", "--timeout", "-1"], 1, "error: timeout: expected a number"),
    (["configure", "--retry-delays", "5,x"], 2, "error: Invalid value for --retry-delays"),
    (["worker", "--concurrency", "0"], 2, "error: Invalid value for '--concurrency'"),
    (["nope"], 2, "error: No such command 'nope'."),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_and_a_non_zero_exit(cli, args: list[str], code: int, message: str) -> None:
    before = cli.json("hooks", "list")
    result = cli(*args)
    assert result.exit_code == code
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert cli.json("hooks", "list") == before  # and nothing changed


def test_as_a_real_process_errors_are_one_line(cli) -> None:
    done = cli.process("hooks", "show", "42")
    assert done.returncode == 1
    assert done.stderr == "error: hook 42 not found\n"


def test_as_a_real_process_an_unreachable_database_is_one_line(cli) -> None:
    done = cli.process("--database-url", "postgresql://nobody@127.0.0.1:1/none", "hooks", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: database: ") and done.stderr.count("\n") == 1


def test_as_a_real_process_secrets_stay_masked(cli, add_hook) -> None:
    hook = add_hook()
    listed = cli.process("hooks", "list", "--json")
    assert listed.returncode == 0
    (row,) = json.loads(listed.stdout)
    assert row["value"] == "a-lo…(19)" and hook["secret"] not in listed.stdout


def test_demo_end_to_end_as_a_subprocess(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRM_DATABASE_URL"}
    # The installed console script, as a newcomer would run it.
    script = str(Path(sys.executable).with_name("crm-webhooks"))
    done = subprocess.run([script, "demo"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "30/30 events: all delivered and verified" in done.stdout
    assert "Nova venda" in done.stdout and "NOT verified" not in done.stdout
    # A temporary database unless one is given: nothing left in the working directory.
    assert list(tmp_path.iterdir()) == []


def test_demo_json_on_a_given_database_leaves_no_demo_hooks(cli) -> None:
    results = cli.json("demo")
    assert len(results) == 30 and all(r["ok"] and r["signature_verified"] and r["key_verified"] for r in results)
    assert cli.json("hooks", "list") == []


def test_deliveries_stats_for_operators(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        for name in ("A", "B", "C"):
            crm.leads.create(name)
        wh = crm.addons["crm_webhooks"]
        assert wh.delivery_stats()["due"] == 3 and wh.delivery_stats()["oldest_due_age_s"] >= 0
        webhook_receiver.fail_next()
        wh.run_pending()
        crm.leads.create("D")
        wh.disable_hook(hook["id"])
    stats = cli.json("deliveries", "stats")
    # A and B were sent; C failed once and waits 60 s; D waits for its hook to be enabled.
    assert stats == {
        "pending": 2,
        "held": 2,
        "due": 0,
        "in_flight": 0,
        "failed": 0,
        "succeeded": 2,
        "oldest_due_age_s": None,
    }
    assert "oldest due" in cli("deliveries", "stats").stdout
