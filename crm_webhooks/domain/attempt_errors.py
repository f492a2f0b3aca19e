"""Why an attempt got no good answer, in words the engine writes and a page reads back in its language.

The engine stores an attempt's error as English text (the API, the CLI and logs show it as
it is).  Each kind of error is one message id here: the engine fills it in with
``written``, and ``read`` finds which id a stored text came from, with its parameters, so a
pt-BR page can say it in Portuguese.  Text of no known kind is shown as it was stored.
"""

from __future__ import annotations

import re
from typing import Any

from .messages import N_, Message

REFUSED = N_("connection refused")
TIMED_OUT = N_("timed out after %(seconds)s s")
UNRESOLVED = N_("could not resolve the host: %(why)s")
NO_CONNECTION = N_("failed to connect to %(host)s:%(port)s: %(why)s")
BROKEN_BODY = N_("reading the response failed: %(why)s")
# After "HTTP 302: ", which needs no translating (and a page shows in its status badge).
REDIRECT_TO = N_("redirects are not followed (Location: %(location)s)")
REDIRECT = N_("redirects are not followed")
CERTIFICATE = N_("TLS certificate not accepted: %(why)s")
NOT_HTTPS = N_("TLS handshake failed: %(why)s (does the receiver speak HTTPS?)")
HANDSHAKE = N_("TLS handshake failed: %(why)s")
GUARDED = N_("refused by the network guard: %(why)s")
# The hook's body template failed to render (nothing was sent); ``why`` is the template's own error.
BODY_TEMPLATE = N_("body template: %(why)s")
# The hook's condition could not be evaluated on the event (the fan-out made a failed delivery of it).
CONDITION = N_("condition: %(why)s")
# How a template's error names its line (domain/templating.py): read inside BODY_TEMPLATE's ``why``.
AT_LINE = N_("line %(line)s: %(reason)s")

# The more specific of two that share a beginning comes first.
_KINDS = (REFUSED, TIMED_OUT, UNRESOLVED, NO_CONNECTION, BROKEN_BODY, REDIRECT_TO, REDIRECT, CERTIFICATE, NOT_HTTPS)
_KINDS += (HANDSHAKE, GUARDED, BODY_TEMPLATE, CONDITION, AT_LINE)
_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)s")
_PATTERNS = [(kind, re.compile(_PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(kind)), re.S)) for kind in _KINDS]
# Whose ``why`` is itself an attempt error worth reading.
_NESTED = {BROKEN_BODY, BODY_TEMPLATE, CONDITION}


def written(kind: str, **params: Any) -> str:
    """The stored (English) text of an error of this kind."""
    return kind % params


def read(text: str) -> Message:
    """The message a stored error text was written from; unknown text as it is."""
    for kind, pattern in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            params: dict[str, Any] = found.groupdict()
            if kind in _NESTED:
                params["why"] = read(params["why"])
            return Message(kind, params)
    return Message.verbatim(text)
