"""Rows kept in memory between requests (`gerbang.db.RowChanges`, `RowCache`): trusted only while the
LISTEN connection is up and no trigger said a row changed; a key revoked or a partner deactivated by
another process is refused once the notification arrives."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from gerbang.calendar.repository import put_days_off
from gerbang.db import LISTENER_NAME, Database, RowCache, RowChanges, asyncpg_dsn
from gerbang.kit.time import utcnow
from tests.auth.people import Tenant
from tests.order.conftest import AddAccount, Post, add_account, admin, live, post, shop

__all__ = ["add_account", "admin", "live", "post", "shop"]


async def until(check: Callable[[], bool], timeout_s: float = 5) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.fixture
async def changes(database_url: str) -> AsyncIterator[RowChanges]:
    row_changes = RowChanges(asyncpg_dsn(database_url), health_check_s=0.2)
    await row_changes.start()
    await until(lambda: row_changes.live)
    yield row_changes
    await row_changes.stop()


class CountingRead:
    def __init__(self, value: str | None = "row") -> None:
        self.value = value
        self.reads = 0

    async def __call__(self) -> str | None:
        self.reads += 1
        return self.value


async def test_a_value_is_read_once_until_a_trigger_says_its_table_changed(
    changes: RowChanges, database: Database, shop: Tenant
) -> None:
    cache = RowCache[str, str](changes)
    read = CountingRead()
    assert [await cache.get("k", read) for _ in range(5)] == ["row"] * 5
    assert read.reads == 1

    generation = changes.generation
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET name = name || ' Baru' WHERE id = $1", shop.id)
    await until(lambda: changes.generation != generation)
    await cache.get("k", read)
    assert read.reads == 2


async def test_webhook_health_counters_do_not_empty_the_cache(
    changes: RowChanges, database: Database, shop: Tenant
) -> None:
    generation = changes.generation
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE partners SET webhook_dead_streak = webhook_dead_streak + 1 WHERE id = $1", shop.id
        )
        # A later change in the same table is the control: its notification proves the first one sent none.
        await connection.execute("UPDATE api_keys SET expires_at = expires_at WHERE partner_id = $1", shop.id)
    await until(lambda: changes.generation != generation)
    assert changes.generation == generation + 1


async def test_misses_are_not_kept(changes: RowChanges) -> None:
    cache = RowCache[str, str](changes)
    read = CountingRead(None)
    assert await cache.get("k", read) is None
    read.value = "created since"
    assert await cache.get("k", read) == "created since"
    assert read.reads == 2


async def test_a_change_during_the_read_is_never_served_from_memory(changes: RowChanges) -> None:
    cache = RowCache[str, str](changes)

    async def read_while_someone_changes_the_row() -> str:
        changes.changed()  # what a notification arriving mid-read does
        return "maybe stale"

    await cache.get("k", read_while_someone_changes_the_row)
    fresh = CountingRead("fresh")
    assert await cache.get("k", fresh) == "fresh"
    assert fresh.reads == 1


async def test_nothing_is_trusted_while_the_listener_is_down(changes: RowChanges, database: Database) -> None:
    cache = RowCache[str, str](changes)
    read = CountingRead()
    await cache.get("k", read)
    async with database.transaction() as connection:
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
        )
    assert killed >= 1
    await until(lambda: not changes.live)
    await cache.get("k", read)
    await cache.get("k", read)
    assert read.reads == 3, "read from the database every time while not listening"
    await until(lambda: changes.live)
    await cache.get("k", read)
    await cache.get("k", read)
    assert read.reads == 4


async def test_a_key_revoked_by_another_process_is_refused_once_the_notification_arrives(
    app: FastAPI, client: httpx.AsyncClient, post: Post, shop: Tenant, database: Database
) -> None:
    changes: RowChanges = app.state.row_changes
    await until(lambda: changes.live)
    body = {"amount": 10_000, "reference": f"before-{uuid.uuid4()}"}
    first = await post(shop, "/api/v1/payments", body)
    assert first.status_code in (201, 422), first.text  # 422 no_provider_available: the key was accepted
    generation = changes.generation
    # Another process revokes it: straight in the database, so only the trigger can tell this one.
    async with database.transaction() as connection:
        await connection.execute("UPDATE api_keys SET revoked_at = now() WHERE partner_id = $1", shop.id)
    await until(lambda: changes.generation != generation)
    refused = await post(shop, "/api/v1/payments", {"amount": 10_000, "reference": f"after-{uuid.uuid4()}"})
    assert (refused.status_code, refused.json()["error"]) == (401, "api_key_revoked")


async def test_a_partner_deactivated_by_another_process_is_refused(
    app: FastAPI, post: Post, shop: Tenant, database: Database
) -> None:
    changes: RowChanges = app.state.row_changes
    await until(lambda: changes.live)
    assert (await post(shop, "/api/v1/payments", {"amount": 10_000})).status_code in (201, 422)
    generation = changes.generation
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET status = 'inactive' WHERE id = $1", shop.id)
    await until(lambda: changes.generation != generation)
    refused = await post(shop, "/api/v1/payments", {"amount": 10_000})
    assert (refused.status_code, refused.json()["error"]) == (403, "partner_inactive")


async def test_the_listener_reconnects_after_the_database_drops_it(changes: RowChanges, database: Database) -> None:
    async def terminate_listeners() -> int:
        async with database.transaction() as connection:
            killed: int = await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                LISTENER_NAME,
            )
            return killed

    for _ in range(2):
        assert await terminate_listeners() >= 1
        await until(lambda: not changes.live)
        await until(lambda: changes.live)


async def test_a_platform_setting_saved_elsewhere_reaches_the_pay_in_calendar(app: FastAPI, database: Database) -> None:
    changes: RowChanges = app.state.row_changes
    await until(lambda: changes.live)
    day = date(2031, 3, 4)  # a Tuesday: no weekend, no holiday
    async with database.connection() as connection:
        assert (await app.state.calendar.current(connection)).is_business_day(day)
    generation = changes.generation
    async with database.transaction() as connection:
        await put_days_off(connection, [day], utcnow())
    await until(lambda: changes.generation != generation)
    async with database.connection() as connection:
        assert not (await app.state.calendar.current(connection)).is_business_day(day)


async def _routed_to(database: Database, response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    async with database.connection() as connection:
        account_id = await connection.fetchval(
            "SELECT provider_account_id FROM orders WHERE id = $1", uuid.UUID(response.json()["result"]["orderId"])
        )
    return str(account_id)


async def test_routing_reads_the_enabled_accounts_once_while_none_changes(
    app: FastAPI, post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    changes: RowChanges = app.state.row_changes
    await until(lambda: changes.live)
    first = await add_account("First", priority=1)
    second = await add_account("Second", priority=2)
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_000})) == first["id"]
    # A write that fires no trigger (replication role) stands for a change no one is told of: routing keeps
    # using the copy it read, so it is not reading the accounts for every order.
    async with database.transaction() as connection:
        await connection.execute("SET LOCAL session_replication_role = replica")
        await connection.execute("UPDATE provider_accounts SET priority = 9 WHERE id = $1::uuid", first["id"])
    await asyncio.sleep(0.1)
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_001})) == first["id"]

    # Told of a change (here: another process disables the second account), it reads them again.
    generation = changes.generation
    async with database.transaction() as connection:
        await connection.execute("UPDATE provider_accounts SET enabled = false WHERE id = $1::uuid", second["id"])
    await until(lambda: changes.generation != generation)
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_002})) == first["id"]
    async with database.transaction() as connection:
        await connection.execute("UPDATE provider_accounts SET enabled = true WHERE id = $1::uuid", second["id"])
    await until(lambda: changes.generation != generation + 1)
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_003})) == second["id"]


async def test_an_account_disabled_by_an_admin_takes_no_next_order(
    client: httpx.AsyncClient, admin: dict[str, str], post: Post, shop: Tenant, add_account: AddAccount,
    database: Database,
) -> None:  # fmt: skip
    first = await add_account("First", priority=1)
    second = await add_account("Second", priority=2)
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_000})) == first["id"]
    changed = await client.patch(
        f"/api/v1/admin/provider-accounts/{first['id']}", json={"enabled": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert await _routed_to(database, await post(shop, "/api/v1/payments", {"amount": 10_001})) == second["id"]
