"""``crm-stub``: serve the CRM's web UI and REST API, and manage its users and API tokens."""

from __future__ import annotations

from typing import Any

import click

from .clikit import OneLineErrors, database_url_option, json_text, visible
from .crm import CRM


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
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, trusted_proxies: int) -> None:
    """Serve the web UI (System > Integrations > Webhooks) and the REST API (/api/v1)."""
    from werkzeug.serving import run_simple

    from .web import create_app

    app = create_app(_crm(ctx), CRM_TRUSTED_PROXIES=trusted_proxies)
    click.echo(f"CRM on http://{host}:{port}/ (webhooks: /system/integrations/webhooks, API: /api/v1)", err=True)
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.group()
def users() -> None:
    """Users of the CRM."""


@users.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--admin", is_flag=True, help="May open the System pages.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Asked for when not given.")
@click.pass_context
def users_create(ctx: click.Context, name: str, email: str, admin: bool, password: str) -> None:
    """Create a user who can log in."""
    user = _crm(ctx).users.create(name, email, is_admin=admin, password=password)
    click.echo(visible(f"user {user.id} <{user.email}>{' (admin)' if user.is_admin else ''} created"))


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Asked for when not given.")
@click.pass_context
def users_set_password(ctx: click.Context, email: str, password: str) -> None:
    """Give a user a new password; every web session of theirs ends."""
    crm = _crm(ctx)
    user = crm.users.get_by_email(email)
    crm.users.set_password(user.id, password)
    click.echo(f"password of <{user.email}> changed; their sessions ended")


@users.command("logout")
@click.option("--email", required=True)
@click.pass_context
def users_logout(ctx: click.Context, email: str) -> None:
    """End every web session of a user (a lost laptop, a copied cookie)."""
    crm = _crm(ctx)
    user = crm.users.get_by_email(email)
    ended = crm.users.end_sessions(user.id)
    click.echo(f"{ended} session(s) of <{user.email}> ended")


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
    rows: list[dict[str, Any]] = [t.to_dict() for t in _crm(ctx).tokens.list()]
    if as_json:
        click.echo(json_text(rows, indent=2))
        return
    for t in rows:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        click.echo(visible(f"{t['id']:>4}  {t['prefix']}…  {t['name']:<24} {' '.join(t['scopes']):<32} {state}"))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token at once."""
    _crm(ctx).tokens.revoke(token_id)
    click.echo(f"token {token_id} revoked")


if __name__ == "__main__":  # pragma: no cover
    main()
