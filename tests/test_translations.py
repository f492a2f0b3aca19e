"""Every message of the web UI has its pt-BR translation, and the compiled catalogs are current."""

import subprocess
import sys
from pathlib import Path

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
            if message.id:
                assert message.string == TRANSLATIONS[message.id], message.id
