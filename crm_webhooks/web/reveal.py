"""A secret shown once, and again on a reload of that page, for a few minutes.

After a POST makes a secret (a new hook, a rotation) the browser is redirected
to a page that a GET shows; the signed session remembers which hook's secret it
may show, and until when. The cookie is signed, not encrypted, so it carries a
digest of the secret, never the secret: the page reads that from the database,
and shows nothing once the secret has changed since (rotated elsewhere).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from flask import session

KEY = "webhooks_reveal"
LIFETIME_S = 600


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def allow(hook: Any, *, created: bool) -> None:
    """Let this browser see ``hook``'s current secret for the next few minutes."""
    now = time.time()
    entries = {k: v for k, v in session.get(KEY, {}).items() if v[0] > now}
    entries[str(hook.id)] = [now + LIFETIME_S, _digest(hook.secret), created]
    session[KEY] = entries


def allowed(hook: Any) -> bool | None:
    """None if the secret may not be shown; else whether it was made with the hook (not rotated)."""
    entry = session.get(KEY, {}).get(str(hook.id))
    if not entry or entry[0] <= time.time() or not hmac.compare_digest(entry[1], _digest(hook.secret)):
        return None
    return bool(entry[2])
