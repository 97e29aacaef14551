"""Admin two-factor authentication: enrolment, the login check, and recovery codes.

Enrolling anew when 2FA is on needs a current code or a recovery code: 2FA is never silently replaced
or turned off by someone who only has the password (or a stolen session).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gerbang.auth import repository, totp
from gerbang.exceptions import Conflict, Forbidden, Unauthorized, UnprocessableEntity
from gerbang.kit.crypto import KeyRing
from gerbang.kit.sql import Connection


class OtpRequired(Unauthorized):
    code = "otp_required"


class InvalidOtp(Unauthorized):
    code = "invalid_otp"


class SecondFactorRequired(Forbidden):
    code = "second_factor_required"


class NoPendingEnrolment(Conflict):
    code = "no_pending_enrolment"


class InvalidEnrolmentCode(UnprocessableEntity):
    code = "invalid_otp"


def _context(admin_id: uuid.UUID) -> str:
    return f"admin:{admin_id}:totp"


async def check_second_factor(
    connection: Connection,
    key_ring: KeyRing,
    *,
    admin_id: uuid.UUID,
    secret_encrypted: str,
    last_step: int | None,
    otp: str | None,
    now: datetime,
) -> None:
    """Accept a fresh TOTP code or an unused recovery code, once; otherwise raise."""
    if not otp:
        raise OtpRequired("this account has two-factor authentication: send the code as `otp`")
    if totp.looks_like_recovery_code(otp):
        if await repository.use_recovery_code(connection, admin_id, totp.recovery_code_hash(otp), now):
            return
        raise InvalidOtp("the code is wrong or was already used")
    secret = key_ring.decrypt(secret_encrypted, context=_context(admin_id))
    step = totp.matching_step(secret, otp.strip(), now, last_step)
    if step is None or not await repository.advance_totp_step(connection, admin_id, step):
        raise InvalidOtp("the code is wrong or was already used")


async def start_enrolment(
    connection: Connection, key_ring: KeyRing, *, admin_id: uuid.UUID, proof: str | None, now: datetime
) -> tuple[str, str]:
    """A new secret and its otpauth:// URI (shown once); it takes effect after `confirm_enrolment`."""
    state = await repository.admin_totp(connection, admin_id)
    if state is None:  # the caller is an authenticated admin: only a deleted row gets here
        raise NoPendingEnrolment("no such admin")
    if state["totp_secret_encrypted"] is not None:
        if not proof:
            raise SecondFactorRequired("two-factor authentication is on: a current code or a recovery code is needed")
        await check_second_factor(
            connection, key_ring, admin_id=admin_id, secret_encrypted=state["totp_secret_encrypted"],
            last_step=state["totp_last_step"], otp=proof, now=now,
        )  # fmt: skip
    secret = totp.new_secret()
    await repository.set_pending_totp(connection, admin_id, key_ring.encrypt(secret, context=_context(admin_id)))
    return secret, totp.provisioning_uri(secret, state["email"])


async def confirm_enrolment(
    connection: Connection, key_ring: KeyRing, *, admin_id: uuid.UUID, code: str, now: datetime
) -> list[str]:
    """Switch to the pending secret if `code` comes from it; returns new recovery codes (shown once)."""
    state = await repository.admin_totp(connection, admin_id)
    pending = state["totp_pending_encrypted"] if state else None
    if pending is None:
        raise NoPendingEnrolment("start an enrolment first")
    step = totp.matching_step(key_ring.decrypt(pending, context=_context(admin_id)), code.strip(), now, None)
    if step is None:
        raise InvalidEnrolmentCode("the code does not match the new secret")
    if not await repository.activate_totp(connection, admin_id, pending=pending, active=pending, step=step):
        raise NoPendingEnrolment("the enrolment changed meanwhile; start again")
    codes = totp.new_recovery_codes()
    await repository.replace_recovery_codes(connection, admin_id, [totp.recovery_code_hash(c) for c in codes])
    return codes
