"""The addon's install options, checked once so a typo fails at install, not at 3 a.m."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import ValidationError
from .operational import DEFAULT_WARN_AT_SHARE, warn_after

DISPATCHERS = ("thread", "manual", "none")
# Seconds before each retry: seven retries spread over about a day (the
# schedule Svix uses), so a receiver that is down for an afternoon still gets
# everything.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
# Minutes between probes of a disabled hook: from a fraction of a second (what tests wait for) to a week.
PROBE_MINUTES = (0.01, 7 * 24 * 60)


@dataclass(frozen=True)
class Options:
    allow_private_networks: bool = False
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    # Jitter spreads retries of many hooks that failed together; explicit delays stay exact.
    retry_jitter: float = 0.1
    timeout: float = 10.0
    disable_after_failures: int | None = 5
    # The share of disable_after_failures at which webhook.failing warns that a hook is on its way there.
    warn_at_share: float = DEFAULT_WARN_AT_SHARE
    dispatcher: str = "thread"
    # Attempts the in-process "thread" dispatcher keeps in flight: one slow or dead receiver
    # then takes at most half of them, and the others' deliveries go on.
    dispatcher_concurrency: int = 8
    secret_grace_hours: float = 24.0
    # Minutes between test sends to a hook disabled for its failures, which a 2xx enables again
    # (domain/probing.py); None: never, a person enables it.
    probe_disabled_every: float | None = None

    @property
    def warn_after_failures(self) -> int | None:
        """Failed deliveries in a row that raise webhook.failing; None when hooks are never disabled."""
        return warn_after(self.disable_after_failures, self.warn_at_share)

    @classmethod
    def parse(cls, **options: Any) -> Options:
        unknown = sorted(set(options) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValidationError(
                unknown[0], f"not an option of crm_webhooks (options: {', '.join(cls.__dataclass_fields__)})"
            )
        values: dict[str, Any] = {}
        if "allow_private_networks" in options:
            values["allow_private_networks"] = _bool("allow_private_networks", options["allow_private_networks"])
        if "retry_delays" in options:
            values["retry_delays"] = _delays(options["retry_delays"])
            values["retry_jitter"] = 0.0
        if "retry_jitter" in options:
            values["retry_jitter"] = _number("retry_jitter", options["retry_jitter"], low=0, high=1)
        if "timeout" in options:
            values["timeout"] = _number("timeout", options["timeout"], low=0.001, high=600)
        if "disable_after_failures" in options:
            value = options["disable_after_failures"]
            # Bounded: the count is compared in SQL, where a 30-digit number overflows the column.
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000
            ):
                raise ValidationError(
                    "disable_after_failures", "a whole number from 1 to 1000000, or None to never disable"
                )
            values["disable_after_failures"] = value
        if "warn_at_share" in options:
            values["warn_at_share"] = _number("warn_at_share", options["warn_at_share"], low=0, high=1)
        if "dispatcher" in options:
            if options["dispatcher"] not in DISPATCHERS:
                raise ValidationError("dispatcher", f"{options['dispatcher']!r} is not one of {', '.join(DISPATCHERS)}")
            values["dispatcher"] = options["dispatcher"]
        if "dispatcher_concurrency" in options:
            value = options["dispatcher_concurrency"]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
                raise ValidationError("dispatcher_concurrency", f"a whole number from 1 to 256, got {value!r}")
            values["dispatcher_concurrency"] = value
        if "secret_grace_hours" in options:
            values["secret_grace_hours"] = _number(
                "secret_grace_hours", options["secret_grace_hours"], low=0, high=24 * 30
            )
        if "probe_disabled_every" in options and options["probe_disabled_every"] is not None:
            values["probe_disabled_every"] = _number(
                "probe_disabled_every", options["probe_disabled_every"], low=PROBE_MINUTES[0], high=PROBE_MINUTES[1]
            )
        return cls(**values)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(name, f"expected True or False, got {value!r}")
    return value


def _number(name: str, value: Any, *, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ValidationError(name, f"expected a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _delays(value: Any) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) > 50:
        raise ValidationError("retry_delays", "expected a list of at most 50 delays in seconds")
    return tuple(_number("retry_delays", v, low=0, high=7 * 86_400) for v in value)
