"""The host CRM's tables, as SQLAlchemy 2 typed models.

Tags, shares and follow-ups hang off leads, clients and opportunities through
one table each, keyed by ``(entity, record_id)``, so that a new kind of record
gets them without new tables.  ``to_dict()`` is the record's public shape: it
is what a snapshot exposes and what an addon serialises into a payload.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, foreign, mapped_column, relationship

Money = Numeric(14, 2)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC; the database keeps naive UTC so SQLite and PostgreSQL agree."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def money(value: Decimal | None) -> str | None:
    # A string keeps cents exact for receivers in any language.
    return None if value is None else f"{value:.2f}"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __private__ = ("password_hash",)  # never in a snapshot

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "is_admin": self.is_admin,
            "created_at": iso(self.created_at),
        }


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("entity", "record_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))


class Share(Base):
    __tablename__ = "shares"
    __table_args__ = (UniqueConstraint("entity", "record_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class FollowUp(Base):
    """A call, meeting, e-mail or note logged against a record."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_record", "entity", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            f"{self.entity}_id": self.record_id,
            "record": {"type": self.entity, "id": self.record_id},
            "kind": self.kind,
            "note": self.note,
            "author_id": self.author_id,
            "created_at": iso(self.created_at),
        }


def _attached(owner: Any, target: type[Tag] | type[Share], name: str) -> Any:
    """The ``target`` rows hanging off a record through ``(entity, record_id)``."""
    return relationship(
        target,
        primaryjoin=lambda: and_(target.entity == owner.__entity__, foreign(target.record_id) == owner.id),
        cascade="all, delete-orphan",
        order_by=target.id,
        lazy="selectin",
        # Every kind of record writes the same record_id column; the entity tells them apart.
        overlaps=name,
    )


class _Tracked:
    """Columns every lifecycle record has: an owner, a stage, a status, tags and shares."""

    __entity__: str

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    stage: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr
    def tags(cls) -> Mapped[list[Tag]]:
        return _attached(cls, Tag, "tags")

    @declared_attr
    def shares(cls) -> Mapped[list[Share]]:
        return _attached(cls, Share, "shares")

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    @property
    def shared_with(self) -> list[int]:
        return [s.user_id for s in self.shares]

    def snapshot_extras(self) -> dict[str, Any]:
        return {"tags": self.tag_names, "shared_with": self.shared_with}

    def _common_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "stage": self.stage,
            "status": self.status,
            "tags": self.tag_names,
            "shared_with": self.shared_with,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class _Party(_Tracked):
    """Leads and clients: people or companies with contact details and custom fields."""

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(50), default=None)
    discard_reason: Mapped[str | None] = mapped_column(Text, default=None)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._common_dict(),
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "discard_reason": self.discard_reason,
            "extra": dict(self.extra or {}),
        }


class Lead(_Party, Base):
    __tablename__ = "leads"
    __entity__ = "lead"

    converted_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "converted_client_id": self.converted_client_id}


class Client(_Party, Base):
    __tablename__ = "clients"
    __entity__ = "client"

    lead_id: Mapped[int | None] = mapped_column(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "lead_id": self.lead_id}


class Opportunity(_Tracked, Base):
    __tablename__ = "opportunities"
    __entity__ = "opportunity"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    lost_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Where a lost opportunity goes back to when it is reactivated.
    stage_before_close: Mapped[str | None] = mapped_column(String(50), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._common_dict(),
            "client_id": self.client_id,
            "title": self.title,
            "amount": money(self.amount),
            "lost_reason": self.lost_reason,
        }


class QuoteItem(Base):
    __tablename__ = "quote_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Money)

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "quantity": f"{self.quantity.normalize():f}",
            "unit_price": money(self.unit_price),
        }


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    total: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    items: Mapped[list[QuoteItem]] = relationship(cascade="all, delete-orphan", order_by=QuoteItem.id, lazy="selectin")

    def snapshot_extras(self) -> dict[str, Any]:
        return {
            "items": [
                {"description": i.description, "quantity": i.quantity, "unit_price": i.unit_price} for i in self.items
            ]
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "opportunity_id": self.opportunity_id,
            "total": money(self.total),
            "items": [item.to_dict() for item in self.items],
            "created_at": iso(self.created_at),
        }


class Sale(Base):
    __tablename__ = "sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), default=None)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "opportunity_id": self.opportunity_id,
            "client_id": self.client_id,
            "quote_id": self.quote_id,
            "amount": money(self.amount),
            "created_at": iso(self.created_at),
        }


class ApiToken(Base):
    """A bearer token for the REST API; only a hash of it is kept."""

    __tablename__ = "api_tokens"
    __private__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters, to recognise a token in a list without keeping it.
    prefix: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": self.scopes.split(),
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
        }


class InstalledAddon(Base):
    """An addon installed into this database, with the options it was installed with."""

    __tablename__ = "crm_addons"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(50))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A browser logged in to the web UI: its cookie carries a random token, this row the token's hash.

    Logging out deletes the row and a new password deletes all of the user's, so a
    copied cookie stops working then (a signed cookie alone would live on).
    """

    __tablename__ = "login_sessions"
    __private__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """A wrong password at the login form, kept for a while to throttle guessing.

    ``account`` is the e-mail as typed (lowercased), whether or not a user has
    it, so the throttle tells nothing about which accounts exist; ``address`` is
    the client's IP address (an IPv6 client's /64 network).
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account", "account", "at"),
        Index("ix_login_failures_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
