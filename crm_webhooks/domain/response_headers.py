"""A receiver's response headers as history keeps them: bounded, and text, whatever it sent.

A receiver is anybody's server: it may answer with dozens of headers, kilobytes
in each, or bytes that are not text.  History keeps the first ``MAX_HEADERS``,
each name and value cut to its limit (ending in "…"), ``MAX_TOTAL`` characters
in all; bytes that are not UTF-8 become U+FFFD, and so do control characters
(PostgreSQL's text refuses NUL; a terminal or a log acts on the others).

The same function reads them back from the database, which may have been
written by anyone: what is shown is bounded too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

MAX_HEADERS = 50
MAX_NAME = 100
MAX_VALUE = 1000
MAX_TOTAL = 8000  # characters of names and values together

Headers = tuple[tuple[str, str], ...]

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Made once: json.dumps with options builds an encoder per call, a cost on every attempt.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def kept(headers: Iterable[tuple[str | bytes, str | bytes]], *, latin_1: bool = False) -> Headers:
    """``(name, value)`` pairs as received, bounded for history.

    Raw bytes are read as UTF-8.  ``latin_1``: the text is bytes decoded as Latin-1, as
    http.client does, and is read again as UTF-8 like the bytes aiohttp gives.
    """
    pairs: list[tuple[str, str]] = []
    room = MAX_TOTAL
    for raw_name, raw_value in headers:
        if len(pairs) == MAX_HEADERS or room <= 0:
            break
        name = _text(raw_name, MAX_NAME, latin_1)
        if len(name) >= room:
            break
        value = _text(raw_value, min(MAX_VALUE, room - len(name)), latin_1)
        room -= len(name) + len(value)
        pairs.append((name, value))
    return tuple(pairs)


def _text(raw: str | bytes, limit: int, latin_1: bool) -> str:
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "replace")
    elif latin_1 and not raw.isascii():
        text = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    else:
        text = raw
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(text: str) -> str:
    """Control characters (C0, DEL, C1) as U+FFFD: nothing a terminal or a page would act on."""
    if text.isprintable():  # the common case (printable ASCII) skips the substitution
        return text
    return _CONTROL.sub("\ufffd", text)


def to_json(headers: Headers | None) -> str | None:
    """The column's text: a JSON list of ``[name, value]`` pairs, in the order received."""
    return None if headers is None else _ENCODER.encode(headers)


def from_json(stored: str | None) -> Headers | None:
    """The pairs back from the column; anything else than a list of pairs of text reads as none."""
    if not stored:
        return None
    try:
        found = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(found, list):
        return None
    pairs = [p for p in found if isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)]
    return kept((name, value) for name, value in pairs)
