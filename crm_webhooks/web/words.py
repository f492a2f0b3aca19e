"""The domain's messages in the language of the request (Flask-Babel picks it: ?lang, session, Accept-Language)."""

from __future__ import annotations

from flask_babel import get_translations

from ..domain.messages import Message


def translate(message: Message) -> str:
    catalog = get_translations()
    return message.render(catalog.gettext, catalog.ngettext)
