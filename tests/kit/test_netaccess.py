from __future__ import annotations

import pytest

from gerbang.kit.netaccess import AllowList, InvalidNetwork, client_address, parse_network

PROXIES = AllowList.parse(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("entry", "normal"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:192.0.2.1", "192.0.2.1/32"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
    ],
)
def test_entries_parse_and_normalise(entry: str, normal: str) -> None:
    assert str(parse_network(entry)) == normal


@pytest.mark.parametrize(
    ("entry", "message"),
    [("999.1.1.1", "not an IP"), ("10.0.0.0/33", "not an IP"), ("abc", "not an IP"), ("", "empty"),
     ("10.0.0.1/8", "did you mean 10.0.0.0/8?")],
)  # fmt: skip
def test_bad_entries_are_refused_with_a_reason(entry: str, message: str) -> None:
    with pytest.raises(InvalidNetwork, match=message.replace("?", r"\?")):
        parse_network(entry)


def test_membership() -> None:
    allow = AllowList.parse(["203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "10.0.0.0/8"])
    assert allow.entries == ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
    assert allow.allows("10.200.1.1")
    assert allow.allows("::ffff:10.1.1.1")  # an IPv4 client seen through a dual-stack socket
    assert allow.allows("2001:db8:1::5")
    assert not allow.allows("203.0.113.8")
    assert not allow.allows("not an address")
    assert not allow.allows("")
    assert AllowList.parse([]).is_empty


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.1", "10.0.0.1", "198.51.100.1"),  # untrusted peer: its header is ignored
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "1.1.1.1, 203.0.113.5", "203.0.113.5"),  # the right-most untrusted hop, not the first
        ("10.0.0.2", "203.0.113.5, 10.0.0.9", "203.0.113.5"),  # a chain of our proxies
        ("10.0.0.2", "203.0.113.5, garbage", "10.0.0.2"),  # a malformed hop: stop at the last trusted one
        ("10.0.0.2", "10.0.0.7, 10.0.0.9", "10.0.0.7"),  # all trusted: the left-most
        ("10.0.0.2", "203.0.113.5:4431", "203.0.113.5"),
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        (None, "203.0.113.5", None),
    ],
)
def test_client_address(peer: str | None, forwarded: str, client: str | None) -> None:
    assert client_address(peer, forwarded, PROXIES) == client
