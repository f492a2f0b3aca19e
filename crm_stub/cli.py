"""``crm-stub``: serve the CRM's web UI and REST API, and manage its users and API tokens."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import click

from .clikit import OneLineErrors, ask, columns, database_url_option, json_text, plural, visible, when
from .crm import CRM
from .logs import configure as configure_logging
from .logs import log_format_option, say
from .services.users import MIN_PASSWORD, check_password

log = logging.getLogger("crm_stub.serve")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@database_url_option
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(ctx: click.Context, database_url: str, debug: bool) -> None:
    """The host CRM."""
    ctx.obj = {"url": database_url}


def _crm(ctx: click.Context) -> CRM:
    crm = CRM(ctx.obj["url"])
    ctx.call_on_close(crm.close)
    return crm


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--trusted-proxies",
    type=click.IntRange(0, 10),
    envvar="CRM_TRUSTED_PROXIES",
    default=0,
    show_default=True,
    help="Reverse proxies in front whose X-Forwarded-For/-Proto to believe (client address, HTTPS).",
)
@log_format_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, trusted_proxies: int, log_format: str) -> None:
    """Serve the web UI (System > Integrations > Webhooks) and the REST API (/api/v1).

    Werkzeug's server, for one machine and a few users; the README says how to run the same app
    under a production WSGI server.
    """
    from werkzeug.serving import make_server

    from .web import create_app

    # Before the CRM opens: its addons' background work (webhook deliveries) logs from then on.
    configure_logging(log_format)
    crm = _crm(ctx)
    app = create_app(crm, CRM_TRUSTED_PROXIES=trusted_proxies)
    listening = _listen(host, port)  # before saying anything: a taken port is the one line said
    server = make_server(host, port, app, threaded=True, fd=listening.fileno(), request_handler=_request_handler())
    listening.close()  # the server holds its own copy of the socket
    for line in _startup_notes(crm, app, f"http://{host}:{port}"):
        say(log, "%s", line)
    server.serve_forever()  # until Ctrl-C or SIGTERM


def _request_handler() -> type:
    """Werkzeug's request handler, whose line per request is a log record with fields."""
    from werkzeug.serving import WSGIRequestHandler

    class RequestLog(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            fields = {
                "client": self.address_string(),
                "method": getattr(self, "command", None),  # None: a request line that could not be read
                "path": getattr(self, "path", None),
                "status": _number(code),
                "size": _number(size),
            }
            log.info("request", extra=fields)

    return RequestLog


def _number(value: int | str) -> int | None:
    """A status or a size as werkzeug passes it; None for its ``-`` (not known)."""
    try:
        return int(value)
    except ValueError:
        return None


def _listen(host: str, port: int) -> socket.socket:
    from werkzeug.serving import select_address_family

    try:
        return socket.create_server((host, port), family=select_address_family(host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another crm-stub serve?): stop it or give --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _startup_notes(crm: CRM, app: Any, base: str) -> list[str]:
    """What someone starting the server needs to know: which database, what is served, what is missing."""
    from sqlalchemy import make_url

    url = make_url(crm.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=os.path.abspath(url.database))  # which crm.db, wherever it was started
    notes = [f"database: {url.render_as_string(hide_password=True)}"]
    if not crm.users.list(is_admin=True):
        notes.append(
            "no admin yet, so nobody can open the System pages: crm-stub users create --name NAME --email EMAIL --admin"
        )
    for name in sorted(set(crm.addons.available) - set(crm.addons)):
        notes.append(f"addon {name} is not installed in this database: crm-stub addons install {name}")
    with app.test_request_context():
        from flask import url_for

        pages = [f"{e.section} > {e.label}: {url_for(e.endpoint)}" for e in app.extensions["crm_nav"].entries]
    served = "; ".join([*pages, "REST API: /api/v1"])
    notes.append(f"CRM on {base}/ ({served}); Ctrl-C stops it")
    return notes


@main.group()
def addons() -> None:
    """Addons: those this Python environment has, and which this database has installed."""


@addons.command("list")
@click.pass_context
def addons_list(ctx: click.Context) -> None:
    """Addons available here, and whether this database has them installed."""
    crm = _crm(ctx)
    rows = [
        (name, f.manifest.version, "yes" if name in crm.addons else "no", f.manifest.summary)
        for name, f in sorted(crm.addons.available.items())
    ]
    click.echo(columns(("name", "version", "installed", "summary"), rows) if rows else "no addons in this environment")


@addons.command("install")
@click.argument("name")
@click.pass_context
def addons_install(ctx: click.Context, name: str) -> None:
    """Install an addon in this database, with its default options (nothing happens if it is)."""
    crm = _crm(ctx)
    already = name in crm.addons
    crm.install_addon(name)
    click.echo(visible(f"addon {name} {'was already' if already else 'is now'} installed"))


@main.group()
def users() -> None:
    """Users of the CRM."""


def _password_options(f: Any) -> Any:
    f = click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input, one line (from a secrets manager or a file).",
    )(f)
    return click.option(
        "--password",
        help="Seen by other users of the machine (ps) and kept in the shell's history: "
        "prefer the prompt or --password-stdin.",
    )(f)


def _password(given: str | None, from_stdin: bool) -> str:
    """The password: from the command line (with a warning), one line of stdin, or asked twice."""
    if given is not None and from_stdin:
        raise click.UsageError("give --password or --password-stdin, not both")
    if given is not None:
        click.echo(
            "warning: a password on the command line is seen by other users of this machine (ps) and kept in "
            "the shell's history; prefer the prompt or --password-stdin",
            err=True,
        )
        return given
    if from_stdin:
        raw = sys.stdin.buffer.readline()
        if not raw:
            raise click.ClickException("no password on standard input (--password-stdin reads one line)")
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise click.ClickException("the password on standard input is not UTF-8 text") from None
    # Hidden at a terminal; from a pipe there is nothing to hide, and getpass would only warn.
    at_terminal = sys.stdin.isatty()
    return ask(
        lambda: click.prompt(
            f"Password (at least {MIN_PASSWORD} characters)",
            hide_input=at_terminal,
            confirmation_prompt=True,
            value_proc=_password_rule,
        ),
        unanswered="password unchanged (type it at a terminal, or pipe it with --password-stdin)",
    )


def _password_rule(value: str) -> str:
    # Checked before the confirmation, so a short one is asked again rather than refused at the end.
    try:
        return check_password(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@users.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--admin", is_flag=True, help="May open the System pages.")
@_password_options
@click.pass_context
def users_create(
    ctx: click.Context, name: str, email: str, admin: bool, password: str | None, password_stdin: bool
) -> None:
    """Create a user who can log in (the password is asked for twice unless given)."""
    crm = _crm(ctx)
    user = crm.users.create(name, email, is_admin=admin, password=_password(password, password_stdin))
    click.echo(visible(f"user {user.id} <{user.email}>{' (admin)' if user.is_admin else ''} created"))


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """Users, oldest first; admins may open the System pages."""
    _listing(
        _crm(ctx).users.list(),
        as_json=as_json,
        empty="no users yet: create one with crm-stub users create --admin",
        headers=("id", "name", "email", "admin", "created"),
        row=lambda u: (u.id, u.name, u.email, "yes" if u.is_admin else "no", when(u.created_at)),
    )


def _listing(
    found: list[Any], *, as_json: bool, empty: str, headers: tuple[str, ...], row: Callable[[Any], tuple[Any, ...]]
) -> None:
    """Records as JSON, or as rows under a header, or one line saying there are none and what to do."""
    if as_json:
        click.echo(json_text([record.to_dict() for record in found], indent=2))
    elif not found:
        click.echo(empty)
    else:
        click.echo(columns(headers, map(row, found)))


@users.command("set-password")
@click.option("--email", required=True)
@_password_options
@click.pass_context
def users_set_password(ctx: click.Context, email: str, password: str | None, password_stdin: bool) -> None:
    """Give a user a new password (asked for twice unless given); every web session of theirs ends."""
    crm = _crm(ctx)
    user = crm.users.get_by_email(email)  # an unknown user is refused before anyone types a password
    ended = crm.users.set_password(user.id, _password(password, password_stdin))
    click.echo(visible(f"password of <{user.email}> changed; {plural(ended, 'session')} ended"))


@users.command("logout")
@click.option("--email", required=True)
@click.pass_context
def users_logout(ctx: click.Context, email: str) -> None:
    """End every web session of a user (a lost laptop, a copied cookie)."""
    crm = _crm(ctx)
    user = crm.users.get_by_email(email)
    ended = crm.users.end_sessions(user.id)
    click.echo(visible(f"{plural(ended, 'session')} of <{user.email}> ended"))


@main.group()
def tokens() -> None:
    """API tokens for /api/v1 (Authorization: Bearer <token>)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses it.")
@click.option("--scopes", required=True, help="Comma-separated, e.g. webhooks:read,webhooks:write.")
@click.pass_context
def tokens_create(ctx: click.Context, name: str, scopes: str) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    _token, plain = _crm(ctx).tokens.create(name, scopes)
    click.echo(plain)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """List tokens (never their text)."""
    _listing(
        _crm(ctx).tokens.list(),
        as_json=as_json,
        empty="no API tokens yet: create one with crm-stub tokens create",
        headers=("id", "prefix", "name", "scopes", "state"),
        row=lambda t: (
            t.id,
            f"{t.prefix}…",
            t.name,
            t.scopes,
            "active" if t.revoked_at is None else f"revoked {when(t.revoked_at)}",
        ),
    )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token at once."""
    _crm(ctx).tokens.revoke(token_id)
    click.echo(f"token {token_id} revoked")


if __name__ == "__main__":  # pragma: no cover
    main()
