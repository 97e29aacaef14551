"""Choosing provider accounts for an order, and keeping score of their health.

Candidates are the enabled accounts that offer the method, are on today's schedule (weekday or
weekend by the business calendar), take the amount, have room under their daily cap and are not
shut by the circuit breaker. They are tried in this order: the partner's provider preferences, then
priority (lower first), then a weighted draw within a priority, so traffic splits by weight.

Circuit breaker: `FAILURE_THRESHOLD` consecutive failures (unavailable or untrustworthy answers) open
an account; after `COOL_DOWN` one request wins the trial call by compare-and-set, and its outcome
closes the account or opens it for another cool-down. Health lives in the database, so every
process sees the same state; `RECORD_HEALTH` writes it in the statement that records the order's
attempts.

A process keeps the enabled accounts between orders (`EnabledAccounts`) until any account changes: a
trigger notifies every process (migration 0024), and the process that wrote one forgets its copy at once.
Only the day's volumes of capped accounts are read for every order.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import asyncpg
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.db import RowCache
from gerbang.kit.sql import Connection, Query
from gerbang.models import ProviderAccount, ProviderAccountVolume
from gerbang.routing.repository import COLUMNS

FAILURE_THRESHOLD = 3
COOL_DOWN = timedelta(seconds=30)

_ACCOUNT, _VOLUME = ProviderAccount, ProviderAccountVolume
_RNG = random.Random()  # noqa: S311 (load spreading, not security; one per process, not one per order)
_ENABLED = Query(select(*COLUMNS).where(_ACCOUNT.enabled.is_(True)))
_VOLUMES = Query(
    select(_VOLUME.provider_account_id, _VOLUME.amount).where(
        _VOLUME.provider_account_id == bindparam("ids").any_(), _VOLUME.day == bindparam("day")
    )
)
_CLAIM_TRIAL = Query(
    update(ProviderAccount)
    .where(ProviderAccount.id == bindparam("id"), ProviderAccount.circuit_opened_at == bindparam("seen"))
    .values(circuit_opened_at=bindparam("now"))
    .returning(ProviderAccount.id)
)
RECORD_HEALTH = f"""
    UPDATE provider_accounts AS account
    SET consecutive_failures = CASE WHEN call.ok THEN 0 ELSE account.consecutive_failures + 1 END,
        circuit_opened_at = CASE
            WHEN call.ok THEN NULL
            WHEN account.consecutive_failures + 1 >= {FAILURE_THRESHOLD} THEN CAST(:now AS timestamptz)
            ELSE account.circuit_opened_at END
    FROM unnest(CAST(:health_ids AS uuid[]), CAST(:health_ok AS boolean[])) AS call(id, ok)
    WHERE account.id = call.id
      AND (NOT call.ok OR account.consecutive_failures > 0 OR account.circuit_opened_at IS NOT NULL)
"""
"""The circuit breaker's bookkeeping for the calls one order made (`health_ids[i]` answered well if
`health_ok[i]`), as SQL for a data-modifying CTE. A success on an account already healthy writes
nothing (and so does not lock the account's row, which every order routed there reads)."""
_ADD_VOLUME = Query(
    pg_insert(ProviderAccountVolume)
    .values(provider_account_id=bindparam("id"), day=bindparam("day"), amount=bindparam("amount"))
    .on_conflict_do_update(
        index_elements=["provider_account_id", "day"],
        set_={"amount": ProviderAccountVolume.amount + bindparam("amount")},
    )
)


def _ordered(rows: Sequence[asyncpg.Record], preferences: Sequence[str], rng: random.Random) -> list[asyncpg.Record]:
    rank = {name: index for index, name in enumerate(preferences)}

    def key(row: asyncpg.Record) -> tuple[int, int, float]:
        # A weighted draw without replacement: u^(1/w) sorted high to low picks in proportion to weight.
        draw = rng.random() ** (1.0 / row["weight"])
        return rank.get(row["provider"], len(rank)), row["priority"], -draw

    return sorted(rows, key=key)


EnabledAccounts = RowCache[str, list[asyncpg.Record]]
"""The enabled accounts as a process last read them, while no account changed (`gerbang.db.RowCache`)."""


async def candidates(
    connection: Connection,
    *,
    method: str,
    amount: int,
    providers: Sequence[str],
    preferences: Sequence[str],
    weekend: bool,
    day: date,
    now: datetime,
    enabled: EnabledAccounts | None = None,
    rng: random.Random | None = None,
) -> list[asyncpg.Record]:
    """`enabled`: a copy of the enabled accounts kept between orders (None: read them now). Only the daily
    volumes of capped accounts are always read, as they change with every payment."""
    if enabled is None:
        accounts = await _ENABLED.fetch(connection)
    else:
        accounts = await enabled.get("enabled", lambda: _ENABLED.fetch(connection)) or []
    reopen_before = now - COOL_DOWN
    fitting = [
        account for account in accounts
        if method in account["methods"] and account["provider"] in providers
        and (account["weekend_enabled"] if weekend else account["weekday_enabled"])
        and (account["min_amount"] is None or account["min_amount"] <= amount)
        and (account["max_amount"] is None or account["max_amount"] >= amount)
        and (account["circuit_opened_at"] is None or account["circuit_opened_at"] <= reopen_before)
    ]  # fmt: skip
    capped = [account["id"] for account in fitting if account["daily_cap"] is not None]
    if capped:
        volumes: dict[uuid.UUID, int] = {
            row["provider_account_id"]: row["amount"] for row in await _VOLUMES.fetch(connection, ids=capped, day=day)
        }
        fitting = [
            account for account in fitting
            if account["daily_cap"] is None or volumes.get(account["id"], 0) + amount <= account["daily_cap"]
        ]  # fmt: skip
    return _ordered(fitting, preferences, rng or _RNG)


async def claim_trial(connection: Connection, account: asyncpg.Record, now: datetime) -> bool:
    """For an account whose circuit is open past its cool-down: True for the one caller that may try it."""
    if account["circuit_opened_at"] is None:
        return True
    return (
        await _CLAIM_TRIAL.fetchrow(connection, id=account["id"], seen=account["circuit_opened_at"], now=now)
        is not None
    )


async def add_volume(connection: Connection, account_id: uuid.UUID, day: date, amount: int) -> None:
    await _ADD_VOLUME.execute(connection, id=account_id, day=day, amount=amount)
