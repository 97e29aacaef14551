"""Revision 0018 on a database that already has alerts: each keeps its time and gets its kind's severity."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import command

from gerbang.db import asyncpg_dsn
from gerbang.migration import alembic_config


async def _connect(database_url: str) -> asyncpg.Connection[asyncpg.Record]:
    return await asyncpg.connect(asyncpg_dsn(database_url))


def test_alerts_written_before_delivery_existed(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0017")

    async def before() -> None:
        connection = await _connect(database_url)
        try:
            await connection.execute(
                "INSERT INTO alerts (kind, partner_id, message, created_at) VALUES "
                "('webhook_endpoint_disabled', NULL, 'a', '2026-11-30T01:00:00Z'), "
                "('withdrawal_completed_unfunded', NULL, 'b', '2026-11-30T02:00:00Z'), "
                "('settlement_summary', NULL, 'c', '2026-11-30T03:00:00Z')"
            )
        finally:
            await connection.close()

    async def after() -> list[tuple[str, str, str, int, bool]]:
        connection = await _connect(database_url)
        try:
            rows = await connection.fetch(
                "SELECT kind, severity, status, attempts, next_attempt_at = created_at AS due FROM alerts ORDER BY id"
            )
        finally:
            await connection.close()
        return [tuple(r) for r in rows]

    asyncio.run(before())
    command.upgrade(config, "0018")
    assert asyncio.run(after()) == [
        ("webhook_endpoint_disabled", "warning", "pending", 0, True),
        ("withdrawal_completed_unfunded", "critical", "pending", 0, True),
        ("settlement_summary", "info", "pending", 0, True),
    ]
