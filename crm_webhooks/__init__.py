"""crm_webhooks: signed, retried webhooks for every CRM event, never lost.

wh = crm.install_addon("crm_webhooks", allow_private_networks=True)
hook = wh.create_hook(name="venda", event="sale.created", url="https://example.com/pos",
                      key="X-Api-Key", value="s3cret")
"""

from .addon import WebhooksAddon
from .domain.catalog import CATALOG, EventType, event_type
from .domain.deliveries import Attempt, Delivery
from .domain.hooks import Hook
from .engine.signing import WebhookVerificationError, verify
from .exceptions import CRMError, NotFound, ValidationError
from .signals import hook_disabled
from .version import __version__

__all__ = [
    "CATALOG",
    "Attempt",
    "CRMError",
    "Delivery",
    "EventType",
    "Hook",
    "NotFound",
    "ValidationError",
    "WebhookVerificationError",
    "WebhooksAddon",
    "__version__",
    "event_type",
    "hook_disabled",
    "verify",
]
