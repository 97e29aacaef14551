"""Loan-settling by range: the preview and dry runs write nothing; a job runs in batches through the
`loan.settle` scheduled job, resumes after its run dies half-way (each order repaid once), cancels, and
reverts as a whole."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from gerbang.db import Database
from gerbang.loan.jobs import LOAN_SETTLE, settle
from gerbang.scheduler.base import JobContext
from gerbang.worker.jobs import JOBS
from tests.loan.conftest import DAY, NET, Books, LoanApi, World, books, paid_in_order, repayment_postings

RANGE = {"paidFrom": "2026-11-10", "paidTo": "2026-11-10"}


class StopAfter(asyncio.Event):
    """A worker shutdown after `checks` looks at the stop signal: the run returns mid-job, as a killed one
    leaves it (the batch in flight, if any, rolled back with its transaction)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks = checks

    def is_set(self) -> bool:
        self.checks -= 1
        return self.checks < 0


def _context(world: World, stop: asyncio.Event | None = None, batch_size: int = 2) -> JobContext:
    return JobContext(
        database=world.database, settings=world.settings, run_id=uuid.uuid4(), trigger="manual",
        stop=stop or asyncio.Event(), parameters={"batch_size": batch_size},
    )  # fmt: skip


async def _counts(database: Database) -> dict[str, Any]:
    async with database.connection() as connection:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM ledger_transactions) AS postings, "
            "(SELECT count(*) FROM loan_repayments) AS repayments, "
            "(SELECT count(*) FROM orders WHERE status <> 'PAID') AS moved, "
            "(SELECT count(*) FROM audit_events) AS audit"
        )
    assert row is not None
    return dict(row)


async def _job(loans: LoanApi, job_id: str) -> dict[str, Any]:
    response = await loans.call("GET", f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_loan_settlement_job_is_scheduled_every_two_minutes() -> None:
    assert LOAN_SETTLE in JOBS
    assert LOAN_SETTLE.default_cron == "*/2 * * * *"


async def test_preview_and_dry_runs_write_nothing(world: World, loans: LoanApi, database: Database) -> None:
    partner, account = await world.partner("Toko Lihat"), await world.account()
    orders = await paid_in_order(world, partner, account, 3)
    await world.paid(partner, account, paid_at=DAY + timedelta(days=1))  # outside the range
    await loans.grant(partner, 2 * NET + 10)
    start, counts = await books(database, partner), await _counts(database)

    filters = {"partnerId": str(partner), **RANGE}
    preview = await loans.call("POST", "/mark-settled/by-range", json={**filters, "dryRun": True})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["count"], body["totalNet"], body["repayableCount"], body["repayableNet"], body["outstanding"]) == (
        3, 3 * NET, 2, 2 * NET, 2 * NET + 10,
    )  # fmt: skip
    assert [row["id"] for row in body["sample"]] == [str(i) for i in orders]
    refused = await loans.call("POST", "/mark-settled/by-range", json={**filters, "dryRun": False})
    assert refused.status_code == 422
    backwards = await loans.call(
        "POST",
        "/mark-settled/by-range",
        json={"partnerId": str(partner), "paidFrom": "2026-11-11", "paidTo": "2026-11-10"},
    )
    assert (backwards.status_code, backwards.json()["error"]) == (422, "validation_error")
    assert (await books(database, partner), await _counts(database)) == (start, counts)

    started = await loans.call("POST", "/mark-settled/by-range/start", json={**filters, "dryRun": True})
    assert started.status_code == 202, started.text
    await settle(_context(world))
    job = await _job(loans, started.json()["id"])
    assert (job["status"], job["dryRun"], job["ordersSeen"], job["ordersSettled"], job["ordersSkipped"]) == (
        "completed", True, 3, 2, 1,
    )  # fmt: skip
    assert job["amount"] == 2 * NET
    after = await _counts(database)
    assert (after["postings"], after["repayments"], after["moved"]) == (
        counts["postings"], counts["repayments"], counts["moved"],
    )  # fmt: skip
    assert await books(database, partner) == start


