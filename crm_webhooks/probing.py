"""Probing a hook disabled for its failures: a test send, and on a 2xx the enabling a person would do.

The worker's prober (``engine/worker.py``) decides when and claims the probe; this is what
a probe does, with the services every surface uses: the test send of the page's "send
test" button (a sample event, signed, one attempt, in history as a test) and the page's
"enable" with "send again what failed" ticked, since nobody is awake to tick it.  Held
events go too, and the first success raises webhook.recovered as for any recovery.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from crm_stub import CRM, NotFound

from .deliveries import DeliveryService
from .domain.hooks import disabled_for_failures
from .models import HookRow
from .recovery import RecoveryService

log = logging.getLogger("crm_webhooks.probe")

H = HookRow.__table__.c


class ProbeService:
    def __init__(self, crm: CRM, deliveries: DeliveryService, recovery: RecoveryService) -> None:
        self._crm = crm
        self._deliveries = deliveries
        self._recovery = recovery

    def probe(self, hook_id: int) -> bool:
        """Send the disabled hook a test event; enable it when its receiver answers 2xx. True when enabled."""
        try:
            sent = self._deliveries.send_test(hook_id)
        except NotFound:  # deleted since the probe was claimed
            log.info("probe", extra={"hook": hook_id, "outcome": "deleted"})
            return False
        answered = sent.status == "succeeded"
        enabled = answered and self._enable(hook_id)
        attempt = sent.attempts[-1] if sent.attempts else None
        log.info(
            "probe",
            extra={
                "hook": hook_id,
                # "answered": a 2xx, but someone enabled or disabled it meanwhile: theirs stands.
                "outcome": "enabled" if enabled else "answered" if answered else "failed",
                "status": None if attempt is None else attempt.status_code,
                "error": None if attempt is None else attempt.error,
                "delivery": sent.id,
            },
        )
        return enabled

    def _enable(self, hook_id: int) -> bool:
        """Enable it with a replay, unless someone changed it while the probe was out (an admin disabled
        or enabled it): checked under the hook's lock, in the enabling's own transaction."""
        with self._crm.transaction() as session:
            reason = session.execute(
                select(H.disabled_reason).where(H.id == hook_id, H.enabled.is_(False)).with_for_update()
            ).scalar()
            if not disabled_for_failures(reason):
                return False
            self._recovery.enable(hook_id, replay_failed=True)
        return True
