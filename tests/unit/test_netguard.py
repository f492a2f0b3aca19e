"""The network guard's decision, address by address."""

import pytest

from crm_webhooks.domain.addresses import refusal
from crm_webhooks.engine.netguard import screen

CASES = [
    # (address, refused by default?, refused with allow_private?)
    ("93.184.216.34", False, False),
    ("2606:2800:220:1:248:1893:25c8:1946", False, False),
    ("127.0.0.1", True, False),
    ("127.8.9.10", True, False),  # all of 127/8 is loopback
    ("::1", True, False),
    ("10.1.2.3", True, False),
    ("172.16.0.1", True, False),
    ("192.168.1.1", True, False),
    ("100.64.0.1", True, False),  # carrier-grade NAT: not public
    ("fc00::1", True, False),  # unique local IPv6
    ("::ffff:127.0.0.1", True, False),  # IPv4-mapped loopback
    ("::ffff:10.0.0.1", True, False),
    ("::ffff:93.184.216.34", False, False),
    ("64:ff9b::7f00:1", True, False),  # NAT64 of 127.0.0.1
    ("2002:7f00:1::", True, False),  # 6to4 of 127.0.0.1
    ("169.254.169.254", True, True),  # cloud metadata: never
    ("169.254.1.1", True, True),
    ("fe80::1", True, True),
    ("fe80::1%eth0", True, True),
    ("::ffff:169.254.169.254", True, True),
    ("0.0.0.0", True, True),
    ("::", True, True),
    ("224.0.0.1", True, True),
    ("ff02::1", True, True),
    ("240.0.0.1", True, True),  # reserved
    # Cloud metadata services, wherever they live: refused in every mode.
    ("169.254.170.2", True, True),  # AWS ECS task metadata
    ("fd00:ec2::254", True, True),  # AWS IMDS over IPv6 (a unique local address)
    ("fd00:ec2::254%eth0", True, True),
    ("fd20:ce::254", True, True),  # GCP metadata over IPv6
    ("100.100.100.200", True, True),  # Alibaba Cloud (carrier-grade NAT range)
    ("::ffff:100.100.100.200", True, True),
    ("64:ff9b::6464:64c8", True, True),  # NAT64 of 100.100.100.200
    ("192.0.0.192", True, True),  # Oracle Cloud (Python counts it as public)
    ("168.63.129.16", True, True),  # Azure's WireServer: a public address inside every Azure network
    ("100.100.100.201", True, False),  # its neighbours are only private
    ("fd00:ec2::253", True, False),
    ("fec0::1", True, False),  # site-local (deprecated): a private range, not public
    ("fec0:1::254", True, False),
    ("feff:ffff::1", True, False),
]


@pytest.mark.parametrize(("address", "strict", "lenient"), CASES, ids=[c[0] for c in CASES])
def test_refusal(address: str, strict: bool, lenient: bool) -> None:
    assert (refusal(address) is not None) is strict
    assert (refusal(address, allow_private=True) is not None) is lenient


def test_the_reason_is_readable() -> None:
    assert refusal("127.0.0.1") == "a loopback address (allow_private_networks is off)"
    assert "link-local" in refusal("169.254.169.254", allow_private=True)
    assert str(refusal("::ffff:169.254.169.254")).endswith("(169.254.169.254, embedded in ::ffff:a9fe:a9fe)")
    assert refusal("example.com") == "not an IP address"
    assert refusal("fd00:ec2::254", allow_private=True) == "a cloud metadata address, refused even on private networks"
    assert refusal("fec0::1") == "a site-local address (allow_private_networks is off)"


def test_screen_keeps_what_may_be_reached_in_order_and_says_why_of_the_rest() -> None:
    # As DNS answers: one name, several addresses; the transports connect to `allowed` only.
    answers = [("8.8.8.8", 1), ("127.0.0.1", 2), ("1.1.1.1", 3), ("169.254.169.254", 4)]
    allowed, refused = screen(answers, lambda a: a[0], allow_private=False)
    assert allowed == [("8.8.8.8", 1), ("1.1.1.1", 3)]
    assert [address for address, _why in refused] == ["127.0.0.1", "169.254.169.254"]
    assert refused[1][1] == refusal("169.254.169.254")
