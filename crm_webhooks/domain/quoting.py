"""How an answer quotes a wrong value back to whoever sent it."""

from __future__ import annotations

import json


def shown(value: object) -> str:
    """A value as an answer quotes it back: JSON's words for JSON's values, and never all of a long one."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a structure that contains itself
        text = type(value).__name__
    return text if len(text) <= 40 else text[:40] + "…"
