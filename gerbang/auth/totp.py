"""TOTP (RFC 6238, 30 s steps, 6 digits) for admins and partner users, and one-time recovery codes.

A code is accepted once: the matched time step must be later than the last accepted one, recorded
with a compare-and-set, so a code seen over someone's shoulder cannot be replayed inside its window.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import pyotp

from gerbang.kit.crypto import equal, sha256_hex

ISSUER = "gerbang"
RECOVERY_CODE_COUNT = 10
_STEP_S = 30
_CODE = re.compile(r"[0-9]{6}")
_RECOVERY = re.compile(r"[0-9a-f]{5}-?[0-9a-f]{5}")


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime, after_step: int | None) -> int | None:
    """The time step `code` is valid for (now, or one step either side for clock drift), if it is
    later than `after_step`."""
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // _STEP_S
    for step in (current - 1, current, current + 1):
        if (after_step is None or step > after_step) and equal(totp.at(step * _STEP_S), code):
            return step
    return None


def looks_like_recovery_code(value: str) -> bool:
    return bool(_RECOVERY.fullmatch(value.strip().lower()))


def new_recovery_codes() -> list[str]:
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def recovery_code_hash(code: str) -> str:
    return sha256_hex(code.strip().lower().replace("-", "").encode())
