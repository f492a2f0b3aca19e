"""Log lines of the long-running commands (``crm-stub serve``, ``crm-webhooks worker``), as text or JSON.

A call site gives its data once, as fields: ``log.info("attempt", extra={"delivery": 7, ...})``.
The text format writes them after the message as ``key=value``; the JSON format writes one
object a line, each field a key with its own type, for log shippers that should not parse text.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import click

from .clikit import json_text, visible

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"

# What every record carries; anything else on a record came from a call site's ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call site passed with ``extra``, in the order it gave them."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


def _text_value(value: Any) -> str:
    text = str(value)
    # Quoted when a reader could not tell where it ends, or when a terminal would act on it.
    if text and text.isprintable() and not any(c in text for c in ' "='):
        return text
    return json_text(text)


class TextFormatter(logging.Formatter):
    """The message, then each field as ``key=value``; a traceback under it, each line indented.

    A record is one line starting at the line's start, whatever its data hold: a message
    (a library's, such as Flask's "Exception on <path>") has its line breaks and control
    characters escaped, and a traceback's lines, an exception's text among them, are indented.
    """

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        # Not the record's cached exc_text: another handler's formatter may have written it raw.
        if record.exc_info:
            line += "\n" + _indented(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line

    def formatMessage(self, record: logging.LogRecord) -> str:
        shown = logging.makeLogRecord({**vars(record), "message": visible(record.message)})
        line = super().formatMessage(shown)
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields(record).items())
        return f"{line} {pairs}" if pairs else line


def _indented(text: str) -> str:
    return "\n".join(f"    {visible(part)}" for part in text.split("\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # A traceback's line breaks are escaped: one record stays one line.
        return json_text(line, default=str)


def configure(log_format: str, *, level: int = logging.INFO) -> None:
    """Every log record of this process to standard error, in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Alembic announces each of its plugins at start: nothing an operator acts on.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(level, logging.WARNING))


def logging_json() -> bool:
    """Whether this process logs JSON to standard error: then its last word, an error, is JSON too."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def say(logger: logging.Logger, message: str, *args: object) -> None:
    """A line for whoever started the command: as it is at a terminal, one more record in JSON."""
    if logging_json():
        logger.info(message, *args)
    else:
        click.echo(visible(message % args), err=True)


def log_format_option(f: Any) -> Any:
    return click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        envvar="CRM_LOG_FORMAT",
        help="Log lines on standard error: text (key=value fields) or json (one object a line) (env: CRM_LOG_FORMAT).",
    )(f)
