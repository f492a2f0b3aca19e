"""The addon's errors: bad input names its field; unknown ids are the host's NotFound."""

from __future__ import annotations

from crm_stub.errors import CRMError, InvalidTransition, NotFound


class ValidationError(CRMError):
    """Bad input for a hook or a call; ``field`` names what was wrong. Nothing was stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


__all__ = ["CRMError", "InvalidTransition", "NotFound", "ValidationError"]
