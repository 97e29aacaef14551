"""Password hashing: argon2id with the library's current parameters."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when no user matches, so an unknown email costs the same time as a wrong password.
    Made on first use: one argon2 hash is a quarter of a second every process would pay at import."""
    return _HASHER.hash("gerbang-dummy-password-for-constant-time-login")


MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
