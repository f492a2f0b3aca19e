"""crm_stub: a small but real host CRM that addons plug into.

from crm_stub import CRM
crm = CRM("sqlite:///crm.db")
alice = crm.users.create(name="Alice", email="alice@example.com")
lead = crm.leads.create(name="ACME", owner_id=alice.id)
"""

from .addons import ENTRY_POINT_GROUP, Manifest
from .crm import CRM
from .errors import CRMError, InvalidTransition, NotFound
from .signals import EVENT_CODES, bus
from .snapshot import Snapshot

__all__ = [
    "CRM",
    "ENTRY_POINT_GROUP",
    "EVENT_CODES",
    "CRMError",
    "InvalidTransition",
    "Manifest",
    "NotFound",
    "Snapshot",
    "bus",
]
