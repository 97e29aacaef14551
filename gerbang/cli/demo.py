"""The demo data `gerbang run` seeds on its first start in development, so the whole pay-in flow can be
tried at once: an admin, a partner with an API key and an OWNER user, and a sandbox provider account (or,
with `gerbang run --provider hilogate|oy` / `GERBANG_DEMO_PROVIDER`, an account at that provider's fake under
`/sandbox/<provider>`, so `POST /sandbox/orders/{id}/pay` sends that provider's own callback).

The generated passwords and secrets are written once to `<data_dir>/demo-credentials.json` (mode 0600)
and printed once, when they are created; later starts only say where the file is. Seeding is guarded by
a platform setting in the same transaction, so a second start (or a second `gerbang run` racing the
first) seeds nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from gerbang.auth import user_repository
from gerbang.auth.sessions import AdminRole, PartnerRole, create_admin, create_partner_user
from gerbang.cli.common import CURRENT_PROVIDER_SETTING, SEEDED_SETTING, credentials_file
from gerbang.config import Settings
from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.sql import Connection
from gerbang.kit.time import utcnow
from gerbang.partner import service as partner_service
from gerbang.partner.schemas import Fees, PartnerChanges
from gerbang.provider.base import PaymentMethod
from gerbang.routing.accounts import create_account
from gerbang.routing.schemas import AccountCreate
from gerbang.sandbox.fakes.genesis import fake_secret as genesis_fake_secret
from gerbang.sandbox.fakes.gidi import fake_credential_key
from gerbang.sandbox.fakes.gudangvoucher import fake_merchant_key
from gerbang.sandbox.fakes.hilogate import fake_secret
from gerbang.sandbox.fakes.netzme import DEMO_CLIENT_ID, DEMO_CLIENT_PRIVATE_KEY, NETZME_PUBLIC_KEY, fake_client_secret
from gerbang.sandbox.fakes.piro import fake_credentials as piro_fake_credentials

ADMIN_EMAIL = "admin@gerbang.local"
OWNER_EMAIL = "owner@toko-demo.local"
DEMO_MERCHANT = "GERBANG-DEMO"
DEMO_FEES = Fees(
    payin_weekday_percent=Decimal("1.5"), payin_weekday_flat=0, payin_weekend_percent=Decimal("2"),
    payin_weekend_flat=0, withdrawal_percent=Decimal(0), withdrawal_flat=2500,
)  # fmt: skip


async def seed(database: Database, settings: Settings) -> dict[str, Any] | None:
    """Seeds the demo data unless it is there; returns the new credentials, or None if already seeded."""
    key_ring = KeyRing(settings.secret_keys)
    now = utcnow()
    async with database.transaction() as connection:
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", SEEDED_SETTING)
        if await user_repository.get_setting(connection, SEEDED_SETTING):
            await _ensure_demo_provider(connection, key_ring, settings)
            return None
        admin_password = secrets.token_urlsafe(12)
        owner_password = secrets.token_urlsafe(12)
        await create_admin(connection, email=ADMIN_EMAIL, password=admin_password, role=AdminRole.SUPER_ADMIN)
        partner = await partner_service.create_partner(connection, key_ring, name="Toko Demo", require_https=False)
        await partner_service.update_partner(
            connection, partner.partner_id, PartnerChanges(fees=DEMO_FEES), require_https=False, now=now
        )
        await create_partner_user(
            connection, partner_id=partner.partner_id, email=OWNER_EMAIL, password=owner_password,
            role=PartnerRole.OWNER,
        )  # fmt: skip
        account = await create_account(connection, key_ring, demo_account(settings), now)
        await user_repository.put_setting(
            connection, SEEDED_SETTING, {"partner_id": str(partner.partner_id), "account_id": str(account.id)}, now
        )
        await user_repository.put_setting(connection, CURRENT_PROVIDER_SETTING, settings.demo_provider, now)
    return {
        "admin": {"email": ADMIN_EMAIL, "password": admin_password, "console": f"{settings.public_base_url}/docs"},
        "partner": {
            "partner_id": str(partner.partner_id), "api_key": partner.api_key,
            "signing_secret": partner.signing_secret, "webhook_secret": partner.webhook_secret,
            "owner_email": OWNER_EMAIL, "owner_password": owner_password,
        },
        "sandbox_provider_account_id": str(account.id),
    }  # fmt: skip


def demo_account(settings: Settings) -> AccountCreate:
    """The demo's provider account: the sandbox, or the fake of `GERBANG_DEMO_PROVIDER` (`--provider`)."""
    base = f"{settings.public_base_url}/sandbox"
    # D+0: a demo payment settles at the next settlement run, not days later.
    match settings.demo_provider:
        case "hilogate":
            credentials = {"merchantId": DEMO_MERCHANT, "secretKey": fake_secret(DEMO_MERCHANT)}
            return AccountCreate(
                provider="hilogate", name="Hilogate fake (demo)", base_url=f"{base}/hilogate",
                credentials=credentials, methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "oy":
            credentials = {"username": DEMO_MERCHANT.lower(), "apiKey": "oy_demo_" + secrets.token_urlsafe(18)}
            return AccountCreate(
                provider="oy", name="Oy! fake (demo)", base_url=f"{base}/oy", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "ing1":
            credentials = {
                "email": f"{DEMO_MERCHANT.lower()}@demo.test",
                "password": "ing1_demo_" + secrets.token_urlsafe(18),
            }
            return AccountCreate(
                provider="ing1", name="ING1 fake (demo)", base_url=f"{base}/ing1", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "gudangvoucher":
            credentials = {"merchantId": DEMO_MERCHANT, "merchantKey": fake_merchant_key(DEMO_MERCHANT)}
            return AccountCreate(
                provider="gudangvoucher", name="GudangVoucher fake (demo)", base_url=f"{base}/gudangvoucher",
                credentials=credentials, methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "gidi":
            merchant_id = "7100001"  # Gidi's merchant and sub-merchant ids are numeric
            credentials = {"merchantId": merchant_id, "subMerchantId": "7200001",
                           "credentialKey": fake_credential_key(merchant_id)}  # fmt: skip
            return AccountCreate(
                provider="gidi", name="Gidi fake (demo)", base_url=f"{base}/gidi", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "piro":
            piro = piro_fake_credentials(DEMO_MERCHANT)
            credentials = {
                "merchantId": DEMO_MERCHANT, "clientId": DEMO_MERCHANT, "clientSecret": piro["client_secret"],
                "signatureKey": piro["signature_key"], "latitude": "-6.2088", "longitude": "106.8456",
            }  # fmt: skip
            return AccountCreate(
                provider="piro", name="Piro fake (demo)", base_url=f"{base}/piro", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "genesis":
            credentials = {"clientId": DEMO_MERCHANT, "clientSecret": genesis_fake_secret(DEMO_MERCHANT)}
            return AccountCreate(
                provider="genesis", name="Genesis fake (demo)", base_url=f"{base}/genesis", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case "netzme":
            credentials = {
                "clientId": DEMO_CLIENT_ID, "partnerId": DEMO_CLIENT_ID, "channelId": "95221",
                "clientSecret": fake_client_secret(DEMO_CLIENT_ID), "privateKey": DEMO_CLIENT_PRIVATE_KEY,
                "providerPublicKey": NETZME_PUBLIC_KEY,
            }  # fmt: skip
            return AccountCreate(
                provider="netzme", name="Netzme fake (demo)", base_url=f"{base}/netzme", credentials=credentials,
                methods=[PaymentMethod.qris], settlement_days=0, priority=0,
            )  # fmt: skip
        case _:
            return AccountCreate(
                provider="sandbox", name="Sandbox (demo)", base_url=base,
                credentials={"merchant_key": "sbx_demo_" + secrets.token_urlsafe(18)}, methods=list(PaymentMethod),
                settlement_days=0,
            )  # fmt: skip


async def _ensure_demo_provider(connection: Connection, key_ring: KeyRing, settings: Settings) -> None:
    """A start with another `--provider` switches the demo to it: that fake's account (made the first time)
    gets priority 0 and the demo's other accounts 100, so routing prefers it until the next switch."""
    chosen = settings.demo_provider
    if await user_repository.get_setting(connection, CURRENT_PROVIDER_SETTING) == chosen:
        return
    first = await user_repository.get_setting(connection, SEEDED_SETTING)
    account_ids = {uuid.UUID(first["account_id"])}
    for setting in await connection.fetch("SELECT value FROM platform_settings WHERE key LIKE 'demo.provider.%'"):
        account_ids.add(uuid.UUID(setting["value"]["account_id"]))
    chosen_id = await connection.fetchval(
        "SELECT id FROM provider_accounts WHERE id = ANY($1) AND provider = $2 ORDER BY created_at LIMIT 1",
        list(account_ids), chosen,
    )  # fmt: skip
    if chosen_id is None:
        chosen_id = (await create_account(connection, key_ring, demo_account(settings), utcnow())).id
        await user_repository.put_setting(
            connection, f"demo.provider.{chosen}", {"account_id": str(chosen_id)}, utcnow()
        )
        account_ids.add(chosen_id)
    await connection.execute(
        "UPDATE provider_accounts SET priority = CASE WHEN id = $2 THEN 0 ELSE 100 END WHERE id = ANY($1)",
        list(account_ids), chosen_id,
    )  # fmt: skip
    await user_repository.put_setting(connection, CURRENT_PROVIDER_SETTING, chosen, utcnow())


def write_credentials(settings: Settings, credentials: dict[str, Any]) -> Path:
    path = credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(credentials, file, indent=2)
        file.write("\n")
    return path