async def test_a_job_killed_half_way_finishes_with_each_order_repaid_once(
    world: World, loans: LoanApi, database: Database
) -> None:
    partner, account = await world.partner("Toko Lanjut"), await world.account()
    other_account = await world.account()
    orders = await paid_in_order(world, partner, account, 5)
    elsewhere = await paid_in_order(world, partner, other_account, 1)  # another provider account: not in the job
    await loans.grant(partner, 100 * NET)
    body = {"partnerId": str(partner), "providerAccountId": str(account), **RANGE, "note": "November"}
    started = await loans.call("POST", "/mark-settled/by-range/start", json=body)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    assert started.json()["status"] == "queued"

    # The run dies after its first batch (2 orders) committed: the job stays running, its cursor after them.
    await settle(_context(world, StopAfter(2)))
    job = await _job(loans, job_id)
    assert (job["status"], job["ordersSettled"], job["amount"]) == ("running", 2, 2 * NET)
    assert await repayment_postings(database, orders) == {
        **dict.fromkeys(orders[:2], 1),
        **dict.fromkeys(orders[2:], 0),
    }

    # The next run takes the job left running and finishes it.
    await settle(_context(world))
    job = await _job(loans, job_id)
    assert (job["status"], job["ordersSeen"], job["ordersSettled"], job["ordersSkipped"], job["amount"]) == (
        "completed", 5, 5, 0, 5 * NET,
    )  # fmt: skip
    assert await repayment_postings(database, [*orders, *elsewhere]) == {
        **dict.fromkeys(orders, 1), elsewhere[0]: 0,
    }  # fmt: skip
    assert await books(database, partner) == Books(
        available=100 * NET, pending=NET, held=0, advances=95 * NET, reconciled=True
    )
    await settle(_context(world))  # nothing left to do: nothing moves
    assert await repayment_postings(database, orders) == dict.fromkeys(orders, 1)

    # The job's repayments, reverted as a whole.
    reverted = await loans.revert(partner, jobId=job_id)
    assert reverted.status_code == 200, reverted.text
    assert sorted(reverted.json()["reverted"]) == sorted(str(i) for i in orders)
    assert await books(database, partner) == Books(
        available=100 * NET, pending=6 * NET, held=0, advances=100 * NET, reconciled=True
    )
    listed = await loans.call("GET", "/repayments", params={"partnerId": str(partner), "jobId": job_id})
    assert len(listed.json()) == 5
    assert all(row["revertedAt"] for row in listed.json())


async def test_a_job_stops_at_the_outstanding_advance(world: World, loans: LoanApi, database: Database) -> None:
    partner, account = await world.partner("Toko Batas"), await world.account()
    orders = await paid_in_order(world, partner, account, 4)
    await loans.grant(partner, 2 * NET + 1)
    started = await loans.call("POST", "/mark-settled/by-range/start", json={"partnerId": str(partner), **RANGE})
    await settle(_context(world, batch_size=3))
    job = await _job(loans, started.json()["id"])
    assert (job["status"], job["ordersSettled"], job["ordersSkipped"]) == ("completed", 2, 2)
    assert await repayment_postings(database, orders) == {
        **dict.fromkeys(orders[:2], 1),
        **dict.fromkeys(orders[2:], 0),
    }
    assert (await books(database, partner)).advances == 1


@pytest.mark.parametrize("state", ["queued", "running"])
async def test_cancel(world: World, loans: LoanApi, database: Database, state: str) -> None:
    partner, account = await world.partner("Toko Batal"), await world.account()
    orders = await paid_in_order(world, partner, account, 4)
    await loans.grant(partner, 10 * NET)
    started = await loans.call("POST", "/mark-settled/by-range/start", json={"partnerId": str(partner), **RANGE})
    job_id = started.json()["id"]
    if state == "running":
        await settle(_context(world, StopAfter(2)))  # one batch of 2 done, then the worker stopped
    cancelled = await loans.call("POST", f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == ("cancelled" if state == "queued" else "running")
    await settle(_context(world))
    job = await _job(loans, job_id)
    assert job["status"] == "cancelled"
    assert job["finishedAt"]
    done = 2 if state == "running" else 0
    assert await repayment_postings(database, orders) == {
        **dict.fromkeys(orders[:done], 1), **dict.fromkeys(orders[done:], 0),
    }  # fmt: skip
    again = await loans.call("POST", f"/jobs/{job_id}/cancel")
    assert (again.status_code, again.json()["error"]) == (409, "loan_job_finished")
    listed = await loans.call("GET", "/jobs", params={"partnerId": str(partner), "status": "cancelled"})
    assert [row["id"] for row in listed.json()] == [job_id]
    async with database.connection() as connection:
        actions = [r["action"] for r in await connection.fetch("SELECT action FROM audit_events ORDER BY id")]
    assert actions == ["advance.granted", "loan_job.started", "loan_job.cancelled"]
