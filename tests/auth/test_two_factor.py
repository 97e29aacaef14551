"""Admin TOTP: enrolment, login with a code or a recovery code, each accepted once, no silent reset."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pyotp
import pytest

from gerbang.auth import totp
from gerbang.auth.sessions import AdminRole, create_admin
from gerbang.db import Database
from gerbang.kit.time import utcnow

EMAIL = "twofa@gerbang.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def admin_id(database: Database) -> uuid.UUID:
    async with database.transaction() as connection:
        return await create_admin(connection, email=EMAIL, password=PASSWORD, role=AdminRole.ADMIN)


async def _login(client: httpx.AsyncClient, otp: str | None = None) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "otp": otp})


async def _enrolled(client: httpx.AsyncClient) -> tuple[str, list[str], dict[str, str]]:
    access = (await _login(client)).json()["accessToken"]
    auth = {"Authorization": f"Bearer {access}"}
    setup = await client.post("/api/v1/auth/2fa/setup", json={}, headers=auth)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauthUri"].startswith("otpauth://totp/gerbang:")
    enabled = await client.post("/api/v1/auth/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=auth)
    assert enabled.status_code == 200, enabled.text
    return secret, enabled.json()["recoveryCodes"], auth


def _next_code(secret: str) -> str:
    """A code for the next time step: the current one was spent by the enrolment."""
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))


def test_a_code_matches_its_step_once() -> None:
    secret = totp.new_secret()
    now = utcnow()
    code = pyotp.TOTP(secret).at(now)
    step = totp.matching_step(secret, code, now, None)
    assert step is not None
    assert totp.matching_step(secret, code, now, step) is None
    assert totp.matching_step(secret, "12345", now, None) is None
    assert totp.matching_step(secret, code, now + timedelta(minutes=5), None) is None


async def test_after_enrolment_login_needs_a_fresh_code(client: httpx.AsyncClient, admin_id: uuid.UUID) -> None:
    secret, codes, _ = await _enrolled(client)
    assert len(codes) == 10
    missing = await _login(client)
    assert (missing.status_code, missing.json()["error"]) == (401, "otp_required")
    wrong = await _login(client, "000000" if _next_code(secret) != "000000" else "111111")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_otp")
    code = _next_code(secret)
    assert (await _login(client, code)).status_code == 200
    replay = await _login(client, code)
    assert (replay.status_code, replay.json()["error"]) == (401, "invalid_otp")


async def test_a_recovery_code_works_once(client: httpx.AsyncClient, admin_id: uuid.UUID) -> None:
    _, codes, _ = await _enrolled(client)
    assert (await _login(client, codes[0].upper())).status_code == 200
    again = await _login(client, codes[0])
    assert (again.status_code, again.json()["error"]) == (401, "invalid_otp")
    assert (await _login(client, codes[1].replace("-", ""))).status_code == 200


async def test_re_enrolment_needs_proof(client: httpx.AsyncClient, admin_id: uuid.UUID, database: Database) -> None:
    secret, codes, _ = await _enrolled(client)
    access = (await _login(client, codes[0])).json()["accessToken"]
    auth = {"Authorization": f"Bearer {access}"}
    before = await _totp_state(database, admin_id)
    refused = await client.post("/api/v1/auth/2fa/setup", json={}, headers=auth)
    assert (refused.status_code, refused.json()["error"]) == (403, "second_factor_required")
    wrong = await client.post("/api/v1/auth/2fa/setup", json={"proof": codes[0]}, headers=auth)  # spent
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_otp")
    assert await _totp_state(database, admin_id) == before
    allowed = await client.post("/api/v1/auth/2fa/setup", json={"proof": codes[1]}, headers=auth)
    assert allowed.status_code == 200
    # Until confirmed, the old authenticator stays the one that counts.
    assert (await _login(client, _next_code(secret))).status_code == 200


async def test_enable_without_setup_or_with_a_wrong_code(client: httpx.AsyncClient, admin_id: uuid.UUID) -> None:
    auth = {"Authorization": f"Bearer {(await _login(client)).json()['accessToken']}"}
    none = await client.post("/api/v1/auth/2fa/enable", json={"code": "123456"}, headers=auth)
    assert (none.status_code, none.json()["error"]) == (409, "no_pending_enrolment")
    await client.post("/api/v1/auth/2fa/setup", json={}, headers=auth)
    wrong = await client.post("/api/v1/auth/2fa/enable", json={"code": "abc"}, headers=auth)
    assert (wrong.status_code, wrong.json()["error"]) == (422, "invalid_otp")
    assert (await _login(client)).status_code == 200  # still no 2FA: nothing was enabled


async def test_totp_secrets_are_stored_encrypted(
    client: httpx.AsyncClient, admin_id: uuid.UUID, database: Database
) -> None:
    secret, codes, _ = await _enrolled(client)
    async with database.transaction() as connection:
        row = dict(await connection.fetchrow("SELECT * FROM admin_users WHERE id = $1", admin_id))
        hashes = [r["code_hash"] for r in await connection.fetch("SELECT code_hash FROM recovery_codes")]
    assert secret not in str(row)
    assert not any(code.replace("-", "") in str(hashes) for code in codes)


async def _totp_state(database: Database, admin_id: uuid.UUID) -> tuple[object, ...]:
    async with database.transaction() as connection:
        row = await connection.fetchrow(
            "SELECT totp_secret_encrypted, totp_pending_encrypted FROM admin_users WHERE id = $1", admin_id
        )
    assert row is not None
    return tuple(row)
