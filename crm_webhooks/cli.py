"""``crm-webhooks``: hooks, deliveries, a worker and a demo, from a terminal.

Every command calls the addon's own service functions; this file only parses
arguments and renders.  Errors are one line on stderr and a non-zero exit,
never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crm_stub import CRM, logs
from crm_stub.clikit import (
    OneLineErrors,
    Seconds,
    confirm,
    database_url_option,
    describe_error,
    json_text,
    plain,
    plural,
    visible,
    when,
)
from crm_stub.models import utcnow

from .domain.catalog import BY_CODE, CATALOG
from .domain.deliveries import Attempt, Delivery
from .domain.durations import format_duration, parse_duration, parse_since
from .domain.hooks import METHODS, ORDERINGS, Hook
from .domain.options import DISPATCHERS, Options
from .domain.replay import MAX_REPLAY
from .domain.templating import MAX_TEMPLATE
from .engine.retry import next_try_in
from .exceptions import ValidationError
from .stop_signals import StopSignals

log = logging.getLogger("crm_webhooks.worker")

ADDON = "crm_webhooks"
# How often a stopping worker looks whether its loop has finished, between looks for a second signal.
STOP_POLL_S = 0.05


# -- plumbing -------------------------------------------------------------------


@dataclass
class App:
    database_url: str
    given: bool
    debug: bool = False
    _crm: CRM | None = None
    # A pipe or a CI log gets wide tables rather than 80 squashed columns.
    console: Console = field(
        default_factory=lambda: Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    )

    @property
    def crm(self) -> CRM:
        if self._crm is None:
            # This process only runs commands: nobody delivers in the background here.
            self._crm = CRM(self.database_url, addon_options={ADDON: {"dispatcher": "none"}})
            if ADDON not in self._crm.addons:
                self._crm.install_addon(ADDON)
        return self._crm

    @property
    def webhooks(self) -> Any:
        return self.crm.addons[ADDON]

    def close(self) -> None:
        if self._crm is not None:
            self._crm.close()

    def json(self, value: Any) -> None:
        click.echo(json_text(value, indent=2, default=str))

    def say(self, line: str) -> None:
        """One line made of data (names, URLs, errors) shown as text, never as markup."""
        self.console.print(plain(line))


pass_app = click.make_pass_decorator(App)


class Since(click.ParamType):
    """``2h``, ``30m``, ``7d`` ago, or an ISO 8601 date/time (UTC when no zone is given)."""

    name = "since"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.datetime:
        try:
            return parse_since(value, now=utcnow())
        except ValidationError as exc:
            self.fail(exc.reason, param, ctx)


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        try:
            return parse_duration(value)
        except ValidationError as exc:
            self.fail(exc.reason, param, ctx)


class TemplateText(click.ParamType):
    """Text as given, or ``@FILE``: that file's text (UTF-8), since templates run to many lines."""

    name = "text|@file"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if not isinstance(value, str) or not value.startswith("@"):
            return value
        path = value[1:]
        try:
            with open(path, encoding="utf-8") as file:
                return file.read(MAX_TEMPLATE + 1)  # more than that is refused by validation, naming the field
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc.__class__.__name__}", param, ctx)


# -- the command tree -------------------------------------------------------------


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@database_url_option
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="crm-webhooks")
@click.pass_context
def main(ctx: click.Context, database_url: str, debug: bool) -> None:
    """Webhooks of the CRM: hooks, deliveries, a delivery worker and a demo."""
    source = ctx.get_parameter_source("database_url")
    given = source is not None and source.name != "DEFAULT"
    app = ctx.obj = App(database_url, given, debug)
    ctx.call_on_close(app.close)
    if debug:
        logging.basicConfig(level=logging.DEBUG)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def events(app: App, as_json: bool) -> None:
    """The events a hook can subscribe to: the CRM's 30, then the hooks' own (webhook.*)."""
    if as_json:
        app.json([dataclasses.asdict(e) for e in CATALOG])
        return
    table = Table("#", "code", "pt-BR", "English", title="Events")
    for e in CATALOG:
        table.add_row(*map(plain, (e.number, e.code, e.label_pt, e.label_en)))
    app.console.print(table)


