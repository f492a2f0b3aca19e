"""The CRM's users: owners of records, actors of changes, admins of the system pages."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import CRMError, NotFound
from ..models import User
from ..snapshot import Snapshot
from .base import Service, text
from .base import email as _check_email


class UserService(Service[User]):
    model = User
    entity = "user"

    def create(self, name: str, email: str, *, is_admin: bool = False, password: str | None = None) -> Snapshot:
        """A user; with a password, one who can log in to the web UI."""
        address = _email("email", email)
        name = text("name", name, required=True)  # type: ignore[assignment]
        hashed = None if password is None else _hash(password)
        with self._crm.transaction() as session:
            if session.scalar(select(User.id).where(func.lower(User.email) == address.lower())) is not None:
                raise CRMError(f"email: {address!r} is already used by another user")
            user = User(name=name, email=address, is_admin=bool(is_admin), password_hash=hashed)
            session.add(user)
            session.flush()
            return self._commit(session, user, [])

    def set_password(self, user_id: int, password: str) -> None:
        hashed = _hash(password)
        with self._crm.transaction() as session:
            self._load(session, user_id, lock=True).password_hash = hashed

    def authenticate(self, address: str, password: str) -> Snapshot | None:
        """The user with this e-mail and password, or None (the same None for either mistake)."""
        with self._crm._read() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == (address or "").strip().lower()))
            if user is None or user.password_hash is None:
                check_password_hash(_DUMMY, password or "")  # the same time whether the user exists or not
                return None
            return Snapshot.of(user) if check_password_hash(user.password_hash, password or "") else None

    def get_by_email(self, address: str) -> Snapshot:
        with self._crm._read() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == address.strip().lower()))
            if user is None:
                raise NotFound("user", address)
            return Snapshot.of(user)


MIN_PASSWORD = 8


def _hash(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise CRMError(f"password: at least {MIN_PASSWORD} characters")
    return generate_password_hash(password)


_DUMMY = generate_password_hash("not a password anyone has")


def _email(field: str, value: object) -> str:
    address = _check_email(field, value)
    if address is None:
        raise CRMError(f"{field}: required")
    return address
