"""Two-factor authentication for admins and partner users alike: enrolment, the login check, and
recovery codes.

Enrolling anew when 2FA is on needs a current code or a recovery code: 2FA is never silently replaced
or turned off by someone who only has the password (or a stolen session).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gerbang.auth import totp
from gerbang.auth.user_repository import PARTNER_USERS, UserTable, replace_recovery_codes, use_recovery_code
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


def _context(users: UserTable, user_id: uuid.UUID) -> str:
    return f"{users.audience}:{user_id}:totp"


async def check_second_factor(
    connection: Connection,
    key_ring: KeyRing,
    users: UserTable,
    *,
    user_id: uuid.UUID,
    secret_encrypted: str,
    last_step: int | None,
    otp: str | None,
    now: datetime,
) -> None:
    """Accept a fresh TOTP code or an unused recovery code, once; otherwise raise."""
    if not otp:
        raise OtpRequired("this account has two-factor authentication: send the code as `otp`")
    if totp.looks_like_recovery_code(otp):
        if await use_recovery_code(connection, users.audience, user_id, totp.recovery_code_hash(otp), now):
            return
        raise InvalidOtp("the code is wrong or was already used")
    secret = key_ring.decrypt(secret_encrypted, context=_context(users, user_id))
    step = totp.matching_step(secret, otp.strip(), now, last_step)
    if step is None or not await users.advance_totp_step(connection, user_id, step):
        raise InvalidOtp("the code is wrong or was already used")


async def prove_second_factor(
    connection: Connection, key_ring: KeyRing, users: UserTable, *, user_id: uuid.UUID, proof: str | None, now: datetime
) -> None:
    """For sensitive changes: if the user has 2FA on, `proof` must be a current code or a recovery code."""
    state = await users.totp_state(connection, user_id)
    if state is None or state["totp_secret_encrypted"] is None:
        return
    if not proof:
        raise SecondFactorRequired("two-factor authentication is on: a current code or a recovery code is needed")
    await check_second_factor(
        connection, key_ring, users, user_id=user_id, secret_encrypted=state["totp_secret_encrypted"],
        last_step=state["totp_last_step"], otp=proof, now=now,
    )  # fmt: skip


async def start_enrolment(
    connection: Connection, key_ring: KeyRing, users: UserTable, *, user_id: uuid.UUID, proof: str | None, now: datetime
) -> tuple[str, str]:
    """A new secret and its otpauth:// URI (shown once); it takes effect after `confirm_enrolment`."""
    await prove_second_factor(connection, key_ring, users, user_id=user_id, proof=proof, now=now)
    state = await users.totp_state(connection, user_id)
    if state is None:  # the caller is authenticated: only a deleted row gets here
        raise NoPendingEnrolment("no such user")
    secret = totp.new_secret()
    await users.set_pending_totp(connection, user_id, key_ring.encrypt(secret, context=_context(users, user_id)))
    return secret, totp.provisioning_uri(secret, state["email"])


async def confirm_enrolment(
    connection: Connection, key_ring: KeyRing, users: UserTable, *, user_id: uuid.UUID, code: str, now: datetime
) -> list[str]:
    """Switch to the pending secret if `code` comes from it; returns new recovery codes (shown once)."""
    state = await users.totp_state(connection, user_id)
    pending = state["totp_pending_encrypted"] if state else None
    if pending is None:
        raise NoPendingEnrolment("start an enrolment first")
    secret = key_ring.decrypt(pending, context=_context(users, user_id))
    step = totp.matching_step(secret, code.strip(), now, None)
    if step is None:
        raise InvalidEnrolmentCode("the code does not match the new secret")
    if not await users.activate_totp(connection, user_id, pending=pending, step=step):
        raise NoPendingEnrolment("the enrolment changed meanwhile; start again")
    codes = totp.new_recovery_codes()
    await replace_recovery_codes(connection, users.audience, user_id, [totp.recovery_code_hash(c) for c in codes])
    return codes


class TwoFactorNotEnrolled(Forbidden):
    code = "two_factor_enrolment_required"


async def confirm_payout(
    connection: Connection, key_ring: KeyRing, *, user_id: uuid.UUID, otp: str | None, required: bool, now: datetime,
    users: UserTable = PARTNER_USERS,
) -> None:  # fmt: skip
    """A payout from a console: a user with 2FA proves it with a current code (or a recovery code); where 2FA
    is required for payouts (by the partner for its users; always for the platform's own), a user who has not
    enrolled is refused."""
    state = await users.totp_state(connection, user_id)
    if state is None or state["totp_secret_encrypted"] is None:
        if required:
            raise TwoFactorNotEnrolled("two-factor authentication is required for this payout: enrol first")
        return
    await check_second_factor(
        connection, key_ring, users, user_id=user_id, secret_encrypted=state["totp_secret_encrypted"],
        last_step=state["totp_last_step"], otp=otp, now=now,
    )  # fmt: skip