@main.command()
@click.option(
    "--allow-private-networks/--no-allow-private-networks",
    default=None,
    help="Allow loopback and private destinations (link-local stays refused).",
)
@click.option("--retry-delays", help="Seconds before each retry, comma-separated (e.g. 5,300,1800).")
@click.option("--retry-jitter", type=float, help="Share of each retry delay (0 to 1) added at random.")
@click.option("--timeout", type=float, help="Seconds per attempt.")
@click.option(
    "--disable-after-failures",
    type=click.IntRange(min=1, max=1_000_000),
    help="Failed deliveries in a row before a hook is disabled (see --never-disable).",
)
@click.option("--never-disable", is_flag=True, help="Never disable a hook for its failures.")
@click.option(
    "--warn-at-share",
    type=click.FloatRange(min=0, max=1),
    help="Share (0 to 1) of --disable-after-failures at which webhook.failing is raised (default 0.5).",
)
@click.option("--dispatcher", type=click.Choice(DISPATCHERS), help="Who delivers inside the CRM's process.")
@click.option("--dispatcher-concurrency", type=int, help="Attempts the thread dispatcher keeps in flight (1-256).")
@click.option("--secret-grace-hours", type=float, help="Hours a rotated-out secret still signs.")
@click.option(
    "--probe-disabled-every",
    type=float,
    metavar="MINUTES",
    help="Send a hook disabled for its failures a test event this often; a 2xx enables it again "
    "(see --never-probe, the default).",
)
@click.option("--never-probe", is_flag=True, help="Never probe disabled hooks: a person enables them.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def configure(
    app: App, as_json: bool, retry_delays: str | None, never_disable: bool, never_probe: bool, **changes: Any
) -> None:
    """Show or change the addon's options, stored in the database for every process."""
    options = app.crm.addons.options(ADDON)
    changes = {k: v for k, v in changes.items() if v is not None}
    for flag, option, never in (
        ("--never-disable", "disable_after_failures", never_disable),
        ("--never-probe", "probe_disabled_every", never_probe),
    ):
        if never:
            if option in changes:
                raise click.UsageError(f"give --{option.replace('_', '-')} N or {flag}, not both")
            changes[option] = None
    if retry_delays is not None:
        try:
            changes["retry_delays"] = [float(x) for x in retry_delays.split(",") if x.strip()]
        except ValueError:
            hint = f"{retry_delays!r} is not a list of seconds like 5,300,1800"
            raise click.BadParameter(hint, param_hint="--retry-delays") from None
    if changes:
        options = {**options, **changes}
        app.crm.install_addon(ADDON, **options)
    if as_json:
        app.json(options)
        return
    defaults = Options()
    table = Table("option", "value", title="crm_webhooks options")
    for name in (f.name for f in dataclasses.fields(Options)):
        value = options.get(name, getattr(defaults, name))
        shown = "never" if value is None else str(list(value) if isinstance(value, tuple) else value)
        table.add_row(plain(name), plain(shown if name in options else f"{shown} (default)"))
    app.console.print(table)


# -- hooks ----------------------------------------------------------------------------


@main.group()
def hooks() -> None:
    """Add, list, change, test and remove hooks."""


def _hook_table(items: list[Hook]) -> Table:
    table = Table("id", "name", "events", "method", "url", "last run", "status", title="Webhooks")
    for h in items:
        cells = (h.id, h.name, ", ".join(h.events), h.method, h.url, when(h.last_run_at), h.status_detail)
        table.add_row(*map(plain, cells))
    return table


