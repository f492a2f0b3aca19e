"""What every command line of the CRM and its addons shares: one-line errors, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click
from rich.text import Text

from .errors import CRMError

T = TypeVar("T")

# Bidirectional controls reorder what follows them on screen: "\u202eexe.txt" shows as "txt.exe".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _acts_on_terminal(char: str) -> bool:
    # C0 (ESC starts every escape sequence), DEL and C1 (0x9b is a one-byte CSI on some terminals);
    # U+2028 and U+2029 (Zl, Zp) end a line for Python's splitlines and for editors.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI


def visible(value: object, *, newlines: bool = False) -> str:
    """``value`` as text a terminal only shows: control and bidi characters written as escapes
    (``\\x1b``, ``\\u202e``); line breaks too unless ``newlines`` (multi-line text)."""
    text = str(value)
    if text.isprintable():  # the common case, at no cost
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if _acts_on_terminal(char) and not (newlines and char == "\n")
        else char
        for char in text
    )


def plain(value: object, *, newlines: bool = False) -> Text:
    """Data for a rich console: a Text is never read as markup (``[/]``) or emoji codes
    (``:tada:``), and its control characters are made ``visible``."""
    return Text(visible(value, newlines=newlines))


def json_text(value: Any, **dumps: Any) -> str:
    """JSON for a terminal: the same data, with what ``json`` leaves raw of the characters a
    terminal acts on (DEL, C1, bidi controls) written as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False, **dumps)
    # A raw line break is json's own indentation: inside strings it is already "\\n".
    return "".join(f"\\u{ord(char):04x}" if char != "\n" and _acts_on_terminal(char) else char for char in text)


class OneLineErrors(click.Group):
    """Turns every failure into ``error: <what>`` on one line and exit code 1 (2 for usage)."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        extra.pop("standalone_mode", None)
        debug = "--debug" in (sys.argv[1:] if args is None else list(args))
        try:
            result = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            _fail("aborted", 130 if sys.exc_info()[0] is KeyboardInterrupt else 1)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except CRMError as exc:
            _fail(str(exc), 1)
        except Exception as exc:  # the promise: no traceback unless asked for
            if debug:
                raise
            _fail(describe_error(exc), 1)
        sys.exit(result if isinstance(result, int) else 0)


class Seconds(click.FloatRange):
    """A number of seconds from ``low`` to ``high``: click's FloatRange lets "nan" through (no
    comparison with it is true), and a NaN wait is one that never ends."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return number


def describe_error(exc: BaseException) -> str:
    """An exception in one line: a database's first line of its own words, else its type and text."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"database: {detail}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _fail(message: str, code: int) -> None:
    from .logs import logging_json

    line = " ".join(message.split())
    if logging_json():  # a log shipper reading standard error gets the reason as one more record
        logging.getLogger("cli").error("%s", line)
    else:
        click.echo(f"error: {visible(line)}", err=True)
    sys.exit(code)


def ask(question: Callable[[], T], *, unanswered: str) -> T:
    """The answer to a click prompt. No answer at all, a closed or empty standard input as under
    cron or CI, is one line saying ``unanswered`` (what happened, what to give instead), never a wait."""
    try:
        return question()
    except click.Abort as exc:
        if isinstance(exc.__context__, EOFError):  # click turns the end of input into an Abort
            raise click.ClickException(f"no answer on standard input: {unanswered}") from None
        raise


def confirm(question: str, *, unanswered: str) -> None:
    """Go on only after a yes; a no aborts (exit 1)."""
    if not ask(lambda: click.confirm(visible(question)), unanswered=unanswered):
        raise click.Abort()


def columns(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows under a header row, each column as wide as its widest cell; data made ``visible``."""
    table = [list(headers), *([visible(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)


def when(moment: dt.datetime | None) -> str:
    """A stored time (naive UTC, as the CRM keeps them), saying its zone; None is "never"."""
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """``1 delivery``, ``2 deliveries``: a count with its noun, in English."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def database_url_option(f: Any) -> Any:
    from .crm import DEFAULT_DATABASE_URL

    return click.option(
        "--database-url",
        envvar="CRM_DATABASE_URL",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        help="SQLAlchemy URL of the CRM database (env: CRM_DATABASE_URL).",
    )(f)
