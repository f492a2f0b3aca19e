"""The addon's own signals, for the host to turn into notices."""

from blinker import Namespace

_signals = Namespace()

# sender=crm, hook=<Hook>, reason=<str>: a hook was disabled without an admin asking.
hook_disabled = _signals.signal("crm_webhooks.hook_disabled")
