from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from gerbang.kit.netaccess import AllowList, InvalidNetwork, client_address, parse_network

PROXIES = AllowList.parse(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("entry", "normal"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
        ("\t192.0.2.0/24\n", "192.0.2.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("::ffff:192.0.2.1", "192.0.2.1/32"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
    ],
)
def test_entries_parse_and_normalise(entry: str, normal: str) -> None:
    assert str(parse_network(entry)) == normal


def test_mapped_entries_become_ipv4() -> None:
    assert isinstance(parse_network("::ffff:192.0.2.1"), ipaddress.IPv4Network)
    assert isinstance(parse_network("::ffff:192.0.2.0/120"), ipaddress.IPv4Network)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("999.1.1.1", "'999.1.1.1' is not an IP address or CIDR range"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP"),
        ("abc", "'abc' is not an IP"),
        ("2001:db8::/129", "is not an IP"),
        ("2001:db8::g", "is not an IP"),
        ("010.0.0.1", "is not an IP"),
        ("1.2.3.4:80", "is not an IP"),
        ("[2001:db8::1]", "is not an IP"),
        ("10.0.0.0/", "is not an IP"),
        ("10.0.0.0/-8", "is not an IP"),
        ("10.0.0.0/ 8", "is not an IP"),
        ("10.0.0.0/255.0.0.0", "write the prefix as /N"),
        ("10.0.0.0 10.0.0.1", "is not an IP"),
        ("fe80::1%eth0", "interface zone"),
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("10.0.0.1/8", "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("::ffff:192.0.2.1/120", "did you mean 192.0.2.0/24?"),
    ],
)
def test_bad_entries_are_refused_with_a_reason(entry: str, message: str) -> None:
    with pytest.raises(InvalidNetwork) as refused:
        parse_network(entry)
    assert message in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_an_allow_list_is_deduplicated_normalised_and_keeps_order() -> None:
    allow = AllowList.parse(
        ["203.0.113.7", "10.0.0.0/8", " 2001:db8::/32", "10.0.0.0/8", "203.0.113.7/32", "::ffff:203.0.113.7", "::1"]
    )
    assert allow.entries == ("203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "::1")
    assert not allow.is_empty
    assert AllowList.parse(entry for entry in ["10.0.0.0/8"]).entries == ("10.0.0.0/8",)


def test_an_empty_allow_list_allows_nothing_by_itself() -> None:
    empty = AllowList.parse([])
    assert empty.is_empty
    assert empty.entries == ()
    assert not empty.allows("203.0.113.7")


def test_parse_stops_at_the_first_bad_entry() -> None:
    with pytest.raises(InvalidNetwork, match="'bad-one'"):
        AllowList.parse(["10.0.0.0/8", "bad-one", "bad-two"])


def test_allow_lists_are_immutable_values() -> None:
    allow = AllowList.parse(["10.0.0.0/8"])
    assert allow == AllowList.parse([" 10.0.0.0/8 "])
    assert hash(allow) == hash(AllowList.parse(["10.0.0.0/8"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        allow.networks = ()  # type: ignore[misc]


ALLOW = AllowList.parse(["203.0.113.7", "10.0.0.0/8", "192.0.2.128/25", "2001:db8::/32", "::1"])


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.7", True),
        ("203.0.113.8", False),
        ("203.0.113.6", False),
        ("10.0.0.0", True),
        ("10.200.1.1", True),
        ("10.255.255.255", True),
        ("11.0.0.0", False),
        ("9.255.255.255", False),
        ("192.0.2.128", True),
        ("192.0.2.255", True),
        ("192.0.2.127", False),
        ("2001:db8:1::5", True),
        ("2001:DB8::", True),
        ("2001:db9::", False),
        ("::1", True),
        ("::2", False),
        ("::ffff:10.1.1.1", True),  # an IPv4 client seen through a dual-stack socket
        ("::ffff:203.0.113.8", False),
        ("::a01:101", False),  # IPv4-compatible (deprecated) is not mapped: not 10.1.1.1
        (" 10.1.1.1 ", True),
        (ipaddress.IPv4Address("10.1.1.1"), True),
        (ipaddress.IPv6Address("::ffff:10.1.1.1"), True),
        (ipaddress.IPv6Address("2001:db8::1"), True),
        (ipaddress.IPv4Address("8.8.8.8"), False),
        ("not an address", False),
        ("", False),
        ("10.1.1.1:80", False),
        ("[2001:db8::1]", False),
        ("10.0.0.0/8", False),
        ("999.1.1.1", False),
        ("10.1.1.1, 10.1.1.2", False),
    ],
)
def test_membership(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: bool) -> None:
    assert ALLOW.allows(address) is allowed


def test_a_zone_on_a_link_local_address_is_ignored() -> None:
    assert AllowList.parse(["fe80::/10"]).allows("fe80::1%eth0")


def test_everything_lists_do_not_cross_versions() -> None:
    every_ipv4 = AllowList.parse(["0.0.0.0/0"])
    assert every_ipv4.allows("255.255.255.255")
    assert every_ipv4.allows("::ffff:1.2.3.4")
    assert not every_ipv4.allows("2001:db8::1")
    every_ipv6 = AllowList.parse(["::/0"])
    assert every_ipv6.allows("2001:db8::1")
    assert not every_ipv6.allows("1.2.3.4")  # a mapped client is an IPv4 client


def _spread(n: int, bits: int) -> int:
    # Fibonacci hashing: deterministic numbers of `bits` bits (at most 64) scattered over their whole range.
    return ((n + 1) * 0x9E3779B97F4A7C15 % (1 << 64)) >> (64 - bits)


def test_a_long_list_agrees_with_checking_every_entry() -> None:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for n in range(300):
        networks.append(ipaddress.IPv4Network((_spread(n, 32), 8 + n % 25), strict=False))
        networks.append(ipaddress.IPv6Network((_spread(n, 64) << 64, 16 + n % 113), strict=False))
    allow = AllowList.parse(str(network) for network in networks)
    assert len(allow.networks) == len(set(networks))
    scattered_ipv4 = [ipaddress.IPv4Address(_spread(n * 7 + 3, 32)) for n in range(2000)]
    scattered_ipv6 = [ipaddress.IPv6Address(_spread(n * 7 + 3, 64) << 64) for n in range(2000)]
    edges = [network.network_address for network in networks] + [network[-1] for network in networks]
    for candidates in (scattered_ipv4, scattered_ipv6, edges):
        outcomes = set()
        for address in candidates:
            expected = any(address in network for network in networks if network.version == address.version)
            assert allow.allows(address) is expected
            assert allow.allows(str(address)) is expected
            outcomes.add(expected)
        assert outcomes == ({True} if candidates is edges else {True, False})


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # An untrusted peer: its header is ignored, whatever it claims.
        ("198.51.100.1", "10.0.0.1", "198.51.100.1"),
        ("198.51.100.1", "203.0.113.7", "198.51.100.1"),
        ("::ffff:198.51.100.1", "10.0.0.1", "198.51.100.1"),
        ("2001:db8::99", "10.0.0.1", "2001:db8::99"),
        # A trusted peer: the right-most hop that is not one of our proxies.
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "1.1.1.1, 203.0.113.5", "203.0.113.5"),  # the left of it is the client's to forge
        ("10.0.0.2", "10.0.0.5, 203.0.113.5", "203.0.113.5"),  # claiming to be a proxy does not help
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("::ffff:10.0.0.2", "::ffff:203.0.113.5", "203.0.113.5"),
        # A chain of our proxies.
        ("10.0.0.2", "203.0.113.5, 10.0.0.9", "203.0.113.5"),
        ("10.0.0.2", "198.51.100.1, 203.0.113.5, 10.0.0.9, fd00::3, 10.1.1.1", "203.0.113.5"),
        # Every hop trusted: the left-most.
        ("10.0.0.2", "10.0.0.7, 10.0.0.9", "10.0.0.7"),
        ("10.0.0.2", "10.0.0.2", "10.0.0.2"),
        # A hop we cannot parse: stop at the last trusted hop, never read past it.
        ("10.0.0.2", "203.0.113.5, garbage", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5, garbage, 10.0.0.9", "10.0.0.9"),
        ("10.0.0.2", "garbage, 10.0.0.9", "10.0.0.9"),
        ("10.0.0.2", "unknown", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5:99999", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5:http", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5:", "10.0.0.2"),
        ("10.0.0.2", "[2001:db8::7]junk", "10.0.0.2"),
        ("10.0.0.2", "[2001:db8::7", "10.0.0.2"),
        ("10.0.0.2", "[203.0.113.5]", "10.0.0.2"),  # brackets are for IPv6
        ("10.0.0.2", "203.0.113.5/32", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5 10.0.0.9", "10.0.0.2"),
        # Ports, brackets and whitespace.
        ("10.0.0.2", "203.0.113.5:4431", "203.0.113.5"),
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.2", "[2001:db8::7]", "2001:db8::7"),
        ("10.0.0.2", "[::ffff:203.0.113.5]:443", "203.0.113.5"),
        ("10.0.0.2", "2001:db8::7", "2001:db8::7"),
        ("10.0.0.2", "  203.0.113.5  ,\t10.0.0.9 ", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5, 10.0.0.9:80, [fd00::4]:8443", "203.0.113.5"),
        # Several headers joined with commas; empty list elements are skipped.
        ("10.0.0.2", "198.51.100.1, 203.0.113.5, 10.0.0.9", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5,, 10.0.0.9, ", "203.0.113.5"),
        ("10.0.0.2", " , ,", "10.0.0.2"),
        # No header.
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("198.51.100.1", None, "198.51.100.1"),
        # A peer that is not an IP address.
        (None, "203.0.113.5", None),
        (None, None, None),
        ("", "203.0.113.5", None),
        ("testclient", "203.0.113.5", None),
        ("/run/gerbang.sock", None, None),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, client: str | None) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.0.0.2", "203.0.113.5", AllowList.parse([])) == "10.0.0.2"


def test_the_peer_is_normalised() -> None:
    assert client_address("2001:DB8:0:0::1", None, PROXIES) == "2001:db8::1"
    assert client_address("fe80::1%eth0", None, PROXIES) == "fe80::1"
    assert client_address("198.51.100.1:5000", None, PROXIES) == "198.51.100.1"
