"""Login throttling: wrong passwords are counted per account and per address, and hashing is rationed.

A password check costs about 0.1 s of CPU and 32 MB (scrypt), so it is the one
thing an anonymous client can make the server do that is expensive.  Three
limits keep that in hand:

- an account (the e-mail as typed, existing or not) that had ``per_account``
  wrong passwords within ``window`` is refused until the oldest of them ages
  out, without checking the password, even a right one;
- an address (an IPv4 address, or an IPv6 client's /64) that had
  ``per_address`` wrong passwords within ``window`` likewise;
- at most ``hash_slots`` password checks run at once; a login that cannot get
  a slot within ``hash_wait`` seconds is told the server is busy.

The failures live in the CRM's database (``login_failures``), so every
process serving the same CRM shares them and a restart does not reset them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import and_, delete, select

from ..crm import CRM
from ..models import LoginFailure, utcnow


@dataclass(frozen=True)
class Limits:
    per_account: int = 10
    per_address: int = 50
    window: dt.timedelta = dt.timedelta(minutes=15)
    hash_slots: int = 2
    hash_wait: float = 5.0


@dataclass(frozen=True)
class Refusal:
    reason: str  # "account" or "address"
    retry_after: int  # seconds


def address_key(remote_addr: str | None) -> str:
    """What a client's failures are counted under: its IPv4 address, or its IPv6 /64 network.

    One IPv6 host usually has a whole /64 to pick addresses from.
    """
    try:
        ip = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def account_key(email: str) -> str:
    return email.strip().lower()[:320]


class LoginThrottle:
    def __init__(self, crm: CRM, limits: Limits | None = None) -> None:
        self._crm = crm
        self.limits = limits or Limits()
        self._slots = threading.BoundedSemaphore(self.limits.hash_slots)

    def refusal(self, account: str, address: str) -> Refusal | None:
        """Why a login from ``address`` for ``account`` may not be tried now, or None."""
        now = utcnow()
        since = now - self.limits.window
        with self._crm._read() as session:
            for reason, column, key, limit in (
                ("account", LoginFailure.account, account, self.limits.per_account),
                ("address", LoginFailure.address, address, self.limits.per_address),
            ):
                stmt = select(LoginFailure.at).where(column == key, LoginFailure.at > since).order_by(LoginFailure.at)
                times = list(session.scalars(stmt))
                if len(times) >= limit:
                    # Open again once few enough of them are older than the window.
                    frees_at = times[len(times) - limit] + self.limits.window
                    return Refusal(reason, max(1, math.ceil((frees_at - now).total_seconds())))
        return None

    def failed(self, account: str, address: str) -> None:
        """Count a wrong password, and forget failures older than the window."""
        now = utcnow()
        with self._crm.transaction() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.limits.window))
            session.add(LoginFailure(account=account, address=address, at=now))

    def succeeded(self, account: str, address: str) -> None:
        """The right password: this address's own mistakes on this account are forgiven (others' are not)."""
        with self._crm.transaction() as session:
            session.execute(
                delete(LoginFailure).where(and_(LoginFailure.account == account, LoginFailure.address == address))
            )

    @contextmanager
    def hashing_slot(self) -> Iterator[bool]:
        """True inside the block when a password check may run now, False when the server is too busy."""
        acquired = self._slots.acquire(timeout=self.limits.hash_wait)
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()
