"""What a hook is, what makes one valid, and how its status reads: no I/O here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import Problems, ValidationError
from .addresses import disguised_ipv4, parse_ip, refusal
from .catalog import BY_CODE
from .event_patterns import codes_of_all, validate_events
from .inputs import at_most as _at_most
from .inputs import kind as _kind
from .inputs import shown, storable
from .inputs import text as _text
from .messages import N_, Message, Np_, as_message
from .templating import DEFAULT_CONTENT_TYPE, validate_body_template, validate_condition

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# "record": a record's events reach the hook in the order they were committed (a later one
# waits while an earlier one of the same record is pending); "none": each goes when it can.
ORDERINGS = ("record", "none")
MAX_NAME, MAX_URL, MAX_KEY, MAX_VALUE = 100, 2048, 256, 4096
# Attempts a second a hook may be limited to, at most: past it, a limit would limit nothing a worker does.
MAX_PER_SECOND = 1000
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
    disabled_code: str | None  # why it was disabled, as stored: see reason_message()
    disabled_at: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None = None
    ordering: str = "record"
    # When a person last changed it (created, edited, enabled, disabled, secret rotated).
    updated_at: dt.datetime | None = None
    # Codes and patterns (``lead.*``) as written; ``event`` is the first code they stand for.
    events: tuple[str, ...] = ()
    # Sent only for the events it is true of (domain/templating.py); None: every event.
    condition: str | None = None
    skipped_by_condition: int = 0
    # The body as this template renders it, of this media type; None: the envelope, as JSON.
    body_template: str | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    # Attempts a second at most, across every worker; None: as fast as the workers go.
    max_per_second: float | None = None

    @property
    def patterns(self) -> tuple[str, ...]:
        """``events``, or the one ``event`` of a Hook made without them."""
        return self.events or (self.event,)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code of the catalog this hook takes."""
        return codes_of_all(self.patterns)

    @property
    def status(self) -> str:
        """``disabled``, ``never_run``, ``succeeded`` or ``failing``."""
        return status_of(self.enabled, self.last_run_at, self.last_result)

    @property
    def disabled_message(self) -> Message | None:
        return None if self.enabled else reason_message(self.disabled_code)

    @property
    def disabled_reason(self) -> str | None:
        """Why it is disabled, in English; None while enabled."""
        return None if self.enabled else str(reason_message(self.disabled_code))

    @property
    def status_message(self) -> Message:
        """The status in words: why and since when for a disabled hook, what is failing for a failing one."""
        if not self.enabled:
            reason = self.disabled_message
            if self.disabled_at is None:
                return reason  # type: ignore[return-value]
            return Message(
                N_("%(reason)s, since %(when)s UTC"), {"when": f"{self.disabled_at:%Y-%m-%d %H:%M}", "reason": reason}
            )
        if self.status == "failing":
            if self.consecutive_failures:
                return Message.counted(FAILED_IN_A_ROW, self.consecutive_failures)
            # Failed deliveries are counted once their retries are spent (and reset on enabling):
            # until then the last attempt failed and nothing has failed for good.
            return Message(N_("failing: the last attempt failed"))
        return Message(STATUS_WORDS[self.status])

    @property
    def status_detail(self) -> str:
        return str(self.status_message)

    @property
    def event_label(self) -> str:
        return BY_CODE[self.event].label_en

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON-ready; the header value and the secret are masked unless ``reveal``."""
        return {
            "id": self.id,
            "name": self.name,
            "event": self.event,
            "events": list(self.patterns),
            "url": self.url,
            "method": self.method,
            "ordering": self.ordering,
            "condition": self.condition,
            "skipped_by_condition": self.skipped_by_condition,
            "body_template": self.body_template,
            "content_type": self.content_type,
            "max_per_second": self.max_per_second,
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


def status_of(enabled: bool, last_run_at: dt.datetime | None, last_result: str | None) -> str:
    """A hook's status from its stored state: ``disabled``, ``never_run``, ``succeeded`` or ``failing``."""
    if not enabled:
        return "disabled"
    if last_run_at is None:
        return "never_run"
    return "succeeded" if last_result == "succeeded" else "failing"


STATUS_WORDS = {"never_run": N_("never run"), "succeeded": N_("succeeded"), "failing": N_("failing")}
FAILED_IN_A_ROW = Np_("failing: %(count)s failed delivery in a row", "failing: %(count)s failed deliveries in a row")

# Why a hook was disabled is stored as a code, put in words where it is read.
BY_ADMIN, CREATED_DISABLED, GONE = "admin", "created", "gone"
_FAILURES = "failures:"
_REASONS = {
    BY_ADMIN: N_("disabled by an admin"),
    CREATED_DISABLED: N_("created disabled"),
    GONE: N_("disabled automatically: the receiver answered 410 Gone"),
}
AFTER_FAILURES = Np_(
    "disabled automatically after %(count)s failed delivery in a row",
    "disabled automatically after %(count)s failed deliveries in a row",
)


