"""Partner API authentication over the real app and database: every way a request can be wrong gets
its status and stable code, and a rejected request changes nothing (the replay cache included)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gerbang.auth import service as auth_service
from gerbang.auth.signing import sign
from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.partner.service import CreatedPartner, create_partner
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import GERBANG, changed_behind_the_apps_back, clean_env

PATH = "/api/v1/auth/check"
BODY = b'{"ping":"pong"}'


async def _create(app: FastAPI, database: Database, name: str = "Toko Sinar") -> CreatedPartner:
    async with database.transaction() as connection:
        return await create_partner(connection, app.state.key_ring, name=name, webhook_url="https://toko.example/hook")


@pytest.fixture
async def partner(app: FastAPI, database: Database) -> CreatedPartner:
    return await _create(app, database)


def _headers(partner: CreatedPartner, *, method: str = "POST", path: str = PATH, body: bytes = BODY,
             timestamp: str | None = None, secret: str | None = None) -> dict[str, str]:  # fmt: skip
    stamp = timestamp or str(int(time.time() * 1000))
    return {
        "X-API-Key": partner.api_key,
        "X-Timestamp": stamp,
        "X-Signature": sign(secret or partner.signing_secret, method, path, stamp, body),
        "Content-Type": "application/json",
    }


async def _seen(database: Database) -> int:
    async with database.transaction() as connection:
        return int(await connection.fetchval("SELECT count(*) FROM seen_signatures"))


async def test_a_signed_request_authenticates(client: httpx.AsyncClient, partner: CreatedPartner) -> None:
    response = await client.post(PATH, content=BODY, headers=_headers(partner))
    assert response.status_code == 200, response.text
    assert response.json()["partnerId"] == str(partner.partner_id)
    assert response.json()["signed"] is True
    get = await client.get(PATH, headers=_headers(partner, method="GET", body=b""))
    assert get.status_code == 200, get.text


async def test_a_replayed_request_is_refused(
    client: httpx.AsyncClient, partner: CreatedPartner, database: Database
) -> None:
    headers = _headers(partner)
    assert (await client.post(PATH, content=BODY, headers=headers)).status_code == 200
    replay = await client.post(PATH, content=BODY, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"] == "replayed_request"
    assert await _seen(database) == 1


def _tamper(partner: CreatedPartner, how: str) -> tuple[bytes, dict[str, str]]:
    headers = _headers(partner)
    match how:
        case "body":
            return BODY + b" ", headers
        case "path":
            return BODY, _headers(partner, path="/api/v1/payments")
        case "skew_past":
            return BODY, _headers(partner, timestamp=str(int((time.time() - 301) * 1000)))
        case "skew_future":
            return BODY, _headers(partner, timestamp=str(int((time.time() + 301) * 1000)))
        case "wrong_secret":
            return BODY, _headers(partner, secret="gss_not-the-partners-secret")
        case "malformed_hex":
            return BODY, headers | {"X-Signature": "zz" * 32}
        case "short_signature":
            return BODY, headers | {"X-Signature": headers["X-Signature"][:40]}
        case "bad_timestamp":
            return BODY, headers | {"X-Timestamp": "yesterday"}
        case "no_signature":
            return BODY, {k: v for k, v in headers.items() if k != "X-Signature"}
        case "no_timestamp":
            return BODY, {k: v for k, v in headers.items() if k != "X-Timestamp"}
        case "no_key":
            return BODY, {k: v for k, v in headers.items() if k != "X-API-Key"}
        case "malformed_key":
            return BODY, headers | {"X-API-Key": "not-a-key"}
        case "unknown_key":
            return BODY, headers | {"X-API-Key": "gbk_0123456789ab_" + "A" * 43}
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "status", "code"),
    [
        ("body", 401, "invalid_signature"),
        ("path", 401, "invalid_signature"),
        ("skew_past", 401, "timestamp_out_of_window"),
        ("skew_future", 401, "timestamp_out_of_window"),
        ("wrong_secret", 401, "invalid_signature"),
        ("malformed_hex", 400, "malformed_signature"),
        ("short_signature", 400, "malformed_signature"),
        ("bad_timestamp", 400, "invalid_timestamp"),
        ("no_signature", 401, "missing_signature_headers"),
        ("no_timestamp", 401, "missing_signature_headers"),
        ("no_key", 401, "missing_api_key"),
        ("malformed_key", 401, "invalid_api_key"),
        ("unknown_key", 401, "invalid_api_key"),
    ],
)
async def test_a_bad_request_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, partner: CreatedPartner, database: Database, how: str, status: int, code: str
) -> None:
    body, headers = _tamper(partner, how)
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert await _seen(database) == 0


async def test_another_partners_secret_does_not_sign_for_this_key(
    app: FastAPI, client: httpx.AsyncClient, partner: CreatedPartner, database: Database
) -> None:
    other = await _create(app, database, "Warung Lain")
    response = await client.post(PATH, content=BODY, headers=_headers(partner, secret=other.signing_secret))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")


async def test_unsigned_requests_only_where_the_partner_and_the_route_allow(
    app: FastAPI, client: httpx.AsyncClient, partner: CreatedPartner, database: Database
) -> None:
    headers = {"X-API-Key": partner.api_key, "X-Timestamp": str(int(time.time() * 1000))}
    async with changed_behind_the_apps_back(app), database.transaction() as connection:
        await connection.execute("UPDATE partners SET allow_unsigned_requests = true WHERE id = $1", partner.partner_id)
    # The check endpoint is a signed-only route, like withdrawals: the partner setting does not open it.
    response = await client.post(PATH, content=BODY, headers=headers)
    assert (response.status_code, response.json()["error"]) == (401, "missing_signature_headers")
    async with database.transaction() as connection:
        authenticated = await auth_service.authenticate(
            connection, app.state.key_ring, api_key=partner.api_key, request=_unsigned(headers), now=utcnow(),
            unsigned_allowed=True,
        )  # fmt: skip
    assert authenticated.signed is False


def _unsigned(headers: dict[str, str]):  # type: ignore[no-untyped-def]
    from gerbang.auth.signing import SignedRequest

    return SignedRequest(method="POST", path=PATH, timestamp=headers["X-Timestamp"], body=BODY, signature=None)


async def test_inactive_partners_and_revoked_keys_are_refused(
    app: FastAPI, client: httpx.AsyncClient, partner: CreatedPartner, database: Database
) -> None:
    assert (await client.post(PATH, content=BODY, headers=_headers(partner))).status_code == 200
    async with changed_behind_the_apps_back(app), database.transaction() as connection:
        await connection.execute("UPDATE partners SET status = 'inactive' WHERE id = $1", partner.partner_id)
    inactive = await client.post(PATH, content=BODY, headers=_headers(partner))
    assert (inactive.status_code, inactive.json()["error"]) == (403, "partner_inactive")
    async with changed_behind_the_apps_back(app), database.transaction() as connection:
        await connection.execute("UPDATE partners SET status = 'active' WHERE id = $1", partner.partner_id)
        await connection.execute("UPDATE api_keys SET revoked_at = now() WHERE partner_id = $1", partner.partner_id)
    revoked = await client.post(PATH, content=BODY, headers=_headers(partner))
    assert (revoked.status_code, revoked.json()["error"]) == (401, "api_key_revoked")


async def test_secrets_are_stored_only_hashed_or_encrypted(partner: CreatedPartner, database: Database) -> None:
    async with database.transaction() as connection:
        rows = [dict(row) for row in await connection.fetch("SELECT * FROM partners")]
        rows += [dict(row) for row in await connection.fetch("SELECT * FROM api_keys")]
    stored = json.dumps(rows, default=str)
    for secret in (partner.api_key, partner.signing_secret, partner.webhook_secret):
        assert secret not in stored


async def test_expired_replay_entries_are_forgotten(
    client: httpx.AsyncClient, partner: CreatedPartner, database: Database
) -> None:
    assert (await client.post(PATH, content=BODY, headers=_headers(partner))).status_code == 200
    async with database.transaction() as connection:
        assert await auth_service.forget_expired_signatures(connection, utcnow()) == 0
        assert await auth_service.forget_expired_signatures(connection, utcnow() + timedelta(minutes=11)) == 1


def test_partner_create_command_prints_secrets_once(
    tmp_path: Path, database_url: str, app: FastAPI, client: httpx.AsyncClient
) -> None:
    result = subprocess.run(
        [*GERBANG, "partner", "create", "--name", "Toko CLI", "--webhook-url", "https://cli.example/hook", "--json"],
        env=clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"partner_id", "api_key", "signing_secret", "webhook_secret"}
    assert uuid.UUID(created["partner_id"])
    assert created["webhook_secret"].startswith("whsec_")
    for secret in (created["api_key"], created["signing_secret"], created["webhook_secret"]):
        assert secret not in result.stderr  # never in the logs
    bad = subprocess.run(
        [*GERBANG, "partner", "create", "--name", " ", "--json"],
        env=clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "gerbang: invalid_partner: a partner name has 1 to 200 characters"
