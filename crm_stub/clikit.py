"""What every command line of the CRM and its addons shares: one-line errors, never a traceback."""

from __future__ import annotations

import sys
from typing import Any

import click

from .errors import CRMError


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
            _fail(_describe(exc), 1)
        sys.exit(result if isinstance(result, int) else 0)


def _describe(exc: BaseException) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"database: {detail}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def database_url_option(f: Any) -> Any:
    from .crm import DEFAULT_DATABASE_URL

    return click.option(
        "--database-url",
        envvar="CRM_DATABASE_URL",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        help="SQLAlchemy URL of the CRM database (env: CRM_DATABASE_URL).",
    )(f)
