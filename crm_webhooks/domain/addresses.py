"""Which destination addresses a webhook may reach: a pure decision, no I/O.

Validation asks it when a hook is saved (a literal address, or one in
disguise); the engine's network guard (``engine/netguard.py``) asks it again
for the address a delivery actually connects to, after DNS, so a name that
resolves to 127.0.0.1 is refused like the literal is.
"""

from __future__ import annotations

import ipaddress
import socket

from .messages import N_, Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Cloud metadata services hand out the machine's credentials to whoever asks.  Most live on
# link-local 169.254.169.254, refused anyway; these live where a private network (or, for
# Oracle and Azure, what Python counts as public) would otherwise let a hook reach them.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
# Deprecated IPv6 site-local addresses: Python counts them as global, they are a private range.
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def parse_ip(text: str) -> IPAddress | None:
    """The address in ``text`` (brackets and IPv6 zone ids allowed), or None for a name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def disguised_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host that is not written as one stands for, or None.

    Resolvers read ``0``, ``2852039166``, ``0xa9fea9fe`` or ``127.1`` as addresses
    (inet_aton), and IDNA turns full-width digits and ideographic dots into ASCII
    ones; ``127.0.0.1.`` is an address with the dot of a fully qualified name.
    """
    try:
        folded = host.encode("idna").decode("ascii")
    except UnicodeError:  # not a name IDNA can encode, so not one it could turn into digits
        folded = host
    try:
        address = ipaddress.IPv4Address(socket.inet_aton(folded.removesuffix(".")))
    except OSError:
        return None
    return None if host == str(address) else address


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    # IPv6 forms that carry an IPv4 address the packet really goes to.
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal(address: str | IPAddress, *, allow_private: bool = False) -> str | Message | None:
    """Why ``address`` may not be a webhook destination, or None when it may.

    Always refused: the cloud metadata addresses of ``METADATA``, link-local
    (169.254.0.0/16 and fe80::/10), multicast, unspecified and reserved addresses.
    Refused unless ``allow_private``: loopback, private ranges (IPv6 site-local
    included) and any other non-public range.
    """
    ip = parse_ip(address) if isinstance(address, str) else address
    if ip is None:
        return N_("not an IP address")
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = refusal(inner, allow_private=allow_private)
        return (
            Message(
                N_("%(why)s (%(inner)s, embedded in %(address)s)"),
                {"why": Message(why), "inner": str(inner), "address": str(ip)},
            )
            if why
            else None
        )
    if ip.is_link_local:
        return N_("a link-local address, refused even on private networks")
    if ip in METADATA:
        return N_("a cloud metadata address, refused even on private networks")
    if ip.is_unspecified:
        return N_("the unspecified address")
    if ip.is_multicast:
        return N_("a multicast address")
    # Before "reserved": Python counts ::1 as reserved too, and it is plain loopback.
    if ip.is_loopback:
        return None if allow_private else N_("a loopback address (allow_private_networks is off)")
    if ip.is_reserved:
        return N_("a reserved address")
    if allow_private:
        return None
    if ip in _SITE_LOCAL:
        return N_("a site-local address (allow_private_networks is off)")
    if ip.is_private:
        return N_("a private address (allow_private_networks is off)")
    if not ip.is_global:
        return N_("not a public address (allow_private_networks is off)")
    return None
