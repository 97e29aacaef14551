"""The jobs of the registry: the dashboard summary's figures and alert, the request-log purge, and the
worker running them through its scheduler."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import JAKARTA
from gerbang.partner.service import create_partner
from gerbang.scheduler.base import JobContext
from gerbang.scheduler.dashboard import summarise
from gerbang.worker.jobs import JOBS
from gerbang.worker.main import worker_loops
from tests.fixtures.app import TEST_SECRET_KEY


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JAKARTA)


async def _seed(database: Database) -> None:
    async with database.transaction() as connection:
        partner = (await create_partner(connection, KeyRing([TEST_SECRET_KEY]), name="Toko Ringkas")).partner_id
        account = uuid.uuid4()
        await connection.execute(
            "INSERT INTO provider_accounts (id, provider, name, base_url, credentials_encrypted, methods) "
            "VALUES ($1, 'sandbox', 'Sandbox', 'http://127.0.0.1:9', 'x', '{qris}')",
            account,
        )
        orders = [
            (wib(2026, 12, 2, 13, 10), "PAID", 100_000, 1_500),
            (wib(2026, 12, 2, 13, 50), "PAID", 50_000, 750),
            (wib(2026, 12, 2, 13, 59, 59), "PENDING", 20_000, 300),
            (wib(2026, 12, 2, 9, 0), "PAID", 200_000, 3_000),  # today, not the last hour
            (wib(2026, 12, 2, 14, 0), "PAID", 999, 15),  # at the slot: the next hour's
            (wib(2026, 12, 1, 23, 30), "EXPIRED", 7_000, 105),  # yesterday
        ]
        for created_at, status, amount, fee in orders:
            await connection.execute(
                "INSERT INTO orders (id, partner_id, reference, amount, fee, status, expires_at, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                uuid.uuid4(), partner, f"R-{uuid.uuid4().hex[:8]}", amount, fee, status, created_at,
            )  # fmt: skip
        withdrawals = [(wib(2026, 12, 2, 13, 30), "COMPLETED", 40_000), (wib(2026, 12, 2, 8, 0), "FAILED", 10_000)]
        for created_at, status, amount in withdrawals:
            await connection.execute(
                "INSERT INTO withdrawals (id, partner_id, reference, source, amount, fee, net, bank_code, "
                "account_number, account_holder, provider_account_id, status, next_check_at, created_at) "
                "VALUES ($1, $2, $3, 'console', $4, 0, $4, 'BCA', '1234567890', 'BUDI', $5, $6, $7, $7)",
                uuid.uuid4(), partner, f"W-{uuid.uuid4().hex[:8]}", amount, account, status, created_at,
            )  # fmt: skip


def _context(database: Database, settings: Settings, slot: datetime) -> JobContext:
    return JobContext(database, settings, uuid.uuid4(), "cron", asyncio.Event(), scheduled_for=slot)


async def test_the_dashboard_summary_reports_the_hour_and_the_day_by_status(
    database: Database, settings: Settings
) -> None:
    await _seed(database)
    result = await summarise(_context(database, settings, wib(2026, 12, 2, 14, 0)))
    assert result.counts == {
        "payins.hour.PAID": 2, "payins.hour.PENDING": 1, "payins.today.PAID": 3, "payins.today.PENDING": 1,
        "withdrawals.hour.COMPLETED": 1, "withdrawals.today.COMPLETED": 1, "withdrawals.today.FAILED": 1,
    }  # fmt: skip
    assert result.amounts == {
        "payins.hour.PAID.gross": 150_000, "payins.hour.PAID.fee": 2_250,
        "payins.hour.PENDING.gross": 20_000, "payins.hour.PENDING.fee": 300,
        "payins.today.PAID.gross": 350_000, "payins.today.PAID.fee": 5_250,
        "payins.today.PENDING.gross": 20_000, "payins.today.PENDING.fee": 300,
        "withdrawals.hour.COMPLETED.amount": 40_000, "withdrawals.today.COMPLETED.amount": 40_000,
        "withdrawals.today.FAILED.amount": 10_000,
    }  # fmt: skip
    async with database.connection() as connection:
        alerts = await connection.fetch("SELECT message FROM alerts WHERE kind = 'dashboard_summary'")
    assert [row["message"] for row in alerts] == [
        "Dashboard summary to 2026-12-02 14:00 WIB\n"
        "Pay-ins, last hour: PAID 2, Rp 150.000 (fee Rp 2.250); PENDING 1, Rp 20.000 (fee Rp 300)\n"
        "Withdrawals, last hour: COMPLETED 1, Rp 40.000\n"
        "Pay-ins, today: PAID 3, Rp 350.000 (fee Rp 5.250); PENDING 1, Rp 20.000 (fee Rp 300)\n"
        "Withdrawals, today: COMPLETED 1, Rp 40.000; FAILED 1, Rp 10.000"
    ]


async def test_the_midnight_summary_reports_the_whole_day_just_ended(database: Database, settings: Settings) -> None:
    await _seed(database)
    result = await summarise(_context(database, settings, wib(2026, 12, 3, 0, 0)))
    assert {key: value for key, value in result.counts.items() if key.startswith("payins.")} == {
        "payins.today.PAID": 4, "payins.today.PENDING": 1,
    }  # fmt: skip
    async with database.connection() as connection:
        message = await connection.fetchval("SELECT message FROM alerts WHERE kind = 'dashboard_summary'")
    assert "Pay-ins, last hour: none" in message


async def test_the_registry_and_the_worker_run_the_hourly_jobs_through_the_scheduler(
    database: Database, database_url: str, settings: Settings
) -> None:
    assert {(job.name, job.default_cron) for job in JOBS} == {
        ("settlement.check", "0 16 * * *"), ("access.purge_request_logs", "0 * * * *"),
        ("dashboard.summary", "0 * * * *"), ("events.purge_published", "30 3 * * *"),
    }  # fmt: skip
    names = [loop.name for loop in worker_loops(database, settings, asyncpg_dsn(database_url), CollectorRegistry())]
    assert "scheduler" in names
    assert "access.purge_request_logs" not in names
    async with database.transaction() as connection:
        partner = (await create_partner(connection, KeyRing([TEST_SECRET_KEY]), name="Toko Log")).partner_id
        for age in (settings.request_log_retention + timedelta(hours=1), timedelta(hours=1)):
            await connection.execute(
                "INSERT INTO api_request_logs (created_at, partner_id, method, path, status, latency_us) "
                "VALUES (now() - $1::interval, $2, 'GET', '/api/v1/payments', 200, 10)",
                age, partner,
            )  # fmt: skip
    purge = next(job for job in JOBS if job.name == "access.purge_request_logs")
    assert (await purge.run(_context(database, settings, wib(2026, 12, 2, 14, 0)))).counts == {"purged": 1}
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM api_request_logs") == 1
