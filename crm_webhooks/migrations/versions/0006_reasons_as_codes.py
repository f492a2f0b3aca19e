"""Why a hook is disabled, stored as a code (crm_webhooks 0.4.0) and put in words where it is read.

0.3.0 stored English sentences ("disabled by an admin"), which a Portuguese page could
not translate.  Sentences this version recognises become codes; any other text (a reason
another tool wrote) stays as it is and is shown as it is.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The sentences of 0.3.0, fixed here: the domain's words may change, a migration's may not.
_SENTENCES = {
    "disabled by an admin": "admin",
    "created disabled": "created",
    "disabled automatically: the receiver answered 410 Gone": "gone",
}
_AFTER = re.compile(r"disabled automatically after (\d+) failed deliveries in a row")
_HOOKS = sa.table("webhook_hooks", sa.column("id", sa.Integer), sa.column("disabled_reason", sa.Text))


def _rewrite(convert) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_HOOKS.c.id, _HOOKS.c.disabled_reason).where(_HOOKS.c.disabled_reason.is_not(None)))
    for hook_id, reason in rows.all():
        changed = convert(reason)
        if changed != reason:
            conn.execute(sa.update(_HOOKS).where(_HOOKS.c.id == hook_id).values(disabled_reason=changed))


def _to_code(reason: str) -> str:
    if reason in _SENTENCES:
        return _SENTENCES[reason]
    after = _AFTER.fullmatch(reason)
    return f"failures:{after[1]}" if after else reason


def _to_sentence(reason: str) -> str:
    sentences = {code: sentence for sentence, code in _SENTENCES.items()}
    if reason in sentences:
        return sentences[reason]
    if reason.startswith("failures:") and reason[9:].isdigit():
        return f"disabled automatically after {reason[9:]} failed deliveries in a row"
    return reason


def upgrade() -> None:
    _rewrite(_to_code)


def downgrade() -> None:
    _rewrite(_to_sentence)