# Lines of `hooks show` left out while what they describe is not set.
OPTIONAL_LINES = {
    "condition": "condition",
    "skipped_by_condition": "condition",
    "body_template": "body_template",
    "max_per_second": "max_per_second",
}


def _show_hook(app: App, hook: Hook, *, reveal: bool, as_json: bool, secret_once: bool = False) -> None:
    shown = hook.to_dict(reveal=reveal)
    if secret_once:
        shown["secret"] = hook.secret
    if as_json:
        app.json(shown)
        return
    table = Table(show_header=False, box=None)
    keys = (
        "id",
        "name",
        "events",
        "method",
        "ordering",
        "url",
        "key",
        "value",
        "condition",
        "skipped_by_condition",
        "content_type",
        "body_template",
        "max_per_second",
        "status_detail",
        "last_run_at",
        "secret",
    )
    for key in keys:
        label = {"status_detail": "status", "last_run_at": "last run"}.get(key, key).replace("_", " ")
        value = shown[key]
        if key in OPTIONAL_LINES and not shown[OPTIONAL_LINES[key]]:
            continue  # nothing set: no line
        if key == "events":
            value = ", ".join(f"{e} ({BY_CODE[e].label_pt})" if e in BY_CODE else e for e in value)
        elif key == "last_run_at":
            value = when(hook.last_run_at)
        table.add_row(plain(label), plain("" if value is None else value))
    app.console.print(table)
    if secret_once:
        app.console.print("Keep the secret now: it is shown masked from here on (see `hooks show --reveal`).")


@hooks.command("list")
@click.option("--event", help="Only the hooks this event reaches (by its code or their patterns).")
@click.option("--enabled/--disabled", default=None, help="Only enabled or only disabled hooks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Show header values and secrets unmasked.")
@pass_app
def hooks_list(app: App, event: str | None, enabled: bool | None, as_json: bool, reveal: bool) -> None:
    """List hooks."""
    items = app.webhooks.list_hooks(event=event, enabled=enabled)
    if as_json:
        app.json([h.to_dict(reveal=reveal) for h in items])
    else:
        app.console.print(_hook_table(items))


def _hook_options(*, required: bool) -> Any:
    """The hook's fields as options: a new hook needs a name, an event and a URL; an update, none."""

    def decorate(f: Any) -> Any:
        for option in reversed(_hook_fields(required)):
            f = option(f)
        return f

    return decorate


def _hook_fields(required: bool) -> list[Any]:
    return [
        click.option("--name", required=required, help="A name people recognise."),
        click.option(
            "--event",
            "events",
            required=required,
            multiple=True,
            help="Event code (see `crm-webhooks events`) or pattern: lead.*, *.stage_changed, *. Repeat it for more.",
        ),
        click.option("--url", required=required, help="Where to send (http or https)."),
        click.option("--method", type=click.Choice(METHODS, case_sensitive=False), help="HTTP method."),
        click.option("--key", help="Header name that authenticates the call (e.g. X-Api-Key)."),
        click.option("--value", help="Its value."),
        click.option(
            "--condition",
            help="Only events this Jinja2 expression is true of, e.g. 'object.amount|float > 1000' "
            "(names: object, previous, event); empty: every event.",
        ),
        click.option(
            "--body-template",
            type=TemplateText(),
            help="A Jinja2 template for the body, or @FILE to read it from a file; empty: the standard envelope.",
        ),
        click.option("--content-type", help="The body's media type [default: application/json]."),
        click.option(
            "--max-per-second",
            help="Attempts a second at most, shared by every worker (e.g. 20); empty: no limit.",
        ),
        click.option(
            "--ordering",
            type=click.Choice(ORDERINGS),
            help="record: a record's events arrive in the order they were committed (the default); "
            "none: each goes when it can.",
        ),
    ]


