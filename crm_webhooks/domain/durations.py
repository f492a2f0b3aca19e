"""``2h``, ``30m``, ``7d`` and ISO 8601 moments, read alike by the CLI, the API and the pages.

Stored times are naive UTC (``crm_stub.models.utcnow``), so a moment comes out
naive UTC too: one given with a zone is converted, one without is taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import re

from ..exceptions import ValidationError
from .messages import N_

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw])\s*")  # ASCII digits: not "٢h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
FURTHER_THAN_ANY_DATE = N_("%(value)s goes back further than any date")


def parse_duration(value: str, *, field: str = "duration") -> dt.timedelta:
    """``90s``, ``30m``, ``2h``, ``7d``, ``1w``; anything else names ``field``."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValidationError(field, N_("%(value)s is not a duration like 90s, 30m, 2h, 7d"), value=_shown(value))
    try:
        return dt.timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    except OverflowError:  # "99999999999w": more than datetime can count
        raise ValidationError(field, FURTHER_THAN_ANY_DATE, value=_shown(value)) from None


def format_duration(span: dt.timedelta) -> str:
    """A duration as one is typed: ``30d``, ``12h``, ``90s`` (the largest unit it is a whole number of)."""
    seconds = span.total_seconds()
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _shown(value: object) -> str:
    """The value in a message: a megabyte of text typed into a field is not worth echoing whole."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def parse_since(value: str | dt.datetime, *, now: dt.datetime, field: str = "since") -> dt.datetime:
    """A duration ago (``2h``: two hours before ``now``) or an ISO 8601 date/time, as naive UTC."""
    if isinstance(value, dt.datetime):
        return naive_utc(value)
    if not isinstance(value, str):
        raise ValidationError(field, N_("a duration like 2h, 30m, 7d or an ISO 8601 date/time, as text"))
    if _DURATION.fullmatch(value):
        try:
            return now - parse_duration(value, field=field)
        except OverflowError:
            raise ValidationError(field, FURTHER_THAN_ANY_DATE, value=_shown(value)) from None
    try:
        # Python 3.11 reads "Z" and dates alone ("2026-01-15": its midnight).
        return naive_utc(dt.datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):  # "2026-01-01T00:00+23:59" near year 1 overflows once converted
        raise ValidationError(
            field, N_("%(value)s is neither a duration like 2h, 30m, 7d nor an ISO 8601 date/time"), value=_shown(value)
        ) from None
