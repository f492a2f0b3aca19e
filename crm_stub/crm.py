"""The CRM object: a database, its services, its transactions and its addons."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from . import db
from .addons import Addons
from .errors import NotFound
from .models import Base, User
from .services import (
    ClientService,
    LeadService,
    OpportunityService,
    QuoteService,
    SaleService,
    TokenService,
    UserService,
)
from .signals import bus
from .stages import Stages

DEFAULT_DATABASE_URL = "sqlite:///crm.db"


class CRM:
    """A host CRM on one database.

    ``CRM()`` uses ``$CRM_DATABASE_URL``, else ``sqlite:///crm.db``.  Addons
    already installed in the database are loaded with their stored options;
    ``addons`` names more to install now.  ``addon_options`` overrides stored
    options for this process only (``{"crm_webhooks": {"dispatcher": "none"}}``).
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        addons: Sequence[str] = (),
        stages: Mapping[str, Sequence[str]] | None = None,
        addon_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.database_url = db.normalize_url(database_url or os.environ.get("CRM_DATABASE_URL") or DEFAULT_DATABASE_URL)
        self.stages = Stages(stages)
        self.engine = db.make_engine(self.database_url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._session: ContextVar[Session | None] = ContextVar(f"crm-session-{id(self)}", default=None)
        self._actor: ContextVar[int | None] = ContextVar(f"crm-actor-{id(self)}", default=None)
        Base.metadata.create_all(self.engine)

        self.users = UserService(self)
        self.leads = LeadService(self)
        self.clients = ClientService(self)
        self.opportunities = OpportunityService(self)
        self.quotes = QuoteService(self)
        self.sales = SaleService(self)
        self.tokens = TokenService(self)

        self.addons = Addons(self, addon_options)
        try:
            self.addons.load_installed()
            for name in addons:
                self.install_addon(name)
        except BaseException:
            self.close()
            raise

    # -- transactions -------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Group calls into one transaction; an exception rolls all of it back.

        Nested blocks (and every service call inside a block) run in a
        savepoint, so a failed inner call leaves the outer work untouched.
        """
        current = self._session.get()
        if current is not None:
            with current.begin_nested():
                yield current
            return
        with self.session_factory() as session, session.begin():
            token = self._session.set(session)
            try:
                yield session
            finally:
                self._session.reset(token)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A session for reading: the open transaction's, or a short read-only one."""
        current = self._session.get()
        if current is not None:
            yield current
            return
        with db.read_only(), self.session_factory() as session, session.begin():
            yield session

    @property
    def in_transaction(self) -> bool:
        return self._session.get() is not None

    # -- who is acting --------------------------------------------------------

    @contextmanager
    def acting_as(self, user_id: int | None) -> Iterator[None]:
        """Attribute the calls made inside the block to a user (``actor_id`` of events)."""
        if user_id is not None:
            with self._read() as session:
                if session.get(User, user_id) is None:
                    raise NotFound("user", user_id)
        token = self._actor.set(user_id)
        try:
            yield
        finally:
            self._actor.reset(token)

    @property
    def actor_id(self) -> int | None:
        return self._actor.get()

    def emit(self, session: Session, code: str, obj: Any, changes: Mapping[str, Any] | None = None) -> None:
        """Raise an event of the catalog inside the change's transaction."""
        bus.signal(code).send(self, session=session, obj=obj, changes=dict(changes or {}), actor_id=self.actor_id)

    # -- addons ---------------------------------------------------------------

    def install_addon(self, name: str, **options: Any) -> Any:
        """Install an addon into this database (idempotent) and return its object."""
        return self.addons.install(name, **options)

    # -- lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Stop the addons' threads and release every database connection."""
        if hasattr(self, "addons"):  # absent when __init__ failed early
            self.addons.close()
        self.engine.dispose()

    def __enter__(self) -> CRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CRM({self.engine.url.render_as_string(hide_password=True)!r})"
