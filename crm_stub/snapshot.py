"""Detached, read-only copies of records that outlive the call that made them."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import inspect


class Snapshot:
    """A record as it stood when the call returned.

    Attributes hold Python values (``Decimal`` amounts, ``datetime`` stamps);
    ``to_dict()`` gives the JSON-ready shape the record has in payloads.
    """

    __slots__ = ("_attrs", "_json", "_kind")

    def __init__(self, kind: str, attrs: dict[str, Any], json: dict[str, Any]) -> None:
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_attrs", attrs)
        object.__setattr__(self, "_json", json)

    @classmethod
    def of(cls, obj: Any) -> Snapshot:
        mapper = inspect(obj).mapper
        hidden = getattr(type(obj), "__private__", ())
        attrs = {col.key: getattr(obj, col.key) for col in mapper.column_attrs if col.key not in hidden}
        attrs.update(getattr(obj, "snapshot_extras", dict)())
        return cls(type(obj).__name__, attrs, obj.to_dict())

    @property
    def kind(self) -> str:
        return self._kind

    def __getattr__(self, name: str) -> Any:
        try:
            return self._attrs[name]
        except KeyError:
            raise AttributeError(f"{self._kind} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._kind} snapshots are read-only; use the service to change it")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (self._kind, self._attrs) == (other._kind, other._attrs)

    def __hash__(self) -> int:
        return hash((self._kind, self._attrs.get("id")))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={self._attrs[k]!r}" for k in ("id", "name", "title", "stage", "status") if k in self._attrs
        )
        return f"{self._kind}({shown})"

    def __dir__(self) -> list[str]:
        return sorted(set(self._attrs) | {"kind", "to_dict"})

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record, a fresh copy each call."""
        return copy.deepcopy(self._json)
