"""IP allow-lists, and the client's real address behind our own proxies.

The original system read `X-Forwarded-For` from anyone, so any caller could claim an allow-listed
address by sending the header. Here the header is read only when the TCP peer is one of our configured
proxies, and then from the right: each trusted hop vouches for the address to its left, and the first
address no trusted proxy owns is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidNetwork(ValueError):
    """An allow-list entry that is not an IP address or a CIDR range."""


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:1.2.3.4 is how a dual-stack socket shows an IPv4 client: treat it as that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(entry: str) -> IPNetwork:
    text = entry.strip()
    if not text:
        raise InvalidNetwork("an empty allow-list entry")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidNetwork(f"{entry!r} is not an IP address or CIDR range") from error
        raise InvalidNetwork(f"{entry!r} has host bits set; did you mean {loose}?") from error
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        return ipaddress.IPv4Network(f"{mapped}/{max(network.prefixlen - 96, 0)}")
    return network


def parse_address(value: str) -> IPAddress | None:
    """An address as a peer or a forwarded-for hop gives it (`1.2.3.4`, `1.2.3.4:80`, `[::1]:443`), or None."""
    text = value.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has two or more colons
        text = text.split(":", 1)[0]
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class AllowList:
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        unique: dict[IPNetwork, None] = {}
        for entry in entries:
            unique.setdefault(parse_network(entry), None)
        return cls(tuple(unique))

    @property
    def is_empty(self) -> bool:
        return not self.networks

    @property
    def entries(self) -> list[str]:
        """Single addresses bare, ranges as CIDR, in the order given."""
        return [str(n.network_address) if n.num_addresses == 1 else str(n) for n in self.networks]

    def allows(self, address: str | IPAddress) -> bool:
        parsed = parse_address(address) if isinstance(address, str) else _unmapped(address)
        return parsed is not None and any(
            parsed in network for network in self.networks if network.version == parsed.version
        )


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: AllowList) -> str | None:
    """The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the right-most
    `X-Forwarded-For` hop that is not itself a trusted proxy. A malformed hop stops the walk at the last
    trusted hop: we never take an address we cannot parse, nor anything to the left of it."""
    peer_address = parse_address(peer) if peer else None
    if peer_address is None:
        return None
    if not forwarded_for or not trusted_proxies.allows(peer_address):
        return str(peer_address)
    current = peer_address
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            return str(current)
        current = address
        if not trusted_proxies.allows(address):
            return str(address)
    return str(current)
