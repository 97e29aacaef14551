"""IP allow-lists, and the client's real address behind our own proxies.

The original system read `X-Forwarded-For` from anyone, so any caller could claim an allow-listed
address by sending the header. Here the header is read only when the TCP peer is one of our configured
proxies, and then from the right: each trusted hop vouches for the address to its left, and the first
address no trusted proxy owns is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAPPED_IPV4_PREFIX = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses


class InvalidNetwork(ValueError):
    """An allow-list entry that is not an IP address or a CIDR range."""


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:1.2.3.4 is how a dual-stack socket shows an IPv4 client: treat it as that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:  # fe80::1%eth0: the zone names our interface, not the client
            return ipaddress.IPv6Address(int(address))
    return address


def _unmapped_network(network: IPNetwork) -> IPNetwork:
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        # A strict network with a mapped network address has a prefix of at least 96 (the ffff is not host bits).
        ipv4_prefix = network.prefixlen - _MAPPED_IPV4_PREFIX
        return ipaddress.IPv4Network((network.network_address.ipv4_mapped, ipv4_prefix))
    return network


def parse_network(entry: str) -> IPNetwork:
    """An allow-list entry: an address (`203.0.113.7`, `2001:db8::1`) or a CIDR range (`10.0.0.0/8`).

    Surrounding whitespace is ignored and IPv4-mapped IPv6 (`::ffff:192.0.2.1`) becomes IPv4. Refused with
    `InvalidNetwork`: anything else, including dotted netmasks (`10.0.0.0/255.0.0.0`), interface zones
    (`fe80::1%eth0`) and ranges with host bits set (`10.0.0.1/8`, which is probably a typo for a network).
    """
    text = entry.strip()
    if not text:
        raise InvalidNetwork("an allow-list entry cannot be empty")
    address, slash, prefix = text.partition("/")
    if "%" in address:
        raise InvalidNetwork(f"{entry!r} has an interface zone; an allow-list takes plain addresses")
    if slash and not (prefix.isascii() and prefix.isdigit()):
        raise InvalidNetwork(f"{entry!r} is not an IP address or CIDR range (write the prefix as /N)")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidNetwork(f"{entry!r} is not an IP address or CIDR range") from error
        raise InvalidNetwork(f"{entry!r} has host bits set; did you mean {_unmapped_network(loose)}?") from error
    return _unmapped_network(network)


def _parse_address(text: str) -> IPAddress | None:
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) <= 65535


def _parse_hop(value: str) -> IPAddress | None:
    """An address as a peer or a forwarded-for hop gives it (`1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:443`)."""
    text = value.strip()
    if text.startswith("["):
        inside, closed, after = text[1:].partition("]")
        if not closed or (after and not (after.startswith(":") and _is_port(after[1:]))):
            return None
        return _parse_address(inside) if ":" in inside else None  # brackets are for IPv6 only
    if text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has at least two colons
        host, _, port = text.partition(":")
        return _parse_address(host) if _is_port(port) else None
    return _parse_address(text)


@dataclass(frozen=True)
class AllowList:
    """Addresses and ranges to allow; build one with `AllowList.parse`. An empty list allows nothing by itself:
    callers decide what an empty list means (ours treat it as "no restriction")."""

    networks: tuple[IPNetwork, ...]
    # version -> ((netmask, network addresses with that netmask), ...): one set lookup per distinct prefix length
    # instead of one comparison per entry, and nothing is parsed again per call.
    _by_netmask: dict[int, tuple[tuple[int, frozenset[int]], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
        for network in self.networks:
            grouped[network.version].setdefault(int(network.netmask), set()).add(int(network.network_address))
        by_netmask = {
            version: tuple((netmask, frozenset(addresses)) for netmask, addresses in masks.items())
            for version, masks in grouped.items()
        }
        object.__setattr__(self, "_by_netmask", by_netmask)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Parses every entry (raising `InvalidNetwork` on the first bad one), dropping duplicates, keeping order."""
        unique: dict[IPNetwork, None] = {}
        for entry in entries:
            unique.setdefault(parse_network(entry), None)
        return cls(tuple(unique))

    @property
    def is_empty(self) -> bool:
        return not self.networks

    @property
    def entries(self) -> tuple[str, ...]:
        """Single addresses bare, ranges as CIDR, in the order given."""
        return tuple(str(n.network_address) if n.num_addresses == 1 else str(n) for n in self.networks)

    def allows(self, address: str | IPAddress) -> bool:
        """Whether `address` is in any entry; an IPv4-mapped IPv6 address matches IPv4 entries. Never raises:
        a string that is not a plain address (`1.2.3.4:80`, `garbage`, empty) is not allowed."""
        parsed = _parse_address(address.strip()) if isinstance(address, str) else _unmapped(address)
        if parsed is None:
            return False
        value = int(parsed)
        return any((value & netmask) in addresses for netmask, addresses in self._by_netmask[parsed.version])


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: AllowList) -> str | None:
    """The client's address: the TCP `peer`, unless the peer is a trusted proxy.

    Behind a trusted peer, `X-Forwarded-For` (several headers joined with commas) is walked from the right,
    skipping hops that are themselves trusted proxies: the first untrusted hop is the client, since the trusted
    proxy to its right wrote it. Everything further left was written by the client and is ignored. If every hop
    is trusted, the left-most is the client. Hops may carry ports and brackets (`1.2.3.4:80`, `[::1]:443`);
    empty list elements are skipped, as HTTP says. A hop we cannot parse (`unknown`, garbage) stops the walk
    at the last trusted hop seen: we never take an address we cannot read, nor anything to the left of one.

    Addresses come back normalised (`::ffff:1.2.3.4` as `1.2.3.4`); None if the peer is missing or not an IP
    (a Unix socket, a test client).
    """
    peer_address = _parse_hop(peer) if peer else None
    if peer_address is None:
        return None
    if not forwarded_for or not trusted_proxies.allows(peer_address):
        return str(peer_address)
    last_trusted = peer_address
    for hop in reversed(forwarded_for.split(",")):
        if not hop.strip():
            continue
        address = _parse_hop(hop)
        if address is None:
            break
        if not trusted_proxies.allows(address):
            return str(address)
        last_trusted = address
    return str(last_trusted)
