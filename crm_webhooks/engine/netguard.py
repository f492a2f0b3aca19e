"""The network guard: what the transports ask of the addresses DNS gave for a destination.

The rule itself is ``domain/addresses.refusal``; this applies it to what is
about to be connected to, and words the attempt's error when nothing is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ..domain.addresses import refusal
from ..domain.attempt_errors import GUARDED, written

T = TypeVar("T")


def screen(
    candidates: Iterable[T], address: Callable[[T], str], *, allow_private: bool
) -> tuple[list[T], list[tuple[str, str]]]:
    """Split what DNS answered into what may be reached, in order, and (address, why) for the rest."""
    allowed: list[T] = []
    refused: list[tuple[str, str]] = []
    for candidate in candidates:
        why = refusal(address(candidate), allow_private=allow_private)
        if why:
            refused.append((address(candidate), why))
        else:
            allowed.append(candidate)
    return allowed, refused


def blocked(refused: Iterable[tuple[str, str]]) -> str:
    """The attempt's error when every address of a destination was refused: (address, why) pairs."""
    return written(GUARDED, why="; ".join(f"{address} is {why}" for address, why in refused))
