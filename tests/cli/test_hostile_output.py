"""Data is printed as text: never read as rich markup or emoji codes, never a terminal escape.

Names, URLs, answers and payloads come from admins, integrators' receivers and CRM
users; what the CLI prints of them is what they are, with control characters shown
as escapes (``\\x1b``) so that nothing reaches the terminal as a command.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from click.testing import CliRunner

from crm_stub import CRM
from crm_stub.cli import main as crm_stub_main

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

NAMES = [
    # (a hook's name, what the terminal shows of it)
    ("evil[/]", "evil[/]"),
    ("[bold red]loud[/bold red]", "[bold red]loud[/bold red]"),
    ("[link=http://evil.example]click[/link]", "[link=http://evil.example]click[/link]"),
    ("tada :tada:", "tada :tada:"),
    ("red\x1b[31m alert\x1b[0m", "red\\x1b[31m alert\\x1b[0m"),
    ("clear\x1b[2J\x1b[H", "clear\\x1b[2J\\x1b[H"),
    ("title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"),
    ("c1 csi\x9b31m", "c1 csi\\x9b31m"),
    ("bell\x07del\x7f", "bell\\x07del\\x7f"),
    ("two\nlines", "two\\nlines"),
    ("\u202eexe.txt", "\\u202eexe.txt"),  # shows as txt.exe
]


def assert_inert(output: str) -> None:
    """Nothing a terminal would act on: no control character but line breaks, no bidi control."""
    acting = [c for c in output if (unicodedata.category(c) == "Cc" and c != "\n") or c in BIDI]
    assert acting == [], output


@pytest.mark.parametrize(("name", "shown"), NAMES, ids=[repr(n) for n, _ in NAMES])
def test_every_hook_command_prints_a_hostile_name_as_text(cli, webhook_receiver, name: str, shown: str) -> None:
    added = cli("hooks", "add", "--name", name, "--event", "lead.created", "--url", webhook_receiver.url)
    hid = json.loads(cli("hooks", "list", "--json").stdout)[0]["id"]
    outputs = [added]
    for args in (
        ["hooks", "list"],
        ["hooks", "show", str(hid)],
        ["hooks", "disable", str(hid)],
        ["hooks", "list"],  # disabled: its status line
        ["hooks", "enable", str(hid)],
        ["hooks", "show", str(hid)],
        ["hooks", "update", str(hid), "--method", "PUT"],
        ["hooks", "test", str(hid)],
    ):
        outputs.append(cli(*args))
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert_inert(result.output)
    for result in outputs[:-1]:  # the test send's line names the delivery, not the hook
        assert shown in result.output
    deleted = cli("hooks", "delete", str(hid), input="y\n")
    assert deleted.exit_code == 0 and shown in deleted.output
    assert_inert(deleted.output)


@pytest.mark.parametrize(("name", "shown"), NAMES, ids=[repr(n) for n, _ in NAMES])
def test_json_output_keeps_the_data_and_escapes_what_a_terminal_acts_on(cli, webhook_receiver, name, shown) -> None:
    cli("hooks", "add", "--name", name, "--event", "lead.created", "--url", webhook_receiver.url)
    result = cli("hooks", "list", "--json")
    assert_inert(result.stdout)
    assert json.loads(result.stdout)[0]["name"] == name


ANSWERS = ["[/]", "[bold]ok[/bold] :tada:", "\x1b[2J\x1b[Hwiped", "bidi \u202eok", "c1 \x9b1m", "nul \x00 here"]


@pytest.mark.parametrize("answer", ANSWERS, ids=[repr(a) for a in ANSWERS])
def test_a_receivers_answer_and_the_crm_data_are_shown_as_text(cli, add_hook, webhook_receiver, answer) -> None:
    hook = add_hook()
    # A header is Latin-1 on the wire: the receiver could not send U+202E in one (the attempt would time out).
    headers = {"X-Answer": answer} if answer == answer.encode("latin-1", "ignore").decode("latin-1") else {}
    webhook_receiver.respond_with(500, body=answer, headers=headers)
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "manual"}}) as crm:
        crm.leads.create(f"lead {answer}")
        crm.addons["crm_webhooks"].run_pending()
    (delivery,) = cli.json("deliveries", "list", "--hook", str(hook["id"]))
    for args in (
        ["deliveries", "show", str(delivery["id"])],
        ["deliveries", "list"],
        ["deliveries", "redeliver", str(delivery["id"])],
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output  # the redelivery is answered 200
        assert_inert(result.output)
    shown = cli("deliveries", "show", str(delivery["id"])).output
    if answer.isprintable():
        assert answer in shown  # the response's start, as text
        assert f"X-Answer: {answer}" in shown  # and its headers
        assert f"lead {answer}" in shown  # the envelope
    assert_inert(cli("deliveries", "show", str(delivery["id"]), "--json").stdout)


def test_a_hostile_value_in_an_error_is_shown_as_text(cli) -> None:
    result = cli(
        "hooks", "add", "--name", "x\x1b[2J", "--event", "lead.created\x1b[2J[/]", "--url", "http://127.0.0.1/x"
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: events: ")
    assert_inert(result.stderr)
    assert "\\x1b[2J[/]" in result.stderr


def test_crm_stub_token_names_are_shown_as_text(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url) as crm:
        crm.tokens.create("ci\x1b[31m[/] \u202eexe", "webhooks:read")
    for args in (["tokens", "list"], ["tokens", "list", "--json"]):
        result = CliRunner().invoke(crm_stub_main, ["--database-url", url, *args])
        assert result.exit_code == 0, result.output
        assert_inert(result.stdout)
    assert (
        "ci\\x1b[31m[/] \\u202eexe"
        in CliRunner().invoke(crm_stub_main, ["--database-url", url, "tokens", "list"]).stdout
    )
