"""Secrets at rest: header values and signing secrets encrypted, each retired secret with its own grace.

- ``value`` and ``secret`` become Fernet tokens (``secret`` a TEXT column: a
  token is longer than the 100 characters it had);
- ``previous_secret`` and ``previous_secret_expires_at`` become
  ``retired_secrets``, one token of a list, so that a second rotation keeps
  the first secret signing until its own grace ends (one whose grace is over
  is not carried over);
- ``webhook_meta.key_canary`` lets a process with the wrong key stop at start.

The key is the configured one, else a key file generated now
(``crm_webhooks.encryption``).  The downgrade decrypts, with the same keys,
and keeps the newest retired secret as the previous one.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_stub.models import utcnow
from crm_webhooks import encryption
from crm_webhooks.domain.secrets import live
from crm_webhooks.migrations.rebuild import rebuilt

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_HOOKS = sa.table(
    "webhook_hooks",
    sa.column("id", sa.Integer),
    sa.column("value", sa.Text),
    sa.column("secret", sa.Text),
    sa.column("previous_secret", sa.Text),
    sa.column("previous_secret_expires_at", sa.DateTime),
    sa.column("retired_secrets", sa.Text),
)
H = _HOOKS.c
_SECRET_BEFORE = sa.String(100)


def _write(conn: sa.Connection, rows: list[dict]) -> None:
    if rows:  # the keys of the rows other than hook_id are the columns set
        conn.execute(sa.update(_HOOKS).where(H.id == sa.bindparam("hook_id")), rows)


def upgrade() -> None:
    conn = op.get_bind()
    keyring = encryption.for_new_secrets()
    rows = conn.execute(sa.select(H.id, H.value, H.secret, H.previous_secret, H.previous_secret_expires_at)).all()
    op.add_column("webhook_meta", sa.Column("key_canary", sa.Text(), nullable=True))
    with rebuilt("webhook_hooks") as batch:
        batch.add_column(sa.Column("retired_secrets", sa.Text(), nullable=True))
        batch.alter_column("secret", type_=sa.Text(), existing_type=_SECRET_BEFORE, existing_nullable=False)
        batch.drop_column("previous_secret")
        batch.drop_column("previous_secret_expires_at")
    now = utcnow()
    _write(
        conn,
        [
            {
                "hook_id": r.id,
                "value": None if r.value is None else keyring.encrypt(r.value),
                "secret": keyring.encrypt(r.secret),
                "retired_secrets": encryption.seal_retired(
                    keyring,
                    live(((r.previous_secret, r.previous_secret_expires_at),), now)
                    if r.previous_secret and r.previous_secret_expires_at
                    else (),
                ),
            }
            for r in rows
        ],
    )
    encryption.set_canary(conn, keyring)


def downgrade() -> None:
    conn = op.get_bind()
    keyring = encryption.configured()
    if keyring is None:
        raise encryption.EncryptionKeyError(f"the downgrade decrypts the secrets: set {encryption.KEYS_ENV}")
    rows = conn.execute(sa.select(H.id, H.value, H.secret, H.retired_secrets)).all()
    op.add_column("webhook_hooks", sa.Column("previous_secret", _SECRET_BEFORE, nullable=True))
    op.add_column("webhook_hooks", sa.Column("previous_secret_expires_at", sa.DateTime(), nullable=True))
    plain = []
    for r in rows:
        newest = live(encryption.open_retired(keyring, r.retired_secrets), utcnow())[-1:]
        previous, expires = newest[0] if newest else (None, None)
        plain.append(
            {
                "hook_id": r.id,
                "value": None if r.value is None else keyring.decrypt(r.value),
                "secret": keyring.decrypt(r.secret),
                "previous_secret": previous,
                "previous_secret_expires_at": expires,
            }
        )
    _write(conn, plain)  # before the column is narrowed again: a token does not fit in 100 characters
    with rebuilt("webhook_hooks") as batch:
        batch.drop_column("retired_secrets")
        batch.alter_column("secret", type_=_SECRET_BEFORE, existing_type=sa.Text(), existing_nullable=False)
    with op.batch_alter_table("webhook_meta") as batch:
        batch.drop_column("key_canary")
