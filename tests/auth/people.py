"""Building admins, partners and partner users for tests, and logging them in over the API."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from gerbang.auth.sessions import AdminRole, PartnerRole, create_admin, create_partner_user
from gerbang.auth.signing import sign
from gerbang.db import Database
from gerbang.partner.service import CreatedPartner, create_partner

PASSWORD = "correct horse battery staple"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_headers(
    client: httpx.AsyncClient, database: Database, role: AdminRole = AdminRole.ADMIN
) -> dict[str, str]:
    email = f"{role.value.lower()}-{uuid.uuid4().hex[:6]}@gerbang.example"
    async with database.transaction() as connection:
        await create_admin(connection, email=email, password=PASSWORD, role=role)
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return bearer(login.json()["accessToken"])


@dataclass
class Tenant:
    """A partner with its secrets and one logged-in user per role."""

    partner: CreatedPartner
    headers: dict[PartnerRole, dict[str, str]]
    emails: dict[PartnerRole, str]

    @property
    def id(self) -> uuid.UUID:
        return self.partner.partner_id


async def tenant(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    name: str,
    *,
    parent: uuid.UUID | None = None,
    roles: tuple[PartnerRole, ...] = (PartnerRole.OWNER,),
) -> Tenant:
    async with database.transaction() as connection:
        created = await create_partner(
            connection, app.state.key_ring, name=name, webhook_url="https://toko.example/hook", parent_id=parent
        )
        emails = {}
        for role in roles:
            emails[role] = f"{role.value.lower()}-{uuid.uuid4().hex[:6]}@{name.lower().replace(' ', '')}.example"
            await create_partner_user(
                connection, partner_id=created.partner_id, email=emails[role], password=PASSWORD, role=role
            )
    headers = {}
    for role, email in emails.items():
        login = await client.post("/api/v1/client/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers[role] = bearer(login.json()["accessToken"])
    return Tenant(created, headers, emails)


def signed(api_key: str, signing_secret: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {"X-API-Key": api_key, "X-Timestamp": stamp, "X-Signature": sign(signing_secret, method, path, stamp, body)}
