"""The CRM's users: owners of records, actors of changes, admins of the system pages."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import CRMError, NotFound
from ..models import LoginSession, User, utcnow
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

    def set_password(self, user_id: int, password: str) -> int:
        """A new password; every login session of the user ends with the old one (returns how many)."""
        hashed = _hash(password)
        with self._crm.transaction() as session:
            self._load(session, user_id, lock=True).password_hash = hashed
            return session.execute(delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount or 0

    # -- login sessions of the web UI ------------------------------------------------

    def start_session(self, user_id: int, lifetime: dt.timedelta) -> str:
        """A login session for the user, valid for ``lifetime``: the token its cookie carries.

        Only the token's SHA-256 is stored (it is 256 random bits, so a fast hash is
        enough), so a copy of the database opens no session.
        """
        plain = secrets.token_urlsafe(32)
        now = utcnow()
        with self._crm.transaction() as session:
            self._load(session, user_id)
            session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))  # sweep the expired
            session.add(
                LoginSession(user_id=user_id, token_hash=_digest(plain), created_at=now, expires_at=now + lifetime)
            )
        return plain

    def session_user(self, token: object) -> Snapshot | None:
        """The user of a live login session, or None (unknown, ended or expired)."""
        if not isinstance(token, str) or not token:
            return None
        stmt = (
            select(User)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.token_hash == _digest(token), LoginSession.expires_at > utcnow())
        )
        with self._crm._read() as session:
            user = session.scalar(stmt)
            return None if user is None else Snapshot.of(user)

    def end_session(self, token: object) -> None:
        """Log one session out (an unknown token is already out)."""
        if isinstance(token, str) and token:
            with self._crm.transaction() as session:
                session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))

    def end_sessions(self, user_id: int) -> int:
        """Log the user out everywhere; how many sessions ended."""
        with self._crm.transaction() as session:
            self._load(session, user_id)
            result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
            return result.rowcount or 0

    def authenticate(self, address: str, password: str) -> Snapshot | None:
        """The user with this e-mail and password, or None (the same None for either mistake)."""
        with self._crm._read() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == (address or "").strip().lower()))
            if user is None or user.password_hash is None:
                check_password_hash(_dummy(_method()), password or "")  # the same time whether the user exists or not
                return None
            return Snapshot.of(user) if check_password_hash(user.password_hash, password or "") else None

    def get_by_email(self, address: str) -> Snapshot:
        with self._crm._read() as session:
            user = session.scalar(select(User).where(func.lower(User.email) == address.strip().lower()))
            if user is None:
                raise NotFound("user", address)
            return Snapshot.of(user)


MIN_PASSWORD = 8


def check_password(password: object) -> str:
    """The host's rule for a password (at least ``MIN_PASSWORD`` characters): the password, or CRMError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise CRMError(f"password: at least {MIN_PASSWORD} characters")
    return password


# werkzeug's method for new password hashes (``scrypt`` by default: about 0.1 s of CPU a check).
# Test suites set a cheaper scrypt, as Django's do with their hashers; a stored hash names its
# own method, so changing this never locks anyone out.
PASSWORD_HASH_ENV = "CRM_PASSWORD_HASH"


def _method() -> str:
    return os.environ.get(PASSWORD_HASH_ENV) or "scrypt"


def _hash(password: object) -> str:
    checked = check_password(password)
    try:
        return generate_password_hash(checked, method=_method())
    except ValueError as error:
        raise CRMError(f"{PASSWORD_HASH_ENV}: {error}") from None


@functools.cache
def _dummy(method: str) -> str:
    """A hash nobody's password matches, checked for unknown accounts: made when first needed,
    not at import (it costs a whole hash), and with the method real hashes have."""
    try:
        return generate_password_hash("not a password anyone has", method=method)
    except ValueError:
        return generate_password_hash("not a password anyone has")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email(field: str, value: object) -> str:
    address = _check_email(field, value)
    if address is None:
        raise CRMError(f"{field}: required")
    return address
