"""Which events a hook takes: codes of the catalog, and patterns over them.

A pattern stars one whole part of a code: ``lead.*`` (every event of leads),
``*.stage_changed`` (that change, on every entity) or ``*`` (everything).  A hook
keeps its patterns as written, to show and edit them, and the codes they stand for,
which the CRM's write path matches with one indexed lookup.

``*`` and ``*.<action>`` stand for the CRM's events only: the hooks' own operational
events (``webhook.failing``...) are taken by name or by ``webhook.*``.  A hook on ``*``
syncs the CRM's data somewhere, and a hook's health is no record of that data.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import Problems, ValidationError
from .catalog import BY_CODE, CATALOG, ENTITIES, GROUPED, OPERATIONAL_ENTITY
from .inputs import shown
from .messages import N_, Message

EVERY = "*"
MAX_EVENTS = len(CATALOG) * 2  # every code and every pattern fit, and a little more
# Codes as menus show them: by entity as a sale goes, each entity's in the order of a record's life.
IN_ORDER: tuple[str, ...] = tuple(e.code for _, events in GROUPED for e in events)
# What a starred entity (``*``, ``*.created``) ranges over: the CRM's events.
_CRM_IN_ORDER: tuple[str, ...] = tuple(code for code in IN_ORDER if not code.startswith(OPERATIONAL_ENTITY + "."))
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(code.split(".", 1)[1] for code in _CRM_IN_ORDER))


def codes_of(pattern: str) -> tuple[str, ...]:
    """The codes a valid pattern (or code) stands for, in the menus' order."""
    entity, _, action = pattern.partition(".")
    return tuple(
        code
        for code in (_CRM_IN_ORDER if entity == EVERY else IN_ORDER)
        if pattern == EVERY
        or (
            (entity == EVERY or code.split(".", 1)[0] == entity)
            and (action == EVERY or code.split(".", 1)[1] == action)
        )
    )


def codes_of_all(patterns: Iterable[str]) -> tuple[str, ...]:
    """Every code the patterns stand for, once each, those of the first pattern first."""
    return tuple(dict.fromkeys(code for pattern in patterns for code in codes_of(pattern)))


def matches(patterns: Iterable[str], code: str) -> bool:
    return code in codes_of_all(patterns)


def validate_pattern(value: object, field: str = "events") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            field, N_("each event is a code or a pattern such as 'lead.*', got %(value)s"), value=shown(value)
        )
    pattern = value.strip()
    if pattern in BY_CODE or pattern == EVERY:
        return pattern
    entity, dot, action = pattern.partition(".")
    if "*" not in pattern:
        raise ValidationError(
            field,
            N_("%(value)s is not an event of the catalog (e.g. 'sale.created'; see `crm-webhooks events`)"),
            value=shown(pattern),
        )
    if not dot or (entity == EVERY) == (action == EVERY) or "*" in (entity if action == EVERY else action):
        raise ValidationError(
            field,
            N_("%(value)s: a pattern stars a whole part, once ('lead.*', '*.created' or '*')"),
            value=shown(pattern),
        )
    if action == EVERY and entity not in ENTITIES:
        raise ValidationError(
            field,
            N_("%(value)s: no such entity (entities: %(choices)s)"),
            value=shown(pattern),
            choices=", ".join(ENTITIES),
        )
    if entity == EVERY and action not in ACTIONS:
        raise ValidationError(
            field,
            N_("%(value)s: no event ends in .%(action)s (endings: %(choices)s)"),
            value=shown(pattern),
            action=action,
            choices=", ".join(ACTIONS),
        )
    return pattern


def validate_events(value: object) -> tuple[str, ...]:
    """A non-empty list of codes and patterns, each checked, repeats dropped, in the order given."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValidationError("events", N_("a list of event codes or patterns, e.g. ['lead.*', 'sale.created']"))
    if not value:
        raise ValidationError("events", N_("at least one event"))
    if len(value) > MAX_EVENTS:
        raise ValidationError(
            "events", N_("at most %(limit)s events (got %(count)s)"), limit=MAX_EVENTS, count=len(value)
        )
    problems = Problems()
    cleaned = [problems.check(validate_pattern, item) for item in value]
    problems.raise_any()
    return tuple(dict.fromkeys(cleaned))


def describe(pattern: str) -> Message:
    """A pattern in words; a code's label comes from the catalog instead."""
    if pattern == EVERY:
        return Message(N_("Every event"))
    entity, _, action = pattern.partition(".")
    if action == EVERY:
        return Message(N_("Every event of %(entity)s"), {"entity": Message(ENTITY_WORDS[entity])})
    return Message(N_("Every “%(action)s” event"), {"action": Message(ACTION_WORDS[action])})


ACTION_WORDS = {
    "created": N_("created"),
    "updated": N_("edited"),
    "stage_changed": N_("stage changed"),
    "reassigned": N_("reassigned"),
    "follow_up_added": N_("follow-up"),
    "tagged": N_("tagged"),
    "shared": N_("shared"),
    "unshared": N_("unshared"),
    "archived": N_("archived"),
    "discarded": N_("discarded"),
    "reactivated": N_("reactivated"),
}
ENTITY_WORDS = {
    "lead": N_("leads"),
    "client": N_("clients"),
    "opportunity": N_("sales opportunities"),
    "quote": N_("quotes"),
    "sale": N_("sales"),
    "webhook": N_("webhooks"),
}
