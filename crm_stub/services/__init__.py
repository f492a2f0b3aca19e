"""One service per entity; each call is one transaction and returns a snapshot."""

from .deals import QuoteService, SaleService
from .opportunities import OpportunityService
from .parties import ClientService, LeadService
from .tokens import TokenService
from .users import UserService

__all__ = [
    "ClientService",
    "LeadService",
    "OpportunityService",
    "QuoteService",
    "SaleService",
    "TokenService",
    "UserService",
]
