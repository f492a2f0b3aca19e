"""Every message of the web UI has its pt-BR translation, and the compiled catalogs are current."""

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

ROOT = Path(__file__).resolve().parents[1]


def test_no_message_lacks_a_translation() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "i18n.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_compiled_catalogs_match_the_table() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from i18n import TRANSLATIONS
    finally:
        sys.path.pop(0)
    for package in ("crm_stub", "crm_webhooks"):
        with open(ROOT / package / "translations" / "pt_BR" / "LC_MESSAGES" / "messages.mo", "rb") as f:
            catalog = read_mo(f)
        assert len(catalog) > 5
        for message in catalog:
            if message.id:  # a plural message reads back as lists: (singular, plural) and its forms
                if message.pluralizable:  # (singular, plural) in the table, every form of the language here
                    singular, *others = message.string
                    assert (singular, *set(others)) == TRANSLATIONS[tuple(message.id)], message.id
                else:
                    assert message.string == TRANSLATIONS[message.id], message.id


@pytest.mark.parametrize(
    ("count", "english", "portuguese"),
    [
        (1, "1 failed delivery", "1 entrega com falha seguida"),
        (3, "3 failed deliveries", "3 entregas com falha seguidas"),
    ],
)
def test_counted_messages_take_the_plural_of_their_language(count, english, portuguese) -> None:
    from babel.support import Translations

    from crm_webhooks.domain.hooks import FAILED_IN_A_ROW
    from crm_webhooks.domain.messages import Message

    message = Message.counted(FAILED_IN_A_ROW, count)
    catalog = Translations.load(ROOT / "crm_webhooks" / "translations", ["pt_BR"])
    assert english in str(message)
    assert portuguese in message.render(catalog.gettext, catalog.ngettext)
