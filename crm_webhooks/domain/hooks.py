"""What a hook is, what makes one valid, and how its status reads: no I/O here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import ValidationError
from .addresses import disguised_ipv4, parse_ip, refusal
from .catalog import BY_CODE

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# "record": a record's events reach the hook in the order they were committed (a later one
# waits while an earlier one of the same record is pending); "none": each goes when it can.
ORDERINGS = ("record", "none")
MAX_NAME, MAX_URL, MAX_KEY, MAX_VALUE = 100, 2048, 256, 4096
# Headers the addon sets itself, or that would break the request if overridden.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection"})
# Matched with fullmatch: a pattern ending in `$` also accepts a final newline ("X-Api-Key\n").
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Hook:
    id: int
    name: str
    event: str
    url: str
    method: str
    key: str | None
    value: str | None = field(repr=False)
    enabled: bool
    secret: str = field(repr=False)
    created_at: dt.datetime
    last_run_at: dt.datetime | None
    last_result: str | None
    consecutive_failures: int
    disabled_reason: str | None
    disabled_at: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None = None
    ordering: str = "record"
    # When a person last changed it (created, edited, enabled, disabled, secret rotated).
    updated_at: dt.datetime | None = None

    @property
    def status(self) -> str:
        """``disabled``, ``never_run``, ``succeeded`` or ``failing``."""
        if not self.enabled:
            return "disabled"
        if self.last_run_at is None:
            return "never_run"
        return "succeeded" if self.last_result == "succeeded" else "failing"

    @property
    def status_detail(self) -> str:
        """The status in words, with why and since when for a disabled hook."""
        if not self.enabled:
            since = f" since {self.disabled_at:%Y-%m-%d %H:%M} UTC" if self.disabled_at else ""
            return f"disabled{since}: {self.disabled_reason or 'by an admin'}"
        if self.status == "failing":
            return f"failing: {self.consecutive_failures} failed deliveries in a row"
        return self.status.replace("_", " ")

    @property
    def event_label(self) -> str:
        return BY_CODE[self.event].label_en

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON-ready; the header value and the secret are masked unless ``reveal``."""
        return {
            "id": self.id,
            "name": self.name,
            "event": self.event,
            "url": self.url,
            "method": self.method,
            "ordering": self.ordering,
            "key": self.key,
            "value": self.value if reveal else mask(self.value),
            "enabled": self.enabled,
            "status": self.status,
            "status_detail": self.status_detail,
            "last_run_at": _iso(self.last_run_at),
            "consecutive_failures": self.consecutive_failures,
            "disabled_reason": self.disabled_reason,
            "disabled_at": _iso(self.disabled_at),
            "secret": self.secret if reveal else mask(self.secret),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def mask(value: str | None) -> str | None:
    """Enough to recognise a value, not to use it: ``s3c…(6)``."""
    if value is None:
        return None
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:4]}…({len(value)})"


def validate_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("name", "required")
    value = value.strip()
    if len(value) > MAX_NAME:
        raise ValidationError("name", f"at most {MAX_NAME} characters (got {len(value)})")
    return value


def validate_event(value: object) -> str:
    if not isinstance(value, str) or value not in BY_CODE:
        raise ValidationError(
            "event", f"{value!r} is not an event of the catalog (e.g. 'sale.created'; see `crm-webhooks events`)"
        )
    return value


def validate_method(value: object) -> str:
    method = value.upper() if isinstance(value, str) else value
    if method not in METHODS:
        raise ValidationError("method", f"{value!r} is not one of {', '.join(METHODS)}")
    return method  # type: ignore[return-value]


