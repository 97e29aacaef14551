"""The banks the sandbox knows: short names and their 3-digit Bank Indonesia codes, as Indonesian PSPs
accept either."""

from __future__ import annotations

BANKS: dict[str, str] = {
    "BCA": "014", "BNI": "009", "BRI": "002", "MANDIRI": "008", "PERMATA": "013", "CIMB": "022", "BSI": "451",
    "DANAMON": "011", "PANIN": "019", "MAYBANK": "016", "OCBC": "028", "BTN": "200", "BTPN": "213",
    "MEGA": "426", "BJB": "110", "DKI": "111", "JAGO": "542", "SEABANK": "535",
}  # fmt: skip
VA_BANKS: dict[str, str] = {name: BANKS[name] for name in ("BCA", "BNI", "BRI", "MANDIRI", "PERMATA", "CIMB", "BSI")}
"""The banks the sandbox issues virtual accounts for."""
_BY_CODE = {code: name for name, code in BANKS.items()}


def bank_name(bank_code: str) -> str | None:
    """The short name for a short name (any case) or a 3-digit code; None for a bank the sandbox does not know."""
    name = bank_code.strip().upper()
    return name if name in BANKS else _BY_CODE.get(name)