_FAILURES_CODE = re.compile(r"failures:([0-9]{1,9})")
# What a worker of 0.3.0 still running beside this version writes (migration 0006 converts the rest).
_LEGACY = {
    "disabled by an admin": BY_ADMIN,
    "created disabled": CREATED_DISABLED,
    "disabled automatically: the receiver answered 410 Gone": GONE,
}
_FAILURES_SENTENCE = re.compile(r"disabled automatically after ([0-9]{1,9}) failed deliveries in a row")


# A hook disabled for its failures keeps taking events, held until it is enabled again: its
# receiver was down, and nobody chose to miss them (an admin's "disable" or a 410 Gone did).
HOLDS_EVENTS_LIKE = f"{_FAILURES}%"


def disabled_for_failures(code: str | None) -> bool:
    """Whether ``code`` says its failures disabled the hook (its receiver was down), not an admin or a 410."""
    return code is not None and code.startswith(_FAILURES)


def failures_reason(threshold: int) -> str:
    """The stored code for a hook disabled after ``threshold`` failed deliveries in a row."""
    return f"{_FAILURES}{threshold}"


def reason_message(code: str | None) -> Message:
    """A stored reason in words; text this version does not know is shown as it was stored."""
    code = _LEGACY.get(code, code) if code is not None else BY_ADMIN
    if code in _REASONS:
        return Message(_REASONS[code])
    count = _FAILURES_CODE.fullmatch(code) or _FAILURES_SENTENCE.fullmatch(code)
    if count:
        return Message.counted(AFTER_FAILURES, int(count[1]))
    return Message.verbatim(code)


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
    # The other texts refuse control characters in their own words; a name has no other rule.
    return _at_most("name", storable("name", _text("name", value)), MAX_NAME)


def validate_event(value: object) -> str:
    code = _text("event", value)
    if code not in BY_CODE:
        raise ValidationError(
            "event",
            N_("%(value)s is not an event of the catalog (e.g. 'sale.created'; see `crm-webhooks events`)"),
            value=shown(code),
        )
    return code


def validate_method(value: object) -> str:
    method = _text("method", value).upper()
    if method not in METHODS:
        raise ValidationError(
            "method", N_("%(value)s is not one of %(choices)s"), value=shown(value), choices=", ".join(METHODS)
        )
    return method


