"""Provider accounts: created and changed by admins; credentials checked by the provider's adapter and
stored encrypted, never returned."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import orjson

from gerbang.db import Database
from gerbang.exceptions import GerbangError, NotFound, UnprocessableEntity
from gerbang.kit.crypto import KeyRing
from gerbang.kit.sql import Connection
from gerbang.kit.time import utcnow
from gerbang.provider.base import BalanceNotOffered, ProviderAccount, ProviderRejected, ProviderUnavailable
from gerbang.provider.registry import PAYOUT_PROVIDERS, UnknownProvider, provider
from gerbang.routing import repository
from gerbang.routing.schemas import Account, AccountChanges, AccountCreate, ProviderBalance


class InvalidProviderAccount(UnprocessableEntity):
    code = "invalid_provider_account"


class InvalidSettlementRule(InvalidProviderAccount):
    code = "invalid_settlement_rule"


class ProviderAccountNotFound(NotFound):
    code = "provider_account_not_found"


def _context(account_id: uuid.UUID) -> str:
    return f"provider_account:{account_id}:credentials"


def _checked_credentials(provider_name: str, credentials: Mapping[str, str]) -> dict[str, str]:
    try:
        return provider(provider_name).check_credentials(credentials)
    except UnknownProvider as error:
        raise InvalidProviderAccount(str(error)) from None
    except ValueError as error:  # the adapter's message names fields, never values
        raise InvalidProviderAccount(f"credentials: {error}") from None


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise InvalidProviderAccount("baseUrl must be an http(s) URL with a host and no credentials")


def _check_amounts(values: Mapping[str, Any]) -> None:
    low, high = values.get("min_amount"), values.get("max_amount")
    if low is not None and high is not None and high < low:
        raise InvalidProviderAccount("maxAmount is below minAmount")


def _check_settlement(values: Mapping[str, Any]) -> None:
    # A cut-off decides which business day a payment counts from: nothing to decide otherwise.
    counts_days = values["settlement_rule"] == "business_days" and values["settlement_days"] > 0
    if values["settlement_cutoff_hour"] is not None and not counts_days:
        raise InvalidSettlementRule(
            "settlementCutoffHour applies to settlementRule business_days with settlementDays >= 1 only"
        )


def _account(row: asyncpg.Record, key_ring: KeyRing) -> Account:
    values = dict(row)
    fields = sorted(orjson.loads(key_ring.decrypt(values.pop("credentials_encrypted"), context=_context(row["id"]))))
    return Account.model_validate(values | {"credential_fields": fields})


def adapter_account(row: asyncpg.Record, key_ring: KeyRing) -> ProviderAccount:
    """The account as an adapter takes it, credentials decrypted (for the call, never for display)."""
    credentials = orjson.loads(key_ring.decrypt(row["credentials_encrypted"], context=_context(row["id"]), keep=True))
    return ProviderAccount(row["id"], row["provider"], row["base_url"], credentials)


async def create_account(
    connection: Connection, key_ring: KeyRing, body: AccountCreate, now: datetime, *,
    default_base_url: str | None = None,
) -> Account:  # fmt: skip
    """`default_base_url`: the provider's `GERBANG_<PROVIDER>_BASE_URL`, for a body without `baseUrl`."""
    credentials = _checked_credentials(body.provider, body.credentials)
    base_url = body.base_url or default_base_url
    if base_url is None:
        raise InvalidProviderAccount(f"baseUrl is required for provider {body.provider!r}")
    _check_url(base_url)
    account_id = uuid.uuid4()
    rules = body.model_dump(by_alias=False, exclude={"provider", "name", "base_url", "credentials"})
    _check_amounts(rules)
    _check_settlement(rules)
    await repository.insert_account(
        connection, id=account_id, provider=body.provider, name=body.name, base_url=base_url,
        credentials_encrypted=key_ring.encrypt(orjson.dumps(credentials).decode(), context=_context(account_id)),
        **{**rules, "methods": [m.value for m in body.methods]},
    )  # fmt: skip
    return await get_account(connection, key_ring, account_id)


async def list_accounts(connection: Connection, key_ring: KeyRing) -> list[Account]:
    return [_account(row, key_ring) for row in await repository.list_accounts(connection)]


async def get_account(connection: Connection, key_ring: KeyRing, account_id: uuid.UUID) -> Account:
    row = await repository.get_account(connection, account_id)
    if row is None:
        raise ProviderAccountNotFound(f"no provider account {account_id}")
    return _account(row, key_ring)


async def update_account(
    connection: Connection, key_ring: KeyRing, account_id: uuid.UUID, changes: AccountChanges, now: datetime
) -> tuple[Account, Account]:
    row = await repository.get_account(connection, account_id, for_update=True)
    if row is None:
        raise ProviderAccountNotFound(f"no provider account {account_id}")
    before = _account(row, key_ring)
    values = changes.model_dump(by_alias=False, exclude_unset=True)
    not_null = (
        "name", "base_url", "methods", "weekday_enabled", "weekend_enabled", "priority", "weight", "enabled",
        "settlement_rule", "settlement_days",
    )  # fmt: skip
    for name in not_null:
        if name in values and values[name] is None:
            raise InvalidProviderAccount(f"{name} cannot be null")
    if "credentials" in values:
        credentials = _checked_credentials(row["provider"], values.pop("credentials"))
        values["credentials_encrypted"] = key_ring.encrypt(
            orjson.dumps(credentials).decode(), context=_context(account_id)
        )
    if "base_url" in values:
        _check_url(values["base_url"])
    if "methods" in values:
        values["methods"] = [m.value if hasattr(m, "value") else m for m in values["methods"]]
    _check_amounts({"min_amount": row["min_amount"], "max_amount": row["max_amount"]} | values)
    settlement = ("settlement_rule", "settlement_days", "settlement_cutoff_hour")
    _check_settlement({name: row[name] for name in settlement} | values)
    if values:
        await repository.update_account(connection, account_id, values, now)
    return before, await get_account(connection, key_ring, account_id)


class NoProviderBalance(UnprocessableEntity):
    code = "balance_not_offered"


class ProviderRefusedBalance(UnprocessableEntity):
    code = "provider_rejected"


class ProviderBalanceUnavailable(GerbangError):
    status_code = 502
    code = "provider_unavailable"


async def provider_balance(
    database: Database, key_ring: KeyRing, session: aiohttp.ClientSession, account_id: uuid.UUID
) -> ProviderBalance:
    """What the provider says the account can still pay out, asked now. No connection is held during the call."""
    async with database.connection() as connection:
        row = await repository.get_account(connection, account_id)
    if row is None:
        raise ProviderAccountNotFound(f"no provider account {account_id}")
    adapter = PAYOUT_PROVIDERS.get(row["provider"])
    if adapter is None:
        raise NoProviderBalance(f"{row['provider']} pays nothing out, so it reports no balance")
    try:
        amount = await adapter.balance(session, adapter_account(row, key_ring))
    except BalanceNotOffered as error:
        raise NoProviderBalance(str(error)) from None
    except ProviderRejected as error:
        raise ProviderRefusedBalance(f"{row['provider']} refused the balance query: {error}") from None
    except ProviderUnavailable as error:
        raise ProviderBalanceUnavailable(str(error)) from None
    return ProviderBalance(account_id=account_id, provider=row["provider"], balance=amount, checked_at=utcnow())
