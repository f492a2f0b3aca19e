"""The host's error hierarchy: one base, two refinements.

`CRMError` subclasses `ValueError` so that callers who only know the standard
library can still catch bad input; `NotFound` and `InvalidTransition` let them
tell an unknown id from an illegal move.
"""


class CRMError(ValueError):
    """Base of every error the CRM raises on purpose; nothing was changed."""


class NotFound(CRMError):
    """An id that names no record of the entity asked for."""

    def __init__(self, entity: str, record_id: object) -> None:
        super().__init__(f"{entity} {record_id!r} not found")
        self.entity = entity
        self.record_id = record_id


class InvalidTransition(CRMError):
    """A move the record's current state does not allow (archiving twice...)."""
