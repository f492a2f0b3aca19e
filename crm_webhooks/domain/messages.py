"""Words the domain says to people, kept as message ids with parameters, translated at the surface.

The id of a message is its English text with ``%(name)s`` placeholders: English is what
``str()`` gives (the CLI, logs, the API by default), and a surface with a language hands the
id to gettext.  ``N_`` and ``Np_`` only mark ids for ``tools/i18n.py`` to extract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def N_(text: str) -> str:
    """Marks ``text`` as a message id; returns it unchanged."""
    return text


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a plural pair of message ids; returns it unchanged."""
    return singular, plural


def _english(text: str) -> str:
    return text


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


@dataclass(frozen=True)
class Message:
    """``text`` (or, with ``count``, the pair ``text``/``plural``) filled in with ``params``."""

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: int | None = None

    @classmethod
    def verbatim(cls, text: str) -> Message:
        """Text to show as it is, never looked up (an empty id would give the catalog's header)."""
        return cls("%(text)s", {"text": text})

    @classmethod
    def counted(cls, forms: tuple[str, str], count: int, **params: Any) -> Message:
        return cls(forms[0], {"count": count, **params}, plural=forms[1], count=count)

    def render(self, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
        if self.plural is not None and self.count is not None:
            template = ngettext(self.text, self.plural, self.count)
        else:
            template = gettext(self.text)
        if not self.params:  # text that came from elsewhere (an old stored reason) may hold a bare "%"
            return template
        params = {k: v.render(gettext, ngettext) if isinstance(v, Message) else v for k, v in self.params.items()}
        return template % params

    def __str__(self) -> str:
        return self.render()


def as_message(text: str | Message, params: Mapping[str, Any] | None = None) -> Message:
    return text if isinstance(text, Message) else Message(text, dict(params or {}))
