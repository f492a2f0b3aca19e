"""Text fields as people send them: what kind of value came instead, and how long it may be."""

from __future__ import annotations

import json

from ..exceptions import ValidationError
from .messages import N_


def kind(value: object) -> str:
    """What a JSON value is, in a message id of its own (each translated whole)."""
    if value is None:
        return N_("expected text, got null")
    if isinstance(value, bool):
        return N_("expected text, got true or false")
    if isinstance(value, int | float):
        return N_("expected text, got a number")
    if isinstance(value, list | tuple):
        return N_("expected text, got a list")
    if isinstance(value, dict):
        return N_("expected text, got an object")
    return N_("expected text")


def shown(value: object) -> str:
    """A value as an answer quotes it back: JSON's words for JSON's values, and never all of a long one."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a structure that contains itself
        text = type(value).__name__
    return text if len(text) <= 40 else text[:40] + "…"


def storable(field: str, value: str) -> str:
    """``value`` unless it holds a NUL, which PostgreSQL's text refuses (a 500 at save, not a 422)."""
    if "\x00" in value:
        raise ValidationError(field, N_("must not contain NUL characters"))
    return value


def text(field: str, value: object, *, required: bool = True) -> str:
    """``value`` as stripped text, or the error saying why it is none."""
    if isinstance(value, str):
        if value.strip() or not required:
            return value.strip()
        raise ValidationError(field, N_("required"))
    if value is None and required:
        raise ValidationError(field, N_("required"))
    raise ValidationError(field, kind(value))


def at_most(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValidationError(
            field, N_("at most %(limit)s characters (got %(length)s)"), limit=limit, length=len(value)
        )
    return value
