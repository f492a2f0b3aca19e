"""An attempt's stored error reads back as the message it was written from, in either language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.support import Translations

from crm_webhooks.domain.attempt_errors import (
    BODY_TEMPLATE,
    BROKEN_BODY,
    CONDITION,
    NOT_HTTPS,
    REDIRECT_TO,
    REFUSED,
    TIMED_OUT,
    UNRESOLVED,
    read,
    written,
)

PT = Translations.load(Path(__file__).resolve().parents[2] / "crm_webhooks" / "translations", ["pt_BR"])


@pytest.mark.parametrize(
    ("stored", "portuguese"),
    [
        (written(REFUSED), "conexão recusada"),
        (written(TIMED_OUT, seconds="1.5"), "tempo esgotado após 1.5 s"),
        (
            written(UNRESOLVED, why="[Errno -2] Name or service not known"),
            "não foi possível resolver o host: [Errno -2]",
        ),
        (written(NOT_HTTPS, why="wrong version number"), "falha no handshake TLS: wrong version number (o receptor"),
        (
            written(REDIRECT_TO, location="http://x/?a=%(b)s"),
            "redirecionamentos não são seguidos (Location: http://x/?a=%(b)s)",
        ),
        (
            written(BROKEN_BODY, why=written(TIMED_OUT, seconds="10")),
            "falha ao ler a resposta: tempo esgotado após 10 s",
        ),
        (
            written(BODY_TEMPLATE, why="line 2: ZeroDivisionError: division by zero"),
            "modelo de corpo: linha 2: ZeroDivisionError: division by zero",
        ),
        (written(BODY_TEMPLATE, why="took longer than 200 ms"), "modelo de corpo: took longer"),
        (
            written(CONDITION, why="line 1: TypeError: unsupported operand"),
            "condição: linha 1: TypeError: unsupported operand",
        ),
        ("a receiver's own 100% words", "a receiver's own 100% words"),  # no kind of ours: as it was stored
        ("", ""),
    ],
)
def test_a_stored_error_reads_back_in_portuguese(stored: str, portuguese: str) -> None:
    message = read(stored)
    assert str(message) == stored
    assert message.render(PT.gettext, PT.ngettext).startswith(portuguese)
