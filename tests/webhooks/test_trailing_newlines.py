"""Validation sees the whole value: a pattern ending in ``$`` also accepts a final newline."""

from __future__ import annotations

import pytest

from crm_stub import CRMError
from crm_webhooks import ValidationError

GOOD = {"name": "n", "event": "lead.created", "url": "http://127.0.0.1:8000/x", "key": "X-Api-Key", "value": "v"}

KEYS = ["X-Api-Key\n", "X-Api-Key\r", "\nX-Api-Key", "X-Api-Key\n\n", "X-Api-Key\x00"]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_a_header_key_with_a_line_break_is_refused_and_nothing_changes(webhooks, key: str) -> None:
    with pytest.raises(ValidationError, match="not a valid header name") as raised:
        webhooks.create_hook(**{**GOOD, "key": key})
    assert raised.value.field == "key" and webhooks.list_hooks() == []
    hook = webhooks.create_hook(**GOOD)
    with pytest.raises(ValidationError, match="not a valid header name"):
        webhooks.update_hook(hook.id, key=key)
    assert webhooks.get_hook(hook.id) == hook


@pytest.mark.parametrize("scope", ["webhooks:read\n", "webhooks:write\n", "\nwebhooks:read"])
def test_a_token_scope_with_a_line_break_is_refused(crm, scope: str) -> None:
    # As a list (from Python or JSON) a scope is not split on whitespace first.
    with pytest.raises(CRMError, match=r"^scopes: .* is not of the form area:read or area:write"):
        crm.tokens.create("t", [scope])
    assert crm.tokens.list() == []
