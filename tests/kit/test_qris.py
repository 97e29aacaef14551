from __future__ import annotations

import random

import pytest

from gerbang.kit.qris import InvalidQris, QrisMerchant, crc16_ccitt, dynamic_payload, parse, parse_fields

MERCHANT = QrisMerchant(
    name="Toko Sinar Jaya Abadi Makmur Sentosa",
    city="Jakarta Selatan Raya",
    nmid="ID1026123456789",
    merchant_pan="936000140000012345",
)


def test_crc_is_ccitt_false() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE
    assert crc16_ccitt(b"") == 0xFFFF


def _crc_bit_by_bit(data: bytes) -> int:
    """The definition, one bit at a time: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_crc_agrees_with_the_definition_bit_by_bit() -> None:
    rng = random.Random(20261201)  # noqa: S311 (test data, reproducible)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(300))) for _ in range(500)]
    samples += [dynamic_payload(MERCHANT, amount=amount, reference=f"ORD-{amount}")[:-4].encode() for amount in
                (1, 999, 150_000, 10_000_000)]  # fmt: skip
    for data in samples:
        assert crc16_ccitt(data) == _crc_bit_by_bit(data), data


def test_a_dynamic_payload_carries_the_amount_and_a_valid_checksum() -> None:
    payload = dynamic_payload(MERCHANT, amount=150_000, reference="ORD-1")
    fields = parse(payload)
    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert fields["53"] == "360"
    assert fields["54"] == "150000"
    assert fields["58"] == "ID"
    assert fields["59"] == "Toko Sinar Jaya Abadi Mak"  # EMVCo: at most 25 characters
    assert fields["60"] == "Jakarta Selatan"
    assert parse_fields(fields["51"])["00"] == "ID.CO.QRIS.WWW"
    assert parse_fields(fields["62"])["01"] == "ORD-1"


def test_tampering_breaks_the_checksum() -> None:
    payload = dynamic_payload(MERCHANT, amount=150_000, reference="ORD-1")
    with pytest.raises(InvalidQris, match="CRC"):
        parse(payload.replace("5406150000", "5406150001"))
    with pytest.raises(InvalidQris):
        parse("000201")


@pytest.mark.parametrize("amount", [0, -5, True])
def test_amounts_are_positive_whole_rupiah(amount: int) -> None:
    with pytest.raises(ValueError, match="positive whole"):
        dynamic_payload(MERCHANT, amount=amount, reference="x")
