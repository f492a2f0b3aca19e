"""The domain's messages in the language of the request (Flask-Babel picks it: ?lang, session, Accept-Language)."""

from __future__ import annotations

from flask_babel import get_translations

from crm_stub import NotFound

from ..domain.messages import N_, Message

# The addon's own ids; another entity's refusal (the host's) keeps the host's words.
_MISSING = {
    "hook": N_("hook %(id)s not found"),
    "delivery": N_("delivery %(id)s not found"),
    "replay": N_("replay %(id)s not found"),
}


def translate(message: Message) -> str:
    catalog = get_translations()
    return message.render(catalog.gettext, catalog.ngettext)


def missing(exc: NotFound) -> str:
    """What was not found, in the request's language."""
    if exc.entity in _MISSING:
        return translate(Message(_MISSING[exc.entity], {"id": exc.record_id}))
    return str(exc)