def validate_url(value: object, *, allow_private: bool) -> str:
    url = _at_most("url", _text("url", value), MAX_URL)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationError("url", N_("must not contain spaces or control characters"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # Python's own words for it are English and name its internals: say what to check instead.
        raise ValidationError(
            "url", N_("not a valid URL: check the host's brackets and that the port is a number from 1 to 65535")
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("url", N_("must start with http:// or https://"))
    if not parts.hostname:
        raise ValidationError("url", N_("must name a host"))
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url", N_("must not carry credentials; use the key/value header to authenticate"))
    if port == 0:
        raise ValidationError("url", N_("port 0 is not a port"))
    if parts.fragment:
        raise ValidationError("url", N_("must not have a #fragment (it is never sent)"))
    ip = parse_ip(parts.hostname)
    if ip is not None:
        why = refusal(ip, allow_private=allow_private)
        if why:
            raise ValidationError("url", N_("%(address)s is %(why)s"), address=str(ip), why=as_message(why))
    # What resolvers would make of the host is known now: refused at save time, not first at send.
    hidden = disguised_ipv4(parts.hostname)
    if hidden is not None:
        why = refusal(hidden, allow_private=allow_private)
        host, address = shown(parts.hostname), str(hidden)
        if why:
            raise ValidationError(
                "url", N_("%(host)s stands for %(address)s, %(why)s"), host=host, address=address, why=as_message(why)
            )
        raise ValidationError(
            "url", N_("%(host)s stands for %(address)s: write it as %(address)s"), host=host, address=address
        )
    return url


def validate_header(key: object, value: object) -> tuple[str | None, str | None]:
    """The key/value pair, both or neither; every error of the two at once."""
    if key in (None, "") and value in (None, ""):
        return None, None
    problems = Problems()
    if key in (None, ""):
        problems.add("key", N_("required when a value is given"))
    else:
        key = problems.check(_valid_key, key)
    if value in (None, ""):  # an authentication header with nothing in it authenticates nothing
        problems.add("value", N_("required when a key is given"))
    else:
        problems.check(_valid_value, value)
    problems.raise_any()
    return key, value  # type: ignore[return-value]


def _valid_key(key: object) -> str:
    name = _text("key", key, required=False)
    if not _TOKEN.fullmatch(key) or len(name) > MAX_KEY:  # type: ignore[arg-type]  # as given: " X-K " is no name
        raise ValidationError(
            "key", N_("%(value)s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)"), value=shown(key)
        )
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
        raise ValidationError(
            "key",
            N_("%(value)s is set by the webhook itself; choose another header (e.g. X-Api-Key)"),
            value=shown(key),
        )
    return key  # type: ignore[return-value]


def _valid_value(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("value", _kind(value))
    _at_most("value", value, MAX_VALUE)
    if _BAD_VALUE.search(value):
        raise ValidationError("value", N_("must not contain line breaks, NUL or other control characters"))
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValidationError("value", N_("HTTP header values must be Latin-1 text")) from None
    return value


def validate_enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("enabled", N_("expected true or false, got %(value)s"), value=shown(value))
    return value


def validate_ordering(value: object) -> str:
    if value not in ORDERINGS:
        raise ValidationError(
            "ordering", N_("%(value)s is not one of %(choices)s"), value=shown(value), choices=", ".join(ORDERINGS)
        )
    return str(value)


def validate_max_per_second(value: object) -> float | None:
    """None (or an empty form field): no limit; otherwise a number above 0, at most ``MAX_PER_SECOND``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: object = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = value
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not 0 < number <= MAX_PER_SECOND  # NaN fails this too
    ):
        raise ValidationError(
            "max_per_second",
            N_("expected a number above 0 and at most %(most)s, or none for no limit; got %(value)s"),
            most=MAX_PER_SECOND,
            value=shown(value),
        )
    return float(number)


FIELDS = (
    "name",
    "event",
    "events",
    "url",
    "method",
    "key",
    "value",
    "enabled",
    "ordering",
    "condition",
    "body_template",
    "content_type",
    "max_per_second",
)


def validate_fields(
    fields: dict[str, Any], *, allow_private: bool, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Clean the fields of a new hook (``current`` None) or the changed fields of an existing one.

    A new URL for a hook with a key/value header needs ``value`` in the same
    change (or ``key`` and ``value`` None to remove the header).
    """
    problems = Problems()
    for name in sorted(set(fields) - set(FIELDS)):
        problems.add(name, N_("not a hook field (fields: %(fields)s)"), fields=", ".join(FIELDS))
    merged = {**(current or {}), **fields}
    cleaned: dict[str, Any] = {}

    def clean(name: str, function: Any, *args: Any, **kwargs: Any) -> None:
        value = problems.check(function, *args, **kwargs)
        if not problems.has(name):
            cleaned[name] = value

    if current is None or "name" in fields:
        clean("name", validate_name, merged.get("name"))
    if "event" in fields and "events" in fields:
        problems.add("events", N_("give either event (one code) or events (a list), not both"))
    elif current is None or "event" in fields or "events" in fields:
        if "events" in fields:
            clean("events", validate_events, fields["events"])
        else:  # `event` stands for a list of that one code
            event = problems.check(validate_event, merged.get("event"))
            if event is not None:
                cleaned["events"] = (event,)
        if "events" in cleaned:
            cleaned["event"] = codes_of_all(cleaned["events"])[0]
    if current is None or "method" in fields:
        clean("method", validate_method, merged.get("method", "POST"))
    if current is None or "url" in fields:
        clean("url", validate_url, merged.get("url"), allow_private=allow_private)
    # Whoever may change a hook may not thereby read its header value: a new
    # destination gets the value only when it is entered again (or none at all).
    moved = current is not None and "url" in cleaned and cleaned["url"] != current["url"]
    if moved and current.get("value") is not None and "value" not in fields:  # type: ignore[union-attr]
        problems.add("value", N_("required again when the URL changes (or empty the key to send no header)"))
    elif current is None or "key" in fields or "value" in fields:
        pair = problems.check(validate_header, merged.get("key"), merged.get("value"))
        if pair is not None:
            cleaned["key"], cleaned["value"] = pair
    if current is None or "enabled" in fields:
        clean("enabled", validate_enabled, merged.get("enabled", True))
    if current is None or "ordering" in fields:
        clean("ordering", validate_ordering, merged.get("ordering", "record"))
    if current is None or "condition" in fields:
        clean("condition", validate_condition, merged.get("condition"))
    if current is None or "max_per_second" in fields:
        clean("max_per_second", validate_max_per_second, merged.get("max_per_second"))
    if current is None or "body_template" in fields or "content_type" in fields:
        shaped = problems.check(validate_body_template, merged.get("body_template"), merged.get("content_type"))
        if shaped is not None:
            cleaned["body_template"], cleaned["content_type"] = shaped
    if not problems.has("method") and not problems.has("body_template"):
        # Either may change: the method of a templated hook, or the template of a GET hook.
        method = cleaned.get("method", merged.get("method"))
        if method not in BODY_METHODS and cleaned.get("body_template", merged.get("body_template")) is not None:
            problems.add(
                "body_template",
                N_("a %(method)s request carries no body: use POST, PUT or PATCH, or remove the template"),
                method=method,
            )
    problems.raise_any()
    return cleaned
