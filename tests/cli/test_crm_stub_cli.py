"""crm-stub: users, API tokens, and serving the web UI for real."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import make_url

from crm_stub import CRM
from crm_stub.cli import main

from ..waiting import wait_until
from .conftest import free_port


def run(url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["--database-url", url, *args], input=input)


def test_tokens_create_prints_the_token_once_and_stores_a_hash(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    created = run(url, "tokens", "create", "--name", "ci", "--scopes", "webhooks:read,webhooks:write")
    assert created.exit_code == 0
    plain = created.stdout.strip()
    assert plain.startswith("crm_") and len(plain) > 40
    with CRM(url) as crm:
        assert crm.tokens.authenticate(plain).scopes == "webhooks:read webhooks:write"
        with crm.engine.connect() as conn:
            stored = conn.exec_driver_sql("select token_hash from api_tokens").scalar()
        assert plain not in stored
    listed = json.loads(run(url, "tokens", "list", "--json").stdout)
    assert listed[0]["name"] == "ci" and plain not in json.dumps(listed)
    assert "revoked" in run(url, "tokens", "revoke", "1").stdout
    again = run(url, "tokens", "revoke", "1")
    assert again.exit_code == 1 and again.stderr == "error: token 1 is already revoked\n"


def test_bad_scopes_and_unknown_tokens_are_one_line_errors(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    bad = run(url, "tokens", "create", "--name", "x", "--scopes", "everything")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: scopes: 'everything' is not of the form")
    missing = run(url, "tokens", "revoke", "7")
    assert missing.exit_code == 1 and missing.stderr == "error: token 7 not found\n"


def test_users_create_with_a_prompted_password(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    made = run(
        url,
        "users",
        "create",
        "--name",
        "Ana",
        "--email",
        "ana@example.com",
        "--admin",
        input="long enough pw\nlong enough pw\n",
    )
    assert made.exit_code == 0 and made.stdout.endswith("user 1 <ana@example.com> (admin) created\n")
    second = run(
        url, "users", "create", "--name", "Bo", "--email", "bo@example.com", "--password-stdin", input="pw of Bo!\n"
    )
    assert second.stdout == "user 2 <bo@example.com> created\n"  # the same sentence, the same case
    short = run(
        url, "users", "create", "--name", "Cy", "--email", "cy@example.com", "--password-stdin", input="short\n"
    )
    assert short.exit_code == 1 and short.stderr == "error: password: at least 8 characters\n"
    with CRM(url) as crm:
        assert crm.users.authenticate("ana@example.com", "long enough pw").is_admin
        assert crm.users.authenticate("bo@example.com", "pw of Bo!").is_admin is False
        assert [u.email for u in crm.users.list()] == ["ana@example.com", "bo@example.com"]


def test_users_list_shows_who_can_open_the_system_pages(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert run(url, "users", "list").stdout == "no users yet: create one with crm-stub users create --admin\n"
    with CRM(url) as crm:
        crm.users.create("Ana", "ana@example.com", is_admin=True, password="long enough pw")
        crm.users.create("Bo [/]", "bo@example.com")
    header, *rows = run(url, "users", "list").stdout.splitlines()
    assert header.split() == ["id", "name", "email", "admin", "created"]
    assert rows[0].split()[:4] == ["1", "Ana", "ana@example.com", "yes"]
    assert rows[1].split()[:5] == ["2", "Bo", "[/]", "bo@example.com", "no"] and rows[1].endswith(" UTC")
    listed = json.loads(run(url, "users", "list", "--json").stdout)
    assert [(u["email"], u["is_admin"]) for u in listed] == [("ana@example.com", True), ("bo@example.com", False)]
    assert "password" not in json.dumps(listed)


PASSWORDS = [
    # (how the new password is given, standard input, the one line on stderr or None)
    ([], "new password 1\nnew password 1\n", None),  # asked for twice
    ([], "short\nnew password 1\nnew password 1\n", None),  # too short: the rule is said and it is asked again
    (["--password-stdin"], "new password 1\n", None),  # from a secrets manager or a file
    (
        ["--password", "new password 1"],
        None,
        "warning: a password on the command line is seen by other users of this machine (ps) and kept in the shell's history; prefer the prompt or --password-stdin",
    ),
]


@pytest.mark.parametrize(("args", "given", "warning"), PASSWORDS, ids=["prompt", "prompt again", "stdin", "argv"])
def test_set_password_takes_it_from_a_prompt_stdin_or_argv_with_a_warning(tmp_path, args, given, warning) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url) as crm:
        ana = crm.users.create("Ana", "ana@example.com", password="old password")
        crm.users.start_session(ana.id, dt.timedelta(hours=1))
    changed = run(url, "users", "set-password", "--email", "ana@example.com", *args, input=given)
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.endswith("password of <ana@example.com> changed; 1 session ended\n")
    assert ("Error: password: at least 8 characters" in changed.stdout) == (given or "").startswith("short")
    assert changed.stderr == ("" if warning is None else warning + "\n")
    with CRM(url) as crm:
        assert crm.users.authenticate("ana@example.com", "new password 1") is not None


REFUSED = [
    # (arguments, standard input, exit code, the one line on stderr)
    (["--email", "ana@example.com", "--password-stdin"], "short\n", 1, "error: password: at least 8 characters"),
    (
        ["--email", "ana@example.com", "--password-stdin"],
        "",
        1,
        "error: no password on standard input (--password-stdin reads one line)",
    ),
    (
        ["--email", "ana@example.com"],
        "",
        1,
        "error: no answer on standard input: password unchanged (type it at a terminal, or pipe it with --password-stdin)",
    ),
    (
        ["--email", "nobody@example.com"],
        "new password 1\nnew password 1\n",
        1,
        "error: user 'nobody@example.com' not found",
    ),
    (
        ["--email", "ana@example.com", "--password-stdin", "--password", "x"],
        "",
        2,
        "error: give --password or --password-stdin, not both",
    ),
]


@pytest.mark.parametrize(("args", "given", "code", "message"), REFUSED, ids=[m for *_, m in REFUSED])
def test_set_password_refusals_are_one_line_and_change_nothing(tmp_path, args, given, code, message) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url) as crm:
        crm.users.create("Ana", "ana@example.com", password="old password")
    refused = run(url, "users", "set-password", *args, input=given)
    assert (refused.exit_code, refused.stderr) == (code, message + "\n")
    if "nobody@example.com" in args:
        assert refused.stdout == ""  # refused before anyone types a password twice
    with CRM(url) as crm:
        assert crm.users.authenticate("ana@example.com", "old password") is not None


def test_at_a_terminal_the_password_is_asked_twice_and_never_echoed(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url) as crm:
        crm.users.create("Ana", "ana@example.com", password="old password")
    typed = "typed at a tty"
    said = at_a_terminal(["users", "set-password", "--email", "ana@example.com"], url, [typed, typed])
    assert said.count("assword") == 2 and typed not in said, said
    assert "password of <ana@example.com> changed" in said
    with CRM(url) as crm:
        assert crm.users.authenticate("ana@example.com", typed) is not None


def at_a_terminal(args: list[str], url: str, lines: list[str]) -> str:
    """Run crm-stub on a pseudo-terminal of its own, typing ``lines`` at each prompt; what it showed."""
    import pty

    main_fd, child_fd = pty.openpty()
    env = {**os.environ, "CRM_DATABASE_URL": url}
    # A session of its own: no controlling terminal but this one (getpass opens /dev/tty otherwise).
    child = subprocess.Popen(
        [sys.executable, "-m", "crm_stub.cli", *args],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
        start_new_session=True,
    )
    os.close(child_fd)
    shown = b""
    try:
        for asked, line in enumerate(lines, 1):
            deadline = time.monotonic() + 20
            while shown.count(b": ") < asked:  # until its prompt shows
                ready, _, _ = select.select([main_fd], [], [], max(0, deadline - time.monotonic()))
                assert ready, f"no prompt #{asked} within 20 s; it showed {shown!r}"
                shown += os.read(main_fd, 1024)
            os.write(main_fd, line.encode() + b"\n")
        child.wait(timeout=20)
        while True:
            try:
                chunk = os.read(main_fd, 1024)
            except OSError:  # the terminal closed with the child
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main_fd)
        if child.poll() is None:
            child.kill()
    return shown.decode(errors="replace")


def test_tokens_list_has_a_header_row(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert run(url, "tokens", "list").stdout == "no API tokens yet: create one with crm-stub tokens create\n"
    run(url, "tokens", "create", "--name", "erp", "--scopes", "webhooks:read")
    run(url, "tokens", "revoke", "1")
    header, row = run(url, "tokens", "list").stdout.splitlines()
    assert header.split() == ["id", "prefix", "name", "scopes", "state"]
    assert row.split()[0] == "1" and row.split()[2:5] == ["erp", "webhooks:read", "revoked"]


@dataclass
class Served:
    stderr: str = ""  # what the server said, once it has stopped


@contextmanager
def serving(argv: list[str], env: dict[str, str], port: int) -> Iterator[Served]:
    """A web server process, once it answers on ``port``; interrupted (Ctrl-C) when the block ends."""
    served = Served()
    # faulthandler: should it not stop, SIGABRT makes it print where every thread is.
    server = subprocess.Popen(
        argv,
        env={**os.environ, **env, "PYTHONFAULTHANDLER": "1"},
        # Ctrl-C as at a terminal: a CI job started in the background inherits SIGINT ignored,
        # and Python then installs no KeyboardInterrupt for it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, server.communicate()
                time.sleep(0.1)
        yield served
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, served.stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.send_signal(signal.SIGABRT)
            _, said = server.communicate(timeout=10)
            pytest.fail(f"{argv[0]} did not stop on SIGINT; its threads:\n{said[-8000:]}")


def test_serve_says_what_it_opened_and_answers_on_loopback_until_interrupted(database_url: str) -> None:
    ready = database_url.startswith("postgresql")  # there: an admin and the addon; on SQLite a new database
    if ready:
        database_url = make_url(database_url).set(password="pw-never-shown").render_as_string(hide_password=False)
        with CRM(database_url, addons=["crm_webhooks"]) as crm:
            crm.users.create("Ana", "ana@example.com", is_admin=True, password="long enough pw")
    port = free_port()
    argv = [sys.executable, "-m", "crm_stub.cli", "serve", "--port", str(port)]
    with serving(argv, {"CRM_DATABASE_URL": database_url}, port) as server:
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
        assert login.status_code == 200 and "csrf_token" in login.text
        page = requests.get(f"http://127.0.0.1:{port}/system/integrations/webhooks/", allow_redirects=False, timeout=2)
        api = requests.get(f"http://127.0.0.1:{port}/api/v1/hooks", timeout=2)
        assert (page.status_code, api.status_code) == ((302, 401) if ready else (404, 404))
    said = server.stderr
    assert f"database: {make_url(database_url).render_as_string(hide_password=True)}\n" in said
    assert "pw-never-shown" not in said
    no_admin = (
        "no admin yet, so nobody can open the System pages: crm-stub users create --name NAME --email EMAIL --admin\n"
    )
    no_addon = "addon crm_webhooks is not installed in this database: crm-stub addons install crm_webhooks\n"
    page_line = "System > Integrations > Webhooks: /system/integrations/webhooks/; "
    assert (no_admin in said, no_addon in said, page_line in said) == (not ready, not ready, ready)
    assert f"CRM on http://127.0.0.1:{port}/ (" in said
    assert said.index("database: ") < said.index("CRM on")


def test_serve_with_log_format_json_logs_requests_and_deliveries_as_json_lines(tmp_path, webhook_receiver) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url) as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True)  # the server's own dispatcher sends
        hook = wh.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    port = free_port()
    argv = [sys.executable, "-m", "crm_stub.cli", "serve", "--port", str(port), "--log-format", "json"]
    with serving(argv, {"CRM_DATABASE_URL": url}, port) as server:
        with CRM(url, addon_options={"crm_webhooks": {"dispatcher": "none"}}) as crm:
            crm.leads.create("Sent by the server")
            wait_until(lambda: getattr(crm.addons["crm_webhooks"].last_delivery(hook.id), "status", "") == "succeeded")
        time.sleep(0.2)  # the attempt's line follows its recording
    lines = [json.loads(line) for line in server.stderr.splitlines()]  # a line that is not JSON fails here
    (request,) = [line for line in lines if line["message"] == "request" and line["path"] == "/login"]
    assert (request["logger"], request["client"], request["method"], request["status"]) == (
        "crm_stub.serve",
        "127.0.0.1",
        "GET",
        200,
    )
    (attempt,) = [line for line in lines if line["message"] == "attempt"]
    assert (attempt["hook"], attempt["status"], attempt["outcome"], attempt["error"]) == (
        hook.id,
        200,
        "succeeded",
        None,
    )
    assert any(line["message"].startswith(f"CRM on http://127.0.0.1:{port}/") for line in lines)


def test_serve_on_a_port_already_taken_says_so_in_one_line(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = run(f"sqlite:///{tmp_path}/c.db", "serve", "--port", str(port))
    assert refused.exit_code == 1 and refused.stdout == ""
    assert (
        refused.stderr
        == f"error: port {port} on 127.0.0.1 is already in use (another crm-stub serve?): stop it or give --port\n"
    )


def test_addons_are_listed_and_installed_from_the_command_line(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    header, row = run(url, "addons", "list").stdout.splitlines()
    assert header.split() == ["name", "version", "installed", "summary"] and row.split()[0:3:2] == [
        "crm_webhooks",
        "no",
    ]
    assert run(url, "addons", "install", "crm_webhooks").stdout == "addon crm_webhooks is now installed\n"
    assert run(url, "addons", "install", "crm_webhooks").stdout == "addon crm_webhooks was already installed\n"
    assert run(url, "addons", "list").stdout.splitlines()[1].split()[2] == "yes"
    unknown = run(url, "addons", "install", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: addon 'nope' is not available in this environment (available: crm_webhooks)\n"


def test_the_readmes_production_command_serves_the_app(tmp_path) -> None:
    """The README's one command for a production WSGI server, run as written but on a free port."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if "waitress-serve " in line and not line.startswith(("#", "`"))]
    words = shlex.split(command.split("#")[0])
    env = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    argv = [word for word in words if word not in {f"{k}={v}" for k, v in env.items()}]
    port = free_port()
    argv = [str(Path(sys.executable).with_name(argv[0])), *(re.sub(r":8000$", f":{port}", w) for w in argv[1:])]
    url = f"sqlite:///{tmp_path}/crm.db"
    with CRM(url, addons=["crm_webhooks"]):
        pass
    with serving(argv, {**env, "CRM_DATABASE_URL": url}, port):
        assert requests.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/hooks", timeout=2).status_code == 401  # the addon's API


def test_a_password_on_stdin_that_is_no_text_is_refused_in_one_line(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    args = ("users", "create", "--name", "Ana", "--email", "ana@example.com", "--password-stdin")
    refused = run(url, *args, input=b"\xff\xfeabcdefghij\n")
    assert refused.exit_code == 1 and refused.stderr == "error: the password on standard input is not UTF-8 text\n"
    with CRM(url) as crm:
        assert crm.users.list() == []