def validate_url(value: object, *, allow_private: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url", "required")
    url = value.strip()
    if len(url) > MAX_URL:
        raise ValidationError("url", f"at most {MAX_URL} characters (got {len(url)})")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationError("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("url", f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("url", "must start with http:// or https://")
    if not parts.hostname:
        raise ValidationError("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url", "must not carry credentials; use the key/value header to authenticate")
    if port == 0:
        raise ValidationError("url", "port 0 is not a port")
    if parts.fragment:
        raise ValidationError("url", "must not have a #fragment (it is never sent)")
    ip = parse_ip(parts.hostname)
    if ip is not None:
        why = refusal(ip, allow_private=allow_private)
        if why:
            raise ValidationError("url", f"{ip} is {why}")
    # What resolvers would make of the host is known now: refused at save time, not first at send.
    hidden = disguised_ipv4(parts.hostname)
    if hidden is not None:
        why = refusal(hidden, allow_private=allow_private)
        meant = f"{why}" if why else f"write it as {hidden}"
        raise ValidationError("url", f"{parts.hostname!r} stands for {hidden}{', ' if why else ': '}{meant}")
    return url


def validate_header(key: object, value: object) -> tuple[str | None, str | None]:
    if key in (None, "") and value in (None, ""):
        return None, None
    if key in (None, ""):
        raise ValidationError("key", "required when a value is given")
    if value in (None, ""):  # an authentication header with nothing in it authenticates nothing
        raise ValidationError("value", "required when a key is given")
    if not isinstance(key, str) or not _TOKEN.fullmatch(key) or len(key) > MAX_KEY:
        raise ValidationError("key", f"{key!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)")
    lowered = key.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
        raise ValidationError("key", f"{key!r} is set by the webhook itself; choose another header (e.g. X-Api-Key)")
    if not isinstance(value, str):
        raise ValidationError("value", f"expected text, got {type(value).__name__}")
    if len(value) > MAX_VALUE:
        raise ValidationError("value", f"at most {MAX_VALUE} characters (got {len(value)})")
    if _BAD_VALUE.search(value):
        raise ValidationError("value", "must not contain line breaks, NUL or other control characters")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValidationError("value", "HTTP header values must be Latin-1 text") from None
    return key, value


def validate_enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("enabled", f"expected true or false, got {value!r}")
    return value


def validate_ordering(value: object) -> str:
    if value not in ORDERINGS:
        raise ValidationError("ordering", f"{value!r} is not one of {', '.join(ORDERINGS)}")
    return str(value)


FIELDS = ("name", "event", "url", "method", "key", "value", "enabled", "ordering")


def validate_fields(
    fields: dict[str, Any], *, allow_private: bool, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Clean the fields of a new hook (``current`` None) or the changed fields of an existing one.

    A new URL for a hook with a key/value header needs ``value`` in the same
    change (or ``key`` and ``value`` None to remove the header).
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValidationError(unknown[0], f"not a hook field (fields: {', '.join(FIELDS)})")
    merged = {**(current or {}), **fields}
    cleaned: dict[str, Any] = {}
    if current is None or "name" in fields:
        cleaned["name"] = validate_name(merged.get("name"))
    if current is None or "event" in fields:
        cleaned["event"] = validate_event(merged.get("event"))
    if current is None or "method" in fields:
        cleaned["method"] = validate_method(merged.get("method", "POST"))
    if current is None or "url" in fields:
        cleaned["url"] = validate_url(merged.get("url"), allow_private=allow_private)
    # Whoever may change a hook may not thereby read its header value: a new
    # destination gets the value only when it is entered again (or none at all).
    moved = current is not None and cleaned.get("url", current["url"]) != current["url"]
    if moved and current.get("value") is not None and "value" not in fields:  # type: ignore[union-attr]
        raise ValidationError(
            "value", "required again when the URL changes (or remove the header: key and value empty)"
        )
    if current is None or "key" in fields or "value" in fields:
        cleaned["key"], cleaned["value"] = validate_header(merged.get("key"), merged.get("value"))
    if current is None or "enabled" in fields:
        cleaned["enabled"] = validate_enabled(merged.get("enabled", True))
    if current is None or "ordering" in fields:
        cleaned["ordering"] = validate_ordering(merged.get("ordering", "record"))
    return cleaned
