"""Admin login, token audiences, refresh rotation, logout, and the per-request active check."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from gerbang.auth.sessions import AdminRole, create_admin
from gerbang.auth.tokens import Audience, issue_access_token
from gerbang.db import Database
from gerbang.kit.passwords import hash_password, verify_password
from gerbang.kit.time import utcnow
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import GERBANG, clean_env

EMAIL = "ops@gerbang.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def admin_id(database: Database) -> uuid.UUID:
    async with database.transaction() as connection:
        return await create_admin(connection, email="Ops@Gerbang.example", password=PASSWORD, role=AdminRole.FINANCE)


async def _login(client: httpx.AsyncClient, password: str = PASSWORD, email: str = EMAIL) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_password_hashes_are_argon2id_and_verify() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not-a-hash", PASSWORD)


async def test_login_me_refresh_logout(client: httpx.AsyncClient, admin_id: uuid.UUID) -> None:
    login = await _login(client)
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert set(tokens) == {"accessToken", "refreshToken", "tokenType", "expiresIn"}
    me = await client.get("/api/v1/auth/me", headers=_bearer(tokens["accessToken"]))
    assert me.json() == {"id": str(admin_id), "email": EMAIL, "role": "FINANCE", "twoFactorEnrolmentRequired": False}

    refreshed = await client.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200
    spent = await client.post("/api/v1/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert (spent.status_code, spent.json()["error"]) == (401, "invalid_refresh_token")
    # A spent token presented again means it leaked: the whole session ends, new tokens included.
    assert "already used" in spent.json()["detail"]
    reused = await client.get("/api/v1/auth/me", headers=_bearer(refreshed.json()["accessToken"]))
    assert (reused.status_code, reused.json()["error"]) == (401, "session_ended")
    stolen = await client.post("/api/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]})
    assert (stolen.status_code, stolen.json()["error"]) == (401, "invalid_refresh_token")

    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": (await _login(client)).json()["refreshToken"]}
    )
    access = refreshed.json()["accessToken"]
    assert (await client.post("/api/v1/auth/logout", headers=_bearer(access))).status_code == 204
    after = await client.get("/api/v1/auth/me", headers=_bearer(access))
    assert (after.status_code, after.json()["error"]) == (401, "session_ended")
    again = await client.post("/api/v1/auth/refresh", json={"refreshToken": refreshed.json()["refreshToken"]})
    assert again.status_code == 401


@pytest.mark.parametrize(("email", "password"), [(EMAIL, "wrong password!"), ("nobody@gerbang.example", PASSWORD)])
async def test_wrong_credentials_look_the_same(
    client: httpx.AsyncClient, admin_id: uuid.UUID, email: str, password: str
) -> None:
    response = await _login(client, password, email)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_credentials", "detail": "wrong email or password"}


async def test_a_deactivated_admin_is_refused_at_login_and_on_every_request(
    client: httpx.AsyncClient, admin_id: uuid.UUID, database: Database
) -> None:
    access = (await _login(client)).json()["accessToken"]
    async with database.transaction() as connection:
        await connection.execute("UPDATE admin_users SET status = 'inactive' WHERE id = $1", admin_id)
    me = await client.get("/api/v1/auth/me", headers=_bearer(access))
    assert (me.status_code, me.json()["error"]) == (403, "account_inactive")
    login = await _login(client)
    assert (login.status_code, login.json()["error"]) == (403, "account_inactive")


async def test_a_partner_audience_token_never_opens_an_admin_route(
    client: httpx.AsyncClient, admin_id: uuid.UUID
) -> None:
    login = (await _login(client)).json()
    claims = jwt.decode(login["accessToken"], options={"verify_signature": False})
    partner_token = issue_access_token(
        TEST_SECRET_KEY, Audience.partner, uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), utcnow()
    )
    response = await client.get("/api/v1/auth/me", headers=_bearer(partner_token))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic abc"}, "missing_token"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid_token"),
        ({"Authorization": "Bearer " + jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")}, "invalid_token"),
    ],
)
async def test_bad_tokens_are_401(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> None:
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert (response.status_code, response.json()["error"]) == (401, code)


async def test_expired_and_foreign_key_tokens(client: httpx.AsyncClient, admin_id: uuid.UUID) -> None:
    old = issue_access_token(TEST_SECRET_KEY, Audience.admin, admin_id, uuid.uuid4(), utcnow() - timedelta(hours=1))
    expired = await client.get("/api/v1/auth/me", headers=_bearer(old))
    assert (expired.status_code, expired.json()["error"]) == (401, "token_expired")
    forged = issue_access_token(
        "another-secret-key-entirely-0123456789", Audience.admin, admin_id, uuid.uuid4(), utcnow()
    )
    response = await client.get("/api/v1/auth/me", headers=_bearer(forged))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


async def test_a_token_for_a_session_that_never_existed_is_refused(
    client: httpx.AsyncClient, admin_id: uuid.UUID
) -> None:
    token = issue_access_token(TEST_SECRET_KEY, Audience.admin, admin_id, uuid.uuid4(), utcnow())
    response = await client.get("/api/v1/auth/me", headers=_bearer(token))
    assert (response.status_code, response.json()["error"]) == (401, "session_ended")


def _admin_create(tmp_path: Path, database_url: str, email: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GERBANG, "admin", "create", "--email", email, "--role", "SUPER_ADMIN", "--password-stdin"],
        input=password + "\n", env=clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_admin_create_command_reads_the_password_from_stdin(tmp_path: Path, database_url: str) -> None:
    created = _admin_create(tmp_path, database_url, "root@gerbang.example", PASSWORD)
    assert created.returncode == 0, created.stderr
    assert uuid.UUID(created.stdout.strip())
    assert PASSWORD not in created.stdout + created.stderr
    duplicate = _admin_create(tmp_path, database_url, "root@gerbang.example", PASSWORD)
    assert (duplicate.returncode, duplicate.stderr.strip()) == (
        1,
        "gerbang: user_exists: a user with this email exists",
    )
    weak = _admin_create(tmp_path, database_url, "weak@gerbang.example", "short")
    assert (weak.returncode, weak.stderr.strip()) == (
        1,
        "gerbang: weak_password: a password has 12 to 1024 characters",
    )
