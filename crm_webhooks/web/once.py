"""A form that creates something, sent twice (Back and Send again, a second click), creates it once.

Each "Add Webhook" form carries a fresh token; the signed session remembers which hook
each token created, so the same form posted again leads to that hook's secret page
instead of a second hook.  (The page's script also stops a second click while the first
is on its way: two requests at the same instant would both find the token unused.)
"""

from __future__ import annotations

import secrets

from flask import session

KEY = "webhooks_created_by"
KEPT = 20  # the latest forms of this session; older ones are forgotten


def token() -> str:
    return secrets.token_urlsafe(16)


def created(form_token: str | None) -> int | None:
    """The hook this form already created, if it did."""
    return session.get(KEY, {}).get(form_token) if form_token else None


def remember(form_token: str | None, hook_id: int) -> None:
    if not form_token:
        return
    entries = dict(list(session.get(KEY, {}).items())[-(KEPT - 1) :])
    entries[form_token] = hook_id
    session[KEY] = entries
