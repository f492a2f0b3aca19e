"""Quotes and sales: what closes an opportunity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..errors import CRMError, InvalidTransition
from ..models import Quote, QuoteItem, Sale
from ..snapshot import Snapshot
from ..stages import LOST
from .base import Service, decimal, text


class QuoteService(Service[Quote]):
    model = Quote
    entity = "quote"

    def create(self, opportunity_id: int, items: Sequence[Mapping[str, Any]]) -> Snapshot:
        """A priced proposal for an open opportunity; ``items`` are description/quantity/unit_price."""
        lines = _items(items)
        with self._crm.transaction() as session:
            opp = self._crm.opportunities._load(session, opportunity_id)
            self._crm.opportunities._require_open(opp, "be quoted")
            total = sum((i.quantity * i.unit_price for i in lines), Decimal(0)).quantize(Decimal("0.01"))
            quote = Quote(opportunity_id=opp.id, items=lines, total=total)
            session.add(quote)
            session.flush()
            return self._commit(session, quote, [("quote.created", quote, {})])


def _items(items: object) -> list[QuoteItem]:
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence) or not items:
        raise CRMError("items: give a non-empty list of {description, quantity, unit_price}")
    lines = []
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, Mapping):
            raise CRMError(f"{where}: expected a mapping with description, quantity and unit_price")
        unknown = set(item) - {"description", "quantity", "unit_price"}
        if unknown:
            raise CRMError(f"{where}.{sorted(unknown)[0]}: unknown item field")
        lines.append(
            QuoteItem(
                description=text(f"{where}.description", item.get("description"), required=True, max_length=500),
                quantity=decimal(f"{where}.quantity", item.get("quantity", 1), places="0.001", positive=True),
                unit_price=decimal(f"{where}.unit_price", item.get("unit_price")),
            )
        )
    return lines


class SaleService(Service[Sale]):
    model = Sale
    entity = "sale"

    def create(self, opportunity_id: int, *, quote_id: int | None = None, amount: Any = None) -> Snapshot:
        """Record the sale of an opportunity, which marks it won.

        The amount defaults to the quote's total, else the opportunity's amount.
        Raises ``opportunity.stage_changed`` (when it was still open) and ``sale.created``.
        """
        value = None if amount is None else decimal("amount", amount)
        with self._crm.transaction() as session:
            opp = self._crm.opportunities._load(session, opportunity_id, lock=True)
            if opp.status == LOST:
                raise InvalidTransition(f"opportunity {opp.id} is lost; reactivate it before selling")
            if session.scalar(select(Sale.id).where(Sale.opportunity_id == opp.id)) is not None:
                raise InvalidTransition(f"opportunity {opp.id} is already sold")
            quote = None
            if quote_id is not None:
                quote = session.get(Quote, quote_id)
                if quote is None or quote.opportunity_id != opp.id:
                    raise CRMError(f"quote_id: quote {quote_id} is not a quote of opportunity {opp.id}")
            if value is None:
                value = quote.total if quote is not None else opp.amount
            events = self._crm.opportunities.mark_won(session, opp)
            sale = Sale(opportunity_id=opp.id, client_id=opp.client_id, quote_id=quote_id, amount=value)
            session.add(sale)
            session.flush()
            return self._commit(session, sale, [*events, ("sale.created", sale, {})])
