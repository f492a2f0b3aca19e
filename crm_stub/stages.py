"""Pipeline stages per kind of record: the defaults of the contract, or a CRM's own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import CRMError

DEFAULT_STAGES: dict[str, tuple[str, ...]] = {
    "lead": ("new", "contacted", "qualified", "unqualified"),
    "client": ("onboarding", "active", "at_risk", "loyal"),
    "opportunity": ("prospecting", "qualification", "proposal", "negotiation", "won", "lost"),
}

# Opportunities close on these; they mean something to the CRM beyond a label.
WON, LOST = "won", "lost"


class Stages:
    def __init__(self, overrides: Mapping[str, Sequence[str]] | None = None) -> None:
        stages = dict(DEFAULT_STAGES)
        for entity, names in (overrides or {}).items():
            if entity not in DEFAULT_STAGES:
                raise CRMError(f"stages: unknown entity {entity!r} (expected one of {', '.join(DEFAULT_STAGES)})")
            names = tuple(names)
            if not names or len(set(names)) != len(names):
                raise CRMError(f"stages: {entity} needs at least one stage and no duplicates")
            stages[entity] = names
        missing = {WON, LOST} - set(stages["opportunity"])
        if missing:
            raise CRMError(f"stages: opportunity stages must include {', '.join(sorted(missing))}")
        self._stages = stages

    def of(self, entity: str) -> tuple[str, ...]:
        return self._stages[entity]

    def initial(self, entity: str) -> str:
        return next(s for s in self._stages[entity] if s not in (WON, LOST))

    def check(self, entity: str, stage: object) -> str:
        if stage not in self._stages[entity]:
            raise CRMError(f"stage: {stage!r} is not a {entity} stage (known: {', '.join(self._stages[entity])})")
        return stage  # type: ignore[return-value]
