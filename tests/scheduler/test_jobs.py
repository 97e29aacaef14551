"""The jobs of the registry: the dashboard summary's figures and alert, the request-log purge, and the
worker running them through its scheduler."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import JAKARTA
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.partner.service import create_partner
from gerbang.scheduler.base import JobContext
from gerbang.scheduler.dashboard import summarise
from gerbang.worker.jobs import JOBS
from gerbang.worker.main import worker_loops
from tests.fixtures.app import TEST_SECRET_KEY
from tests.ledger.helpers import fund


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JAKARTA)


async def _partner(connection: Any, name: str, parent: uuid.UUID | None = None) -> uuid.UUID:
    created = await create_partner(connection, KeyRing([TEST_SECRET_KEY]), name=name, parent_id=parent)
    return created.partner_id


async def _seed(database: Database) -> dict[str, uuid.UUID]:
    """Induk has Anak below it, and Anak has Cucu; Lain stands alone."""
    async with database.transaction() as connection:
        induk = await _partner(connection, "Induk")
        anak = await _partner(connection, "Anak", induk)
        cucu = await _partner(connection, "Cucu", anak)
        lain = await _partner(connection, "Lain")
        account = uuid.uuid4()
        await connection.execute(
            "INSERT INTO provider_accounts (id, provider, name, base_url, credentials_encrypted, methods) "
            "VALUES ($1, 'sandbox', 'Sandbox', 'http://127.0.0.1:9', 'x', '{qris}')",
            account,
        )
        orders = [  # partner, status, amount, fee, paid at, settled at
            (induk, "PAID", 100_000, 1_000, wib(2026, 12, 2, 9), None),  # TPV, paid
            (induk, "SETTLED", 50_000, 500, wib(2026, 12, 2, 10), wib(2026, 12, 2, 11)),  # TPV, settled
            (induk, "PAID", 30_000, 300, wib(2026, 12, 1, 10), None),  # pending this month
            (induk, "PAID", 20_000, 200, wib(2026, 11, 30, 10), None),  # pending, last month's
            (induk, "PAID", 999, 9, wib(2026, 12, 2, 14), None),  # at the slot: the next hour's
            (anak, "LOAN_SETTLED", 40_000, 400, wib(2026, 12, 2, 12), None),  # TPV
            (anak, "SETTLED", 60_000, 600, wib(2026, 12, 1, 15), wib(2026, 12, 2, 8)),  # settled today
            (cucu, "PAID", 10_000, 100, wib(2026, 12, 2, 13), None),  # TPV, paid
            (lain, "PAID", 70_000, 700, wib(2026, 12, 2, 9, 30), None),  # TPV, paid
            (lain, "PENDING", 5_000, 50, None, None),  # not paid
        ]
        for partner, status, amount, fee, paid_at, settled_at in orders:
            await connection.execute(
                "INSERT INTO orders (id, partner_id, reference, amount, fee, status, paid_at, settled_at, expires_at, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                uuid.uuid4(), partner, f"R-{uuid.uuid4().hex[:8]}", amount, fee, status, paid_at, settled_at,
                paid_at or wib(2026, 12, 2, 9),
            )  # fmt: skip
        withdrawals = [  # partner, source, status, amount, completed at
            (induk, "console", "COMPLETED", 40_000, wib(2026, 12, 2, 13, 30)),
            (anak, "console", "COMPLETED", 15_000, wib(2026, 12, 1, 13)),  # yesterday
            (lain, "console", "FAILED", 10_000, None),
            (None, "platform", "COMPLETED", 90_000, wib(2026, 12, 2, 10)),  # the platform's own payout
        ]
        for owner, source, status, amount, completed_at in withdrawals:
            await connection.execute(
                "INSERT INTO withdrawals (id, partner_id, reference, source, amount, fee, net, bank_code, "
                "account_number, account_holder, provider_account_id, status, next_check_at, completed_at, "
                "created_at) VALUES ($1, $2, $3, $4, $5, 0, $5, 'BCA', '1234567890', 'BUDI', $6, $7, $8, $9, $8)",
                uuid.uuid4(), owner, f"W-{uuid.uuid4().hex[:8]}", source, amount, account, status,
                wib(2026, 12, 2, 8), completed_at,
            )  # fmt: skip
    for partner, value in ((induk, 500_000), (cucu, 25_000), (lain, 7_000)):
        await fund(database, AccountRef(AccountKind.partner_available, partner), value, f"fund:{partner}")
    return {"induk": induk, "anak": anak}


def _context(database: Database, settings: Settings, slot: datetime) -> JobContext:
    return JobContext(database, settings, uuid.uuid4(), "cron", asyncio.Event(), scheduled_for=slot)


Figure = tuple[int, int]
"""A count and an amount."""


def _figures(
    prefix: str, tpv: Figure, paid: Figure, settled: Figure, pending: Figure, withdrawals: Figure, available: int
) -> tuple[dict[str, int], dict[str, int]]:
    named = {"tpv": (tpv, "gross"), "paid": (paid, "gross"), "settled": (settled, "net"),
             "pending_mtd": (pending, "net"), "withdrawals": (withdrawals, "amount")}  # fmt: skip
    counts = {f"{prefix}{name}": value[0] for name, (value, _) in named.items()}
    amounts = {f"{prefix}{name}.{money}": value[1] for name, (value, money) in named.items()}
    return counts, amounts | {f"{prefix}available": available}


async def test_the_dashboard_summary_reports_the_days_figures_globally_and_per_parent(
    database: Database, settings: Settings
) -> None:
    partners = await _seed(database)
    result = await summarise(_context(database, settings, wib(2026, 12, 2, 14, 0)))
    expected = [
        _figures("", (5, 270_000), (3, 180_000), (2, 108_900), (1, 29_700), (1, 40_000), 532_000),
        _figures(f"parent.{partners['induk']}.", (4, 200_000), (2, 110_000), (2, 108_900), (1, 29_700),
                 (1, 40_000), 525_000),
        _figures(f"parent.{partners['anak']}.", (2, 50_000), (1, 10_000), (1, 59_400), (0, 0), (0, 0), 25_000),
    ]  # fmt: skip
    assert result.counts == {k: v for counts, _ in expected for k, v in counts.items()}
    assert result.amounts == {k: v for _, amounts in expected for k, v in amounts.items()}
    async with database.connection() as connection:
        alerts = await connection.fetch("SELECT message FROM alerts WHERE kind = 'dashboard_summary'")
    assert [row["message"].split("\n") for row in alerts] == [
        [
            "Dashboard summary, 2026-12-02 14:00 WIB",
            "All partners:",
            "TPV today: 5 orders, Rp 270.000",
            "Paid today, not settled: 3, Rp 180.000",
            "Settled today: 2, net Rp 108.900",
            "Pending settlement (01 Dec to 01 Dec): 1, net Rp 29.700",
            "Withdrawals completed today: 1, Rp 40.000",
            "Available to withdraw: Rp 532.000",
            "Induk and the 2 partners below it:",
            "TPV today: 4 orders, Rp 200.000",
            "Paid today, not settled: 2, Rp 110.000",
            "Settled today: 2, net Rp 108.900",
            "Pending settlement (01 Dec to 01 Dec): 1, net Rp 29.700",
            "Withdrawals completed today: 1, Rp 40.000",
            "Available to withdraw: Rp 525.000",
            "Anak and the 1 partners below it:",
            "TPV today: 2 orders, Rp 50.000",
            "Paid today, not settled: 1, Rp 10.000",
            "Settled today: 1, net Rp 59.400",
            "Pending settlement (01 Dec to 01 Dec): 0, net Rp 0",
            "Withdrawals completed today: 0, Rp 0",
            "Available to withdraw: Rp 25.000",
        ]
    ]


async def test_the_midnight_summary_reports_the_whole_day_just_ended(database: Database, settings: Settings) -> None:
    await _seed(database)
    result = await summarise(_context(database, settings, wib(2026, 12, 3, 0, 0)))
    assert (result.counts["tpv"], result.amounts["tpv.gross"]) == (6, 270_999)
    assert (result.counts["paid"], result.counts["pending_mtd"]) == (4, 1)
    first = await summarise(_context(database, settings, wib(2026, 12, 1, 9, 0)))  # nothing is pending yet
    assert (first.counts["pending_mtd"], first.counts["tpv"]) == (0, 0)
    async with database.connection() as connection:
        messages = [r["message"] for r in await connection.fetch("SELECT message FROM alerts ORDER BY id")]
    assert "Pending settlement (none this month yet): 0, net Rp 0" in messages[-1]


async def test_the_registry_and_the_worker_run_the_hourly_jobs_through_the_scheduler(
    database: Database, database_url: str, settings: Settings
) -> None:
    assert {(job.name, job.default_cron) for job in JOBS} == {
        ("settlement.check", "0 16 * * *"), ("access.purge_request_logs", "0 * * * *"),
        ("dashboard.summary", "0 * * * *"), ("events.purge_published", "30 3 * * *"),
        ("loan.settle", "*/2 * * * *"), ("settlement.manual", "* * * * *"),
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
