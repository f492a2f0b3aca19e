"""API tokens: shown once at creation, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select

from ..errors import CRMError, InvalidTransition
from ..models import ApiToken, utcnow
from ..snapshot import Snapshot
from .base import Service, text

# Matched with fullmatch: a pattern ending in `$` also accepts a final newline.
_SCOPE = re.compile(r"[a-z][a-z0-9_]*:(read|write)")


def _digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, no salt or stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(scopes: str | list[str] | tuple[str, ...]) -> list[str]:
    items = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    if not items:
        raise CRMError("scopes: give at least one, e.g. webhooks:read,webhooks:write")
    for scope in items:
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
            raise CRMError(f"scopes: {scope!r} is not of the form area:read or area:write")
    return sorted(set(items))


class TokenService(Service[ApiToken]):
    model = ApiToken
    entity = "token"

    def create(self, name: str, scopes: str | list[str]) -> tuple[Snapshot, str]:
        """A new token and its plain text, which is never shown again."""
        name = text("name", name, required=True, max_length=100)  # type: ignore[assignment]
        granted = parse_scopes(scopes)
        plain = "crm_" + secrets.token_urlsafe(32)
        with self._crm.transaction() as session:
            row = ApiToken(name=name, prefix=plain[:10], token_hash=_digest(plain), scopes=" ".join(granted))
            session.add(row)
            session.flush()
            return Snapshot.of(row), plain

    def revoke(self, token_id: int) -> Snapshot:
        with self._crm.transaction() as session:
            row = self._load(session, token_id, lock=True)
            if row.revoked_at is not None:
                raise InvalidTransition(f"token {token_id} is already revoked")
            row.revoked_at = utcnow()
            session.flush()
            return Snapshot.of(row)

    def authenticate(self, plain: str) -> Snapshot | None:
        """The live token with this text, or None."""
        with self._crm._read() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
            if row is None or row.revoked_at is not None:
                return None
            return Snapshot.of(row)