@hooks.command("add")
@_hook_options(required=True)
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_add(app: App, disabled: bool, as_json: bool, **fields: Any) -> None:
    """Add a hook; its signing secret is shown once."""
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["events"] = list(fields["events"])
    hook = app.webhooks.create_hook(**{"method": "POST", **fields}, enabled=not disabled)
    _show_hook(app, hook, reveal=False, as_json=as_json, secret_once=True)


@hooks.command("show")
@click.argument("hook_id", type=int)
@click.option("--reveal", is_flag=True, help="Show the header value and the secret unmasked.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_show(app: App, hook_id: int, reveal: bool, as_json: bool) -> None:
    """Show one hook."""
    _show_hook(app, app.webhooks.get_hook(hook_id), reveal=reveal, as_json=as_json)


@hooks.command("update")
@click.argument("hook_id", type=int)
@_hook_options(required=False)
@click.option("--no-auth", is_flag=True, help="Remove the key/value header.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_update(app: App, hook_id: int, no_auth: bool, as_json: bool, **fields: Any) -> None:
    """Change a hook's fields (only those given).

    A new --url for a hook with a key/value header needs --value again (or --no-auth): whoever may
    change a hook must not be able to send its value somewhere else without knowing it.
    """
    fields = {k: v for k, v in fields.items() if v not in (None, ())}
    if "events" in fields:
        fields["events"] = list(fields["events"])
    if no_auth:
        fields.update(key=None, value=None)
    if not fields:
        raise click.UsageError(
            "nothing to change: give at least one of --name --event --url --method --key --value --ordering"
            " --condition --body-template --content-type --max-per-second"
        )
    _show_hook(app, app.webhooks.update_hook(hook_id, **fields), reveal=False, as_json=as_json)


@hooks.command("disable")
@click.argument("hook_id", type=int)
@pass_app
def hooks_disable(app: App, hook_id: int) -> None:
    """Stop sending to a hook; its pending deliveries wait."""
    hook = app.webhooks.disable_hook(hook_id)
    app.say(f"hook {hook.id} ({hook.name}): {hook.status_detail}")


@hooks.command("enable")
@click.argument("hook_id", type=int)
@click.option("--replay-failed", is_flag=True, help="Also send again what failed since it started failing.")
@click.option("--dry-run", is_flag=True, help="Say what enabling would send, and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_enable(app: App, hook_id: int, replay_failed: bool, dry_run: bool, as_json: bool) -> None:
    """Send to a hook again, starting with what waited (held while it was disabled).

    The deliveries sent again are queued for the workers, after the held ones.
    """
    if dry_run:
        recovery = app.webhooks.preview_enable_hook(hook_id)
    else:
        recovery = app.webhooks.recover_hook(hook_id, replay_failed=replay_failed)
    if as_json:
        app.json(recovery.to_dict())
        return
    hook = recovery.hook
    app.say(f"hook {hook.id} ({hook.name}): " + (hook.status_detail if dry_run else "enabled"))
    held = plural(recovery.held, "held delivery", "held deliveries")
    app.say(f"{held} {'would go' if dry_run else 'released'}")
    if not recovery.failed:
        app.say("no delivery failed since its last success")
        return
    if dry_run:
        what = "--replay-failed would send them again"
    elif recovery.replay is None:
        what = "left as they are (--replay-failed sends them again)"
    else:
        what = f"{recovery.replayed} queued again, after the held ones"
        if recovery.left:
            what += f"; {recovery.left} more: run it again"
    app.say(f"{_deliveries(recovery.failed, 'failed')} since {when(recovery.failing_since)}: {what}")


@hooks.command("delete")
@click.argument("hook_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_app
def hooks_delete(app: App, hook_id: int, yes: bool) -> None:
    """Delete a hook and its history."""
    hook = app.webhooks.get_hook(hook_id)
    if not yes:
        confirm(
            f"Delete hook {hook.id} ({hook.name}) and its history?",
            unanswered="nothing deleted (give --yes to delete without asking)",
        )
    app.webhooks.delete_hook(hook_id)
    app.say(f"hook {hook.id} ({hook.name}) deleted")


@hooks.command("test")
@click.argument("hook_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_test(app: App, hook_id: int, as_json: bool) -> int:
    """Send a sample event of the hook's type now; exit 1 if it failed."""
    delivery = app.webhooks.send_test(hook_id)
    if as_json:
        app.json(delivery.to_dict(payload=True))
    else:
        app.say(_attempt_line(delivery))
    return 0 if delivery.status == "succeeded" else 1


@hooks.command("preview")
@click.argument("hook_id", type=int)
@click.option("--record", help="A record as it is now, as entity:id (e.g. lead:42); default: the latest stored event.")
@click.option("--event", help="Which of the hook's events (default: its first of the record's, or any).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def hooks_preview(app: App, hook_id: int, record: str | None, event: str | None, as_json: bool) -> None:
    """Show what the hook would send for an event: sends nothing, stores nothing."""
    preview = app.webhooks.preview(hook_id, record=record, event=event)
    if as_json:
        app.json(preview.to_dict())
        return
    app.say(f"event: {preview.event} {preview.event_id} ({preview.record or 'the latest stored'})")
    if preview.condition_error is not None:
        app.say(f"condition: cannot be evaluated, nothing would be sent: {preview.condition_error}")
    elif preview.matches is not None:
        app.say("condition: true" if preview.matches else "condition: false, nothing would be sent")
    if preview.error is not None:
        app.say(f"nothing would be sent: {preview.error}")
        return
    app.say(f"{preview.method} {preview.url}")
    app.console.print(_header_lines("headers (masked)", preview.headers.items()))
    if preview.body is not None:
        app.console.print(plain(f"body:\n{preview.body}", newlines=True))


@hooks.command("rotate-secret")
@click.argument("hook_id", type=int)
@pass_app
def hooks_rotate(app: App, hook_id: int) -> None:
    """Issue a new signing secret; the old one keeps signing for the grace period."""
    hook = app.webhooks.rotate_secret(hook_id)
    app.say(f"new secret of hook {hook.id}: {hook.secret}")
    app.say(f"the previous one also signs until {when(hook.previous_secret_expires_at)}")


# -- deliveries -------------------------------------------------------------------------


@main.group()
def deliveries() -> None:
    """Look at deliveries, send them again, prune old ones."""


def _attempt_line(d: Delivery) -> str:
    last = d.attempts[-1] if d.attempts else None
    if last is None:
        return f"delivery {d.id} ({d.event}): {d.status_detail}, no attempt yet"
    return f"delivery {d.id} ({d.event}): {d.status}, {_answer(last)} in {last.duration_ms:.1f} ms"


def _answer(a: Attempt) -> str:
    """What the receiver answered, saying its status once: an error of a non-2xx already starts with it."""
    status = None if a.status_code is None else f"HTTP {a.status_code}"
    if a.ok or not a.error:
        return status or "no answer"
    if status is None or a.error.startswith(status):
        return a.error
    return f"{status} ({a.error})"


def _header_lines(title: str, headers: Iterable[tuple[str, str]]) -> Text:
    """Headers as they went over the wire, one ``Name: value`` a line (not JSON, whose escapes show)."""
    lines = [f"{title}:", *(f"  {visible(name)}: {visible(value)}" for name, value in headers)]
    return Text("\n".join(lines))


def _delivery_table(items: list[Delivery]) -> Table:
    table = Table("id", "hook", "event", "event id", "status", "attempts", "last HTTP", "created", title="Deliveries")
    for d in items:
        last = d.attempts[-1] if d.attempts else None
        code = "" if last is None else (str(last.status_code) if last.status_code is not None else "error")
        attempts = str(len(d.attempts))
        cells = (d.id, d.hook_id, d.event, d.event_id, d.status_detail, attempts, code, when(d.created_at))
        table.add_row(*map(plain, cells))
    return table


def _filters(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--hook", "hook_id", type=int, help="Only deliveries of this hook."),
            click.option("--status", type=click.Choice(["pending", "succeeded", "failed"]), help="Only this status."),
            click.option("--since", type=Since(), help="Created since: 2h, 30m, 7d, or an ISO date/time."),
        ]
    ):
        f = option(f)
    return f


@deliveries.command("list")
@_filters
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--before", type=int, help="Page: deliveries older than this id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def deliveries_list(app: App, as_json: bool, **filters: Any) -> None:
    """List deliveries, newest first."""
    items = app.webhooks.list_deliveries(**filters)
    if as_json:
        app.json([d.to_dict() for d in items])
    else:
        app.console.print(_delivery_table(items))


@deliveries.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def deliveries_stats(app: App, as_json: bool) -> None:
    """The queue: pending (held for disabled hooks), due, in flight, failed, oldest due age."""
    stats = app.webhooks.delivery_stats()
    if as_json:
        app.json(stats)
        return
    table = Table("pending", "held", "due", "in flight", "failed", "succeeded", "oldest due", title="Deliveries")
    age = stats["oldest_due_age_s"]
    cells = [str(stats[k]) for k in ("pending", "held", "due", "in_flight", "failed", "succeeded")]
    table.add_row(*map(plain, (*cells, "—" if age is None else f"{age:.1f} s ago")))
    app.console.print(table)


@deliveries.command("show")
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def deliveries_show(app: App, delivery_id: int, as_json: bool) -> None:
    """One delivery: its attempts and the envelope sent."""
    d = app.webhooks.get_delivery(delivery_id)
    if as_json:
        app.json(d.to_dict(payload=True))
        return
    app.say(_attempt_line(d))
    if d.attempts:
        table = Table(
            "#",
            "at",
            "HTTP",
            "error",
            "ms",
            "response headers",
            "response (start)",
            title=f"Attempts of delivery {d.id}",
        )
        for n, a in enumerate(d.attempts, 1):
            code = "" if a.status_code is None else str(a.status_code)
            body = (a.response_body or "")[:60]
            headers = "" if a.response_headers is None else str(len(a.response_headers))
            cells = (n, when(a.attempted_at), code, a.error or "", f"{a.duration_ms:.1f}", headers, body)
            table.add_row(*map(plain, cells))
        app.console.print(table)
        last = d.attempts[-1]
        app.console.print(_header_lines("request headers (masked)", last.request_headers.items()))
        if last.request_body is not None:
            app.console.print(plain(f"body sent by attempt {len(d.attempts)}: {last.request_body}", newlines=True))
        if last.response_headers is not None:
            app.console.print(_header_lines(f"response headers of attempt {len(d.attempts)}", last.response_headers))
    app.console.print(plain(f"envelope: {json_text(d.payload, indent=2)}", newlines=True))


@deliveries.command("redeliver")
@click.argument("delivery_id", type=int, required=False)
@click.option("--failed", is_flag=True, help="Every failed delivery (with --since, --hook), oldest first; tests aside.")
@click.option("--hook", "hook_id", type=int, help="With --failed: only this hook's.")
@click.option("--since", type=Since(), help="With --failed: created since 2h, 30m, 7d or an ISO date/time.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_REPLAY),
    help=f"With --failed: at most this many (and at most {MAX_REPLAY}); run it again for the rest.",
)
@click.option("--dry-run", is_flag=True, help="With --failed: say how many would go, and send nothing.")
@pass_app
def deliveries_redeliver(
    app: App,
    delivery_id: int | None,
    failed: bool,
    hook_id: int | None,
    since: Any,
    limit: int | None,
    dry_run: bool,
) -> int:
    """Send one delivery again, or every failed one after an outage (--failed --since 2h).

    A failed delivery already sent again is not sent while that one is pending or once it
    succeeded: running the command twice sends nothing twice.
    """
    if (delivery_id is None) == (not failed):
        raise click.UsageError("give a DELIVERY_ID, or --failed (optionally with --since and --hook)")
    if delivery_id is not None:
        if hook_id is not None or since is not None or limit is not None or dry_run:
            raise click.UsageError("--hook, --since, --limit and --dry-run go with --failed, not with a DELIVERY_ID")
        d = app.webhooks.redeliver(delivery_id)
        app.say(_attempt_line(d))
        return 0 if d.status != "failed" else 1
    chosen = {"since": since, "limit": limit or MAX_REPLAY}
    if dry_run:
        replay = app.webhooks.preview_redeliver_failed(hook_id, **chosen)
        app.say(f"{_deliveries(replay.count, 'failed')} would be sent again, oldest first")
        ok = True
    else:
        replay = app.webhooks.redeliver_failed(hook_id, **chosen, send=True)  # nobody else may be delivering
        succeeded = app.webhooks.replay_progress(replay).succeeded
        outcome = f"{succeeded} succeeded, {replay.count - succeeded} did not"
        app.say(f"redelivered {_deliveries(replay.count, 'failed')}: {outcome}")
        ok = succeeded == replay.count
    if replay.remaining:
        app.say(f"{replay.remaining} more after those: run it again for them")
    return 0 if ok else 1


def _deliveries(count: int, adjective: str) -> str:
    return plural(count, f"{adjective} delivery", f"{adjective} deliveries")


@deliveries.command("prune")
@click.option("--older-than", type=Duration(), required=True, help="Age: 30d, 12h...")
@click.option("--dry-run", is_flag=True, help="Say how many would go; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_app
def deliveries_prune(app: App, older_than: dt.timedelta, dry_run: bool, yes: bool) -> None:
    """Delete finished deliveries older than this, and their attempts (each hook keeps its latest)."""
    age = format_duration(older_than)
    count = app.webhooks.prune(older_than, dry_run=True)
    if dry_run:
        doomed = plural(count, "delivery", "deliveries")
        app.say(f"would prune {doomed} (finished, older than {age}; each hook keeps its latest)")
        return
    if count == 0:
        app.say(f"nothing to prune: no finished delivery older than {age} (each hook keeps its latest)")
        return
    if not yes:
        confirm(
            f"Delete {_deliveries(count, 'finished')} older than {age}?",
            unanswered="nothing pruned (give --yes to prune without asking)",
        )
    app.say(f"pruned {plural(app.webhooks.prune(older_than), 'delivery', 'deliveries')}")


# -- encryption keys -----------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Keys that encrypt the hooks' secrets at rest (CRM_WEBHOOKS_ENCRYPTION_KEYS or the key file)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key; put it first in CRM_WEBHOOKS_ENCRYPTION_KEYS (or the key file) to rotate."""
    from .encryption import generate_key

    click.echo(generate_key())


@keys.command("reencrypt")
@pass_app
def keys_reencrypt(app: App) -> None:
    """Encrypt every secret again with the first key, after which the keys after it can go."""
    from .encryption import keyring_for, reencrypt

    engine = app.crm.engine  # opening the CRM checks that the keys open the database
    with engine.begin() as conn:
        count = reencrypt(conn)
    source = keyring_for(engine.dialect).source
    click.echo(f"re-encrypted the secrets of {count} hook{'' if count == 1 else 's'} with the first key of {source}")


# -- worker and demo ---------------------------------------------------------------------


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Attempts in flight.")
@click.option(
    "--poll-interval",
    type=Seconds(0.01, 60),
    default=None,
    help="Seconds between looks at the queue [default: 0.25; 5 on PostgreSQL, where NOTIFY wakes the worker].",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port at /metrics (0: any free port, printed at start).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics are served on.")
@click.option(
    "--wait-for-database",
    type=Seconds(0, 86_400),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="At start, how long to keep trying a database server that cannot be reached (started before it, "
    "or while it restarts), waiting 0.5 s, then twice as long each time up to 10 s; 0: fail at once. "
    "A SQLite file is not waited for.",
)
@logs.log_format_option
@pass_app
def worker(
    app: App,
    concurrency: int,
    poll_interval: float,
    metrics_port: int | None,
    metrics_host: str,
    wait_for_database: float,
    log_format: str,
) -> None:
    """Deliver until SIGTERM or SIGINT, then finish the attempts in flight and exit 0."""
    logs.configure(log_format, level=logging.DEBUG if app.debug else logging.INFO)
    with StopSignals() as signals:
        stopped = _wait_for_database(app, signals, wait_for_database)
        if stopped is not None:
            logs.say(log, "%s while waiting for the database: stopped", stopped.name)
            return
        if poll_interval is None:
            poll_interval = 5.0 if app.crm.engine.dialect.name == "postgresql" else 0.25
        runner = app.webhooks.worker(concurrency=concurrency, poll_interval=poll_interval)
        metrics = None
        if metrics_port is not None:
            try:
                metrics = app.webhooks.metrics.serve(metrics_host, metrics_port)
            except OSError as exc:  # taken, or an address this machine does not have
                raise _cannot_serve(exc, metrics_host, metrics_port) from None
        try:
            runner.start(listen=True)
            logs.say(log, "worker %s: %d in flight at most", app.webhooks.deliverer.worker, concurrency)
            if metrics is not None:
                logs.say(log, "metrics on %s", metrics.url)
            first = signals.wait()
            logs.say(log, "%s: finishing the attempts in flight", first.name)
            runner.stop()
            while runner.running:
                if signals.wait(STOP_POLL_S) is not None:
                    os._exit(1)  # a second signal: leave now; leases return what was in flight
            runner.join()
        finally:
            if metrics is not None:  # last: scrapes still answer while the attempts in flight finish
                metrics.close()
        logs.say(log, "worker stopped after %d attempts", runner.attempts)


def _cannot_serve(exc: OSError, host: str, port: int) -> click.BadParameter:
    """The option to fix: the host when it is no address of this machine, else the port (taken, or
    one only root may take)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    wrong_host = isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL)
    option = "--metrics-host" if wrong_host else "--metrics-port"
    return click.BadParameter(f"cannot serve on {address}: {exc.strerror or exc}", param_hint=option)


def _wait_for_database(app: App, signals: StopSignals, seconds: float) -> signal.Signals | None:
    """Open the CRM, trying again for ``seconds`` while its database cannot be reached.

    Returns the stop signal that ended the wait, or None once the database is open.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        if make_url(app.database_url).get_backend_name() == "sqlite":
            seconds = 0  # a file: a wrong path does not come right by waiting
    except ArgumentError:
        pass  # opening it says what is wrong with it
    deadline = time.monotonic() + seconds
    tries = 0
    while True:
        tries += 1
        try:
            app.crm  # noqa: B018 (opening it is the try)
            return None
        except OperationalError as exc:
            pause = next_try_in(tries, deadline - time.monotonic())
            if pause is None and tries == 1:
                raise  # not asked to wait: the error as any command says it
            detail = describe_error(exc).removeprefix("database: ")
            if pause is None:
                raise click.ClickException(
                    f"database: not reachable after {seconds:g} s ({tries} tries): {detail}"
                ) from None
            said = {"attempt": tries, "retry_in_s": round(pause, 2), "error": detail}
            log.warning("database not reachable", extra=said)
        heard = signals.wait(pause)
        if heard is not None:
            return heard


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_app
def demo(app: App, as_json: bool) -> int:
    """The whole sales cycle against a local receiver: all 30 events, delivered and verified."""
    from .demo import render, run_demo

    results = run_demo(app.database_url if app.given else None, console=None if as_json else app.console)
    if as_json:
        app.json([r.to_dict() for r in results])
    else:
        render(results, app.console)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    main()
