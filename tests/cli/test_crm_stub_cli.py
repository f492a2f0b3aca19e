"""crm-stub: users, API tokens, and serving the web UI for real."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from click.testing import CliRunner

from crm_stub import CRM
from crm_stub.cli import main


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
    assert made.exit_code == 0 and "(admin)" in made.stdout
    short = run(url, "users", "create", "--name", "Bo", "--email", "bo@example.com", "--password", "short")
    assert short.exit_code == 1 and short.stderr == "error: password: at least 8 characters\n"
    with CRM(url) as crm:
        assert crm.users.authenticate("ana@example.com", "long enough pw").is_admin


def test_serve_answers_on_loopback_until_interrupted(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with CRM(url, addons=["crm_webhooks"]):
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # faulthandler: should it not stop, SIGABRT makes it print where every thread is.
    env = {**os.environ, "CRM_DATABASE_URL": url, "PYTHONFAULTHANDLER": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "crm_stub.cli", "serve", "--port", str(port)],
        env=env,
        # Ctrl-C as at a terminal: a CI job started in the background inherits SIGINT ignored,
        # and Python then installs no KeyboardInterrupt for it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                login = requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, (
                    server.stderr.read() if server.stderr else ""
                )
                time.sleep(0.1)
        assert login.status_code == 200 and "csrf_token" in login.text
        page = requests.get(f"http://127.0.0.1:{port}/system/integrations/webhooks/", allow_redirects=False, timeout=2)
        assert page.status_code == 302 and "/login" in page.headers["Location"]
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/hooks", timeout=2).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.send_signal(signal.SIGABRT)
            _, said = server.communicate(timeout=10)
            pytest.fail(f"crm-stub serve did not stop on SIGINT; its threads:\n{said[-8000:]}")
