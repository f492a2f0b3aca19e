"""What every service shares: loading by id, writing in a transaction, raising events."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import CRMError, NotFound
from ..models import Base, User, utcnow
from ..snapshot import Snapshot

if TYPE_CHECKING:
    from ..crm import CRM

M = TypeVar("M", bound=Base)

# (event code, object, changes) triples a mutation returns; empty means "nothing changed".
Events = list[tuple[str, Any, dict[str, Any]]]


MAX_ID = 2**63 - 1


def check_id(entity: str, record_id: object) -> int:
    """An id a database can hold, else NotFound (a huge or non-integer id names no record)."""
    if isinstance(record_id, bool) or not isinstance(record_id, int) or not 0 <= record_id <= MAX_ID:
        raise NotFound(entity, record_id)
    return record_id


class Service(Generic[M]):
    model: type[M]
    entity: str

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def _load(self, session: Session, record_id: int, *, lock: bool = False) -> M:
        # FOR UPDATE on PostgreSQL serialises concurrent changes of one record;
        # SQLite's BEGIN IMMEDIATE already does.
        obj = session.get(self.model, check_id(self.entity, record_id), with_for_update=lock or None)
        if obj is None:
            raise NotFound(self.entity, record_id)
        return obj

    def get(self, record_id: int) -> Snapshot:
        with self._crm._read() as session:
            return Snapshot.of(self._load(session, record_id))

    def list(self, **filters: Any) -> list[Snapshot]:
        """Records whose columns equal the given values, oldest first."""
        for key in filters:
            if key not in self.model.__table__.columns:
                raise CRMError(f"{key}: not a {self.entity} field")
        stmt = select(self.model).filter_by(**filters).order_by(self.model.id)  # type: ignore[attr-defined]
        with self._crm._read() as session:
            return [Snapshot.of(obj) for obj in session.scalars(stmt)]

    def _commit(self, session: Session, obj: Any, events: Events) -> Snapshot:
        """Flush, raise the events inside the transaction, and snapshot ``obj``."""
        session.flush()
        for code, target, changes in events:
            self._crm.emit(session, code, target, changes)
        return Snapshot.of(obj)

    def _change(self, record_id: int, mutate: Callable[[Session, M], Events]) -> Snapshot:
        """Load the record locked, let ``mutate`` change it, raise what it reports."""
        with self._crm.transaction() as session:
            obj = self._load(session, record_id, lock=True)
            events = mutate(session, obj)
            if events and hasattr(obj, "updated_at"):
                obj.updated_at = utcnow()
            return self._commit(session, obj, events)

    def _user(self, session: Session, user_id: int | None) -> int | None:
        if user_id is not None and session.get(User, user_id) is None:
            raise NotFound("user", user_id)
        return user_id


def text(field: str, value: object, *, required: bool = False, max_length: int = 200) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CRMError(f"{field}: required")
        return None
    if not isinstance(value, str):
        raise CRMError(f"{field}: expected text, got {type(value).__name__}")
    value = value.strip()
    if len(value) > max_length:
        raise CRMError(f"{field}: at most {max_length} characters")
    return value


def email(field: str, value: object) -> str | None:
    value = text(field, value, max_length=320)
    if value is not None and ("@" not in value or value.startswith("@") or value.endswith("@")):
        raise CRMError(f"{field}: {value!r} is not an e-mail address")
    return value


def decimal(field: str, value: object, *, places: str = "0.01", positive: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise CRMError(f"{field}: expected a number, got {type(value).__name__}")
    try:
        # str() first so that 0.1 means 0.1, not its binary approximation.
        number = Decimal(str(value)).quantize(Decimal(places))
    except InvalidOperation:
        raise CRMError(f"{field}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise CRMError(f"{field}: must be {'greater than' if positive else 'at least'} 0")
    return number


def json_value(field: str, value: object) -> object:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise CRMError(f"{field}: must be a JSON value (text, number, list, mapping)") from None
    return value
