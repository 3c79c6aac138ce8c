"""Fuzzing the address check: it never raises, and no encoding of a non-public IPv4 address passes it."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from extract.netguard import is_public_address
from tests.fuzzing import fuzz_settings

PRIVATE_V4 = st.one_of(
    st.sampled_from(["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", "0.0.0.0", "100.64.0.1"]),
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address).filter(lambda a: not a.is_global).map(str),
)


@fuzz_settings(deadline_ms=200, examples=300)
@given(st.one_of(st.text(max_size=60), st.ip_addresses().map(str), st.ip_addresses().map(lambda a: f"[{a}]%eth0")))
def test_the_address_check_never_raises(text):
    assert isinstance(is_public_address(text), bool)


@fuzz_settings(deadline_ms=200, examples=200)
@given(PRIVATE_V4)
def test_private_ipv4_is_refused_plain_mapped_and_nat64(v4):
    n = int(ipaddress.IPv4Address(v4))
    for form in (v4, f"::ffff:{v4}", str(ipaddress.IPv6Address((0x64FF9B << 96) | n))):
        assert not is_public_address(form), form


@fuzz_settings(deadline_ms=200, examples=100)
@given(PRIVATE_V4)
def test_private_ipv4_inside_a_6to4_address_is_refused(v4):
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80) | 1)
    assert not is_public_address(str(six_to_four))


@fuzz_settings(deadline_ms=200, examples=50)
@given(st.integers(0, 2**118 - 1))
def test_site_local_ipv6_is_refused(low):
    assert not is_public_address(str(ipaddress.IPv6Address((0xFEC0 << 112) | low)))
