"""The CRM's users: owners of records, actors of changes, admins of the system pages."""

from __future__ import annotations

from sqlalchemy import func, select

from ..errors import CRMError, NotFound
from ..models import User
from ..snapshot import Snapshot
from .base import Service, text
from .base import email as _check_email


class UserService(Service[User]):
    model = User
    entity = "user"

    def create(self, name: str, email: str, *, is_admin: bool = False) -> Snapshot:
        address = _email("email", email)
        name = text("name", name, required=True)  # type: ignore[assignment]
        with self._crm.transaction() as session:
            if session.scalar(select(User.id).where(func.lower(User.email) == address.lower())) is not None:
                raise CRMError(f"email: {address!r} is already used by another user")
            user = User(name=name, email=address, is_admin=bool(is_admin))
            session.add(user)
            session.flush()
            return self._commit(session, user, [])

    def get_by_email(self, address: str) -> Snapshot:
        with self._crm._read() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == address.strip().lower()))
            if user is None:
                raise NotFound("user", address)
            return Snapshot.of(user)


def _email(field: str, value: object) -> str:
    address = _check_email(field, value)
    if address is None:
        raise CRMError(f"{field}: required")
    return address
