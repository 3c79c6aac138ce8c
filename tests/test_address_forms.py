"""Every IPv6 transition form and legacy IPv4 spelling that can carry a private target is refused.

Resolvers are injected fakes: a name "resolves" to whatever the test says, and no packet leaves.
"""

from __future__ import annotations

import pytest

from extract.netguard import checked_addresses, is_public_address
from newswatch.errors import ItemError


@pytest.mark.parametrize("ip", [
    "2002:7f00:1::1",                           # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",                        # 6to4 of 169.254.169.254 (cloud metadata)
    "2002:0a00:0005::",                         # 6to4 of 10.0.0.5
    "fec0::1", "fec0:1:2::3",                   # site-local
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1", "::8.8.8.8",   # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",    # NAT64
    "2001:0:4136:e378:8000:63bf:80ff:fffe",     # Teredo, client 127.0.0.1 obfuscated
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",     # Teredo, a public client: still via a relay
    "ff02::1", "ff0e::1", "224.0.0.251", "239.1.2.3",  # multicast
    "::", "0.0.0.0", "[::]",                    # unspecified
])
def test_transition_multicast_and_unspecified_forms_are_not_public(ip):
    assert not is_public_address(ip)


@pytest.mark.parametrize("ip", ["2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8", "2606:4700:4700::1111"])
def test_the_same_forms_carrying_a_public_address_stay_public(ip):
    assert is_public_address(ip)


def public_everywhere(host: str, port: int) -> list[str]:
    """A hostile resolver that says every name is a public address."""
    return ["93.184.216.34"]


@pytest.mark.parametrize("host,target", [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("2852039166", "169.254.169.254"), ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"), ("0251.0376.43518", "169.254.169.254"),
    ("10.5", "10.0.0.5"),
])
def test_decimal_octal_and_hex_ipv4_spellings_are_literals_not_names(host, target):
    with pytest.raises(ItemError) as err:
        checked_addresses(host, 80, allow_private=False, resolver=public_everywhere)
    assert err.value.reason == "private_address" and target in err.value.message
    assert checked_addresses(host, 80, allow_private=True, resolver=public_everywhere) == [target]


@pytest.mark.parametrize("host", ["0x7g.0.0.1", "08.0.0.1", "1.2.3.4.5", "4294967296", "news.example", "1e3"])
def test_names_that_only_look_numeric_go_to_the_resolver(host):
    assert checked_addresses(host, 80, allow_private=False, resolver=public_everywhere) == ["93.184.216.34"]


def test_a_name_resolving_to_6to4_of_the_metadata_address_is_refused():
    with pytest.raises(ItemError) as err:
        checked_addresses("meta.example", 80, allow_private=False, resolver=lambda h, p: ["2002:a9fe:a9fe::1"])
    assert err.value.reason == "private_address"
