"""The address policy: which IPs are public, and how resolution failures and refusals are classified.

No test here sends a packet: resolvers are injected fakes.
"""

from __future__ import annotations

import socket
import time

import pytest

from extract.netguard import checked_addresses, is_public_address
from newswatch.errors import ItemError, RetriableError


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_unicast_addresses_are_public(ip):
    assert is_public_address(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.5", "172.16.3.4", "192.168.1.1", "127.0.0.1", "127.8.9.10", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "192.0.2.1", "::1", "::", "fe80::1",
        "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
        "64:ff9b::a00:1", "2001:db8::1", "not an ip", "",
    ],
)
def test_private_loopback_link_local_and_garbage_addresses_are_not_public(ip):
    assert not is_public_address(ip)


def fake_dns(table):
    calls = []

    def resolve(host, port):
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])

    resolve.calls = calls
    return resolve


def test_a_name_resolving_to_a_private_address_is_refused_with_a_readable_reason():
    resolver = fake_dns({"intranet.example": ["10.0.0.5"]})
    with pytest.raises(ItemError) as err:
        checked_addresses("intranet.example", 80, allow_private=False, resolver=resolver)
    assert err.value.reason == "private_address"
    assert "intranet.example" in err.value.message and "allow_private_networks" in err.value.message


def test_the_metadata_address_as_a_literal_is_refused_without_any_dns_lookup():
    resolver = fake_dns({})
    with pytest.raises(ItemError) as err:
        checked_addresses("169.254.169.254", 80, allow_private=False, resolver=resolver)
    assert err.value.reason == "private_address"
    assert resolver.calls == []


def test_private_addresses_pass_when_private_networks_are_allowed():
    resolver = fake_dns({"intranet.example": ["10.0.0.5"]})
    assert checked_addresses("intranet.example", 80, allow_private=True, resolver=resolver) == ["10.0.0.5"]


def test_a_name_with_public_and_private_addresses_keeps_only_the_public_ones():
    resolver = fake_dns({"mixed.example": ["10.0.0.5", "93.184.216.34", "127.0.0.1"]})
    assert checked_addresses("mixed.example", 443, allow_private=False, resolver=resolver) == ["93.184.216.34"]


def test_an_injected_address_check_decides_what_counts_as_public():
    resolver = fake_dns({"news.example": ["127.0.0.1"]})
    got = checked_addresses("news.example", 80, allow_private=False, resolver=resolver,
                            address_check=lambda ip: ip == "127.0.0.1")
    assert got == ["127.0.0.1"]


def test_an_unknown_name_is_a_dns_error_item_failure():
    with pytest.raises(ItemError) as err:
        checked_addresses("nowhere.example", 80, allow_private=False, resolver=fake_dns({}))
    assert err.value.reason == "dns_error"
    assert "nowhere.example" in err.value.message


def test_a_temporary_dns_failure_is_retriable():
    def flaky(host, port):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(RetriableError) as err:
        checked_addresses("news.example", 80, allow_private=False, resolver=flaky)
    assert err.value.reason == "dns_error"


def test_a_name_without_addresses_is_a_dns_error():
    with pytest.raises(ItemError) as err:
        checked_addresses("empty.example", 80, allow_private=False, resolver=fake_dns({"empty.example": []}))
    assert err.value.reason == "dns_error"


def test_a_resolver_slower_than_the_budget_is_a_timeout():
    def slow(host, port):
        time.sleep(1.0)
        return ["93.184.216.34"]

    started = time.monotonic()
    with pytest.raises(RetriableError) as err:
        checked_addresses("slow.example", 80, allow_private=False, resolver=slow, timeout=0.1)
    assert err.value.reason == "timeout"
    assert time.monotonic() - started < 0.5
