"""The addon's errors: bad input names its field; unknown ids are the host's NotFound."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crm_stub.errors import CRMError, InvalidTransition, NotFound

from .domain.messages import Message, as_message


@dataclass(frozen=True)
class FieldError:
    """What is wrong with one field: ``message`` is an id with parameters, English by ``str()``."""

    field: str
    message: Message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(CRMError):
    """Bad input for a hook or a call: one or more fields, each named with what is wrong. Nothing was stored.

    ``field`` and ``reason`` are the first error's (most callers have one); ``errors`` has them all.
    """

    def __init__(self, field: str, message: str | Message, /, **params: Any) -> None:
        self.errors: tuple[FieldError, ...] = (FieldError(field, as_message(message, params)),)
        super().__init__(str(self.errors[0]))

    @classmethod
    def of(cls, errors: Iterable[FieldError]) -> ValidationError:
        found = tuple(errors)
        if not found:
            raise ValueError("a ValidationError needs at least one error")
        exc = cls(found[0].field, found[0].message)
        exc.errors = found
        exc.args = ("; ".join(str(e) for e in found),)
        return exc

    @property
    def field(self) -> str:
        return self.errors[0].field

    @property
    def reason(self) -> str:
        return str(self.errors[0].message)


class Problems:
    """Collects every field's error, so that one answer names them all."""

    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, field: str, message: str | Message, /, **params: Any) -> None:
        self.found.append(FieldError(field, as_message(message, params)))

    def check(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(*args)``, or None after noting its ValidationError."""
        try:
            return function(*args, **kwargs)
        except ValidationError as exc:
            self.found.extend(exc.errors)
            return None

    def has(self, field: str) -> bool:
        return any(e.field == field for e in self.found)

    def raise_any(self) -> None:
        if self.found:
            raise ValidationError.of(self.found)


__all__ = ["CRMError", "FieldError", "InvalidTransition", "NotFound", "Problems", "ValidationError"]
