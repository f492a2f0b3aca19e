"""The crm-webhooks command line: every command, its output, its errors."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crm_stub import CRM


def test_events_lists_the_catalog(cli) -> None:
    rows = cli.json("events")
    assert len(rows) == 33 and rows[0]["code"] == "client.stage_changed"
    assert rows[30] == {
        "number": 31,
        "code": "webhook.failing",
        "label_pt": "Webhook falhando",
        "label_en": "Webhook failing",
    }
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


def test_a_hook_of_several_events_from_the_command_line(cli) -> None:
    added = cli.json(
        "hooks", "add", "--name", "many", "--event", "lead.*", "--event", "sale.created", "--url", "http://127.0.0.1/x"
    )
    assert added["events"] == ["lead.*", "sale.created"]
    hid = str(added["id"])
    assert [h["id"] for h in cli.json("hooks", "list", "--event", "lead.tagged")] == [added["id"]]
    assert cli.json("hooks", "list", "--event", "client.tagged") == []
    shown = cli("hooks", "show", hid).stdout
    assert "lead.*, sale.created (Nova venda)" in shown
    assert "lead.*, sale.created" in cli("hooks", "list").stdout
    # Updating other fields keeps the events; --event replaces them all.
    assert cli.json("hooks", "update", hid, "--name", "renamed")["events"] == ["lead.*", "sale.created"]
    assert cli.json("hooks", "update", hid, "--event", "*.stage_changed")["events"] == ["*.stage_changed"]
    wrong = cli("hooks", "update", hid, "--event", "lead.*", "--event", "house.*")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: events: 'house.*': no such entity")


@pytest.mark.parametrize("events", [["webhook.failing"], ["webhook.*"]])
def test_a_hook_on_the_hooks_own_events_from_the_command_line(cli, events) -> None:
    args = [arg for event in events for arg in ("--event", event)]
    added = cli.json("hooks", "add", "--name", "ops", *args, "--url", "http://127.0.0.1/ops")
    assert added["events"] == events
    assert [h["id"] for h in cli.json("hooks", "list", "--event", "webhook.failing")] == [added["id"]]
    shown = cli("hooks", "show", str(added["id"])).stdout
    assert ("webhook.failing (Webhook falhando)" if events == ["webhook.failing"] else "webhook.*") in shown


def test_a_rate_limit_from_the_command_line(cli, add_hook) -> None:
    hid = str(add_hook(**{"max-per-second": "20"})["id"])
    assert re.search(r"max per second +20", cli("hooks", "show", hid).stdout)
    wrong = cli("hooks", "update", hid, "--max-per-second", "fast")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: max_per_second: expected a number above 0")
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert cli.json("hooks", "update", hid, "--max-per-second", "")["max_per_second"] is None
    assert "max per second" not in cli("hooks", "show", hid).stdout


def test_a_condition_and_a_template_from_the_command_line(cli, tmp_path) -> None:
    template = tmp_path / "sale.j2"
    template.write_text('{"cliente": {{ object.name | tojson }}}\n', encoding="utf-8")
    added = cli.json(
        "hooks",
        "add",
        "--name",
        "pos",
        "--event",
        "lead.created",
        "--url",
        "http://127.0.0.1/x",
        "--condition",
        'object.name != "test"',
        "--body-template",
        f"@{template}",
    )
    assert (added["condition"], added["body_template"]) == (
        'object.name != "test"',
        '{"cliente": {{ object.name | tojson }}}',
    )
    assert added["content_type"] == "application/json"
    hid = str(added["id"])
    shown = cli("hooks", "show", hid).stdout
    assert re.search(r'condition +object\.name != "test"', shown) and re.search(r"skipped by condition +0", shown)
    assert cli.json("hooks", "update", hid, "--condition", "")["condition"] is None
    assert "condition" not in cli("hooks", "show", hid).stdout
    wrong = cli("hooks", "update", hid, "--condition", "object.name ==")
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: condition: line 1:")
    missing = cli("hooks", "update", hid, "--body-template", f"@{tmp_path / 'nope.j2'}")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr and "No such file" in missing.stderr
    assert cli.json("hooks", "show", hid)["body_template"] == '{"cliente": {{ object.name | tojson }}}'


def test_test_send_exit_code_follows_the_result(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook("sale.created")
    ok = cli("hooks", "test", str(hook["id"]))
    assert ok.exit_code == 0 and "succeeded, HTTP 200" in ok.stdout
    assert webhook_receiver.envelopes[-1]["type"] == "sale.created"
    webhook_receiver.fail_next()
    failed = cli("hooks", "test", str(hook["id"]))
    assert failed.exit_code == 1 and "failed, HTTP 500 in " in failed.stdout  # said once, not "HTTP 500 (HTTP 500)"


def test_add_names_each_required_option_it_misses(cli) -> None:
    usage = cli("hooks", "add", "--help").stdout
    # --name, --event and --url, and no other option (help wraps lines: count within their span).
    assert usage[usage.index("--name") : usage.index("--method")].count("[required]") == 3 == usage.count("[required]")
    assert "[required]" not in cli("hooks", "update", "--help").stdout  # an update changes what it is given


def test_a_delivery_shows_its_headers_as_text_and_an_unsent_one_says_so(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("Sent")
        crm.addons["crm_webhooks"].run_pending()
        crm.leads.create("Not yet")
    unsent, sent = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    text = cli("deliveries", "show", str(sent["id"])).stdout
    assert "  webhook-signature: v1," in text and "…(47)" in text and "\\u2026" not in text
    assert "  X-Api-Key: a-lo…(19)" in text
    waiting = cli("deliveries", "show", str(unsent["id"])).stdout
    assert f"delivery {unsent['id']} (lead.created): pending, no attempt yet" in waiting
    assert "Attempts of delivery" not in waiting and "request headers" not in waiting
    assert "Not yet" in waiting  # the envelope that will be sent


def test_a_templated_delivery_shows_the_body_that_went(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    cli(
        "hooks", "update", str(hook["id"]), "--body-template", "Novo: {{ object.name }}", "--content-type", "text/plain"
    )
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("João")
        crm.addons["crm_webhooks"].run_pending()
    (sent,) = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    assert cli.json("deliveries", "show", str(sent["id"]))["attempts"][0]["request_body"] == "Novo: João"
    assert "body sent by attempt 1: Novo: João" in cli("deliveries", "show", str(sent["id"])).stdout


def test_times_carry_their_zone_in_lists_as_in_details(cli, add_hook) -> None:
    hook = add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("A")
        crm.addons["crm_webhooks"].run_pending()
    last_run = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cli("hooks", "list").stdout)
    assert last_run, cli("hooks", "list").stdout
    assert last_run[0] in cli("hooks", "show", str(hook["id"])).stdout
    assert " UTC" in cli("deliveries", "list").stdout


def test_deliveries_list_show_and_filters(cli, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create("One")
        crm.leads.create("Two")
        # A 429: its retry keeps its time when Two is answered (after a 500 it would go again at once).
        webhook_receiver.fail_next(status=429)
        crm.addons["crm_webhooks"].run_pending()
    rows = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    assert [r["status"] for r in rows] == ["succeeded", "pending"]
    assert [r["status"] for r in cli.json("deliveries", "list", "--status", "pending")] == ["pending"]
    assert cli.json("deliveries", "list", "--since", "1h", "--limit", "1")[0]["id"] == rows[0]["id"]
    assert cli.json("deliveries", "list", "--since", "2099-01-01") == []
    shown = cli.json("deliveries", "show", str(rows[1]["id"]))
    assert shown["payload"]["data"]["object"]["name"] == "One"
    assert shown["attempts"][0]["status_code"] == 429
    assert shown["attempts"][0]["request_headers"]["X-Api-Key"] == "a-lo…(19)"
    assert ["Content-Type", "text/plain; charset=utf-8"] in shown["attempts"][0]["response_headers"]
    text = cli("deliveries", "show", str(rows[1]["id"])).stdout
    assert "HTTP 429" in text and "a-long-secret-value" not in text
    assert "response headers of attempt 1:\n  Server: Werkzeug/" in text


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


def test_prune_says_what_would_go_and_asks_before_deleting(cli_on_each_database, webhook_receiver) -> None:
    cli = cli_on_each_database
    cli("hooks", "add", "--name", "leads", "--event", "lead.created", "--url", webhook_receiver.url)
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        for name in ("A", "B", "C"):
            crm.leads.create(name)
        crm.addons["crm_webhooks"].run_pending()
    prune = ("deliveries", "prune", "--older-than", "0s")
    dry = cli(*prune, "--dry-run")
    assert (
        dry.exit_code == 0
        and dry.stdout == "would prune 2 deliveries (finished, older than 0s; each hook keeps its latest)\n"
    )
    refused = cli(*prune, input="n\n")
    assert refused.exit_code == 1 and "Delete 2 finished deliveries older than 0s?" in refused.stdout
    assert refused.stderr == "error: aborted\n"
    unanswered = cli.process(*prune, timeout=30)  # no standard input: refused at once, not waited for
    assert unanswered.returncode == 1
    assert (
        unanswered.stderr == "error: no answer on standard input: nothing pruned (give --yes to prune without asking)\n"
    )
    assert len(cli.json("deliveries", "list")) == 3  # none of them deleted anything
    assert cli(*prune, input="y\n").stdout.endswith("pruned 2 deliveries\n")
    assert (
        cli(*prune, "--yes").stdout
        == "nothing to prune: no finished delivery older than 0s (each hook keeps its latest)\n"
    )
    assert len(cli.json("deliveries", "list")) == 1


def test_delete_with_no_one_to_answer_is_refused_at_once(cli, add_hook) -> None:
    hook = add_hook()
    unanswered = cli.process("hooks", "delete", str(hook["id"]), timeout=30)
    assert unanswered.returncode == 1
    assert (
        unanswered.stderr
        == "error: no answer on standard input: nothing deleted (give --yes to delete without asking)\n"
    )
    assert cli.json("hooks", "list") != []


def test_configure_stores_options_for_every_process(cli) -> None:
    assert cli.json("configure", "--timeout", "3", "--disable-after-failures", "2")["timeout"] == 3
    with CRM(cli.url) as crm:
        options = crm.addons["crm_webhooks"].options
        assert (options.timeout, options.disable_after_failures, options.allow_private_networks) == (3.0, 2, True)
    assert "timeout" in cli("configure").stdout


SETTINGS = [
    # (what an admin types, the install option it sets, its value)
    (["--no-allow-private-networks"], "allow_private_networks", False),
    (["--retry-delays", "1,2.5"], "retry_delays", (1.0, 2.5)),
    (["--retry-jitter", "0.2"], "retry_jitter", 0.2),
    (["--timeout", "3"], "timeout", 3.0),
    (["--disable-after-failures", "2"], "disable_after_failures", 2),
    (["--never-disable"], "disable_after_failures", None),
    (["--warn-at-share", "0.8"], "warn_at_share", 0.8),
    (["--dispatcher", "none"], "dispatcher", "none"),
    (["--dispatcher-concurrency", "16"], "dispatcher_concurrency", 16),
    (["--secret-grace-hours", "48"], "secret_grace_hours", 48.0),
    (["--probe-disabled-every", "15"], "probe_disabled_every", 15.0),
]


@pytest.mark.parametrize(("args", "option", "value"), SETTINGS, ids=[" ".join(a) for a, _, _ in SETTINGS])
def test_configure_sets_each_install_option(cli, args: list[str], option: str, value: object) -> None:
    assert cli("configure", *args).exit_code == 0
    with CRM(cli.url) as crm:
        assert getattr(crm.addons["crm_webhooks"].options, option) == value


def test_configure_has_a_flag_for_every_option_and_shows_them_all(cli) -> None:
    from crm_webhooks.domain.options import Options

    names = [field.name for field in dataclasses.fields(Options)]
    assert sorted({option for _, option, _ in SETTINGS}) == sorted(names)  # a new option needs its flag too
    usage = cli("configure", "--help").stdout
    table = cli("configure", "--never-disable").stdout
    for name in names:
        assert f"--{name.replace('_', '-')}" in usage and name in table
    assert re.search(r"disable_after_failures +│ never", table), table
    assert re.search(r"secret_grace_hours +│ 24.0 \(default\)", table), table


def test_probing_disabled_hooks_is_off_until_configured_and_can_be_turned_off(cli) -> None:
    assert re.search(r"probe_disabled_every +│ never \(default\)", cli("configure").stdout)
    assert cli.json("configure", "--probe-disabled-every", "15")["probe_disabled_every"] == 15
    assert cli.json("configure", "--never-probe")["probe_disabled_every"] is None
    with CRM(cli.url) as crm:
        assert crm.addons["crm_webhooks"].options.probe_disabled_every is None


BAD = [
    (["hooks", "add"], 2, "error: Missing option '--name'."),
    (["hooks", "add", "--name", "x", "--url", "http://127.0.0.1/x"], 2, "error: Missing option '--event'."),
    (["hooks", "add", "--name", "x", "--event", "lead.created"], 2, "error: Missing option '--url'."),
    (["hooks", "show", "99"], 1, "error: hook 99 not found"),
    (["hooks", "show", "abc"], 2, "error: Invalid value for 'HOOK_ID': 'abc' is not a valid integer."),
    (
        ["hooks", "add", "--name", "x", "--event", "nope", "--url", "http://127.0.0.1/x"],
        1,
        "error: events: 'nope' is not an event of the catalog",
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
    (
        ["configure", "--never-disable", "--disable-after-failures", "3"],
        2,
        "error: give --disable-after-failures N or --never-disable",
    ),
    (["configure", "--disable-after-failures", "0"], 2, "error: Invalid value for '--disable-after-failures'"),
    (["configure", "--dispatcher-concurrency", "0"], 1, "error: dispatcher_concurrency: a whole number from 1 to 256"),
    (["configure", "--secret-grace-hours", "-1"], 1, "error: secret_grace_hours: expected a number"),
    (["configure", "--retry-jitter", "2"], 1, "error: retry_jitter: expected a number from 0 to 1"),
    (["configure", "--probe-disabled-every", "0"], 1, "error: probe_disabled_every: expected a number from 0.01"),
    (
        ["configure", "--never-probe", "--probe-disabled-every", "5"],
        2,
        "error: give --probe-disabled-every N or --never-probe",
    ),
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
        webhook_receiver.fail_next(status=429)  # its retry keeps its time when the others are answered
        wh.run_pending()
        crm.leads.create("D")
        wh.disable_hook(hook["id"])
    stats = cli.json("deliveries", "stats")
    # Two were sent; one failed once and waits 60 s; D waits for its hook to be enabled.
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


def test_prune_further_back_than_any_date_is_one_clear_error(cli_on_each_database) -> None:
    for flags in (("--dry-run",), ("--yes",)):
        refused = cli_on_each_database("deliveries", "prune", "--older-than", "99999999w", *flags)
        assert refused.exit_code != 0 and refused.stderr == "error: older_than: further back than any date\n"


@pytest.mark.parametrize(
    ("flags", "said", "queued"),
    [
        (["--dry-run"], ["1 held delivery would go", "3 failed deliveries since", "--replay-failed would send"], 0),
        ([], ["enabled", "1 held delivery released", "3 failed deliveries since", "left as they are"], 0),
        (["--replay-failed"], ["enabled", "1 held delivery released", "3 queued again, after the held ones"], 3),
    ],
)
def test_enable_says_what_was_held_and_what_failed(cli, add_hook, webhook_receiver, flags, said, queued) -> None:
    hook = add_hook()
    cli("configure", "--retry-delays", "")  # no retries: a failed attempt is a failed delivery
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        webhook_receiver.fail_next(3)
        for name in ("A", "B", "C"):
            crm.leads.create(name)
        crm.addons["crm_webhooks"].run_pending()
        crm.leads.create("D")  # not sent yet: held once the hook is disabled
    cli("hooks", "disable", str(hook["id"]))
    result = cli("hooks", "enable", str(hook["id"]), *flags)
    assert result.exit_code == 0 and all(words in result.stdout for words in said), result.stdout
    shown = cli.json("hooks", "enable", str(hook["id"]), "--dry-run")
    assert shown["enabled"] is ("--dry-run" not in flags) and shown["failed"] == 3 - queued
    assert len(cli.json("deliveries", "list", "--status", "pending")) == 1 + queued
