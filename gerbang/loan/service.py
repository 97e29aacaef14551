"""Loans (advances): the platform lends a partner money now, and the nets of chosen PAID orders repay it
(docs/settlement.md, "Loans (advances)").

- A grant posts `advance_grant` (platform advances -> partner available) once per idempotency key.
- Marking an order loan-settled is PAID -> LOAN_SETTLED (compare-and-set on the locked row) and
  `loan_repayment`: its net leaves the partner's pending balance for the advance instead of reaching available
  (the settlement checker only takes PAID orders, so it never settles it as well).
- Reverting is LOAN_SETTLED -> PAID and the exact reverse of that repayment: the net is back in pending, the
  advance is owed again, and the order settles as any PAID order.

An order is loan-settled only while its net fits in what the partner still owes (refused otherwise: an
over-repayment would leave the platform owing the partner through its advances account, money no balance
shows; the order stays PAID and reaches available by settlement instead). Whatever decides the outstanding
amount runs under the partner's loan lock (`repository.lock_partner`), so two requests never both count on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from gerbang.db import Database
from gerbang.exceptions import Conflict, GerbangError, NotFound
from gerbang.kit.sql import Connection
from gerbang.kit.time import jakarta_days, utcnow
from gerbang.ledger import service as ledger
from gerbang.loan import repository
from gerbang.loan.schemas import (
    AdvanceGrant,
    AdvanceView,
    BalancesWithAdvance,
    LoanJob,
    MarkResult,
    MarkSettled,
    OrderFailure,
    OrderSample,
    PartnerAdvances,
    RangeFilters,
    RangePreview,
    RangeStart,
    Repayment,
    Revert,
    RevertResult,
)
from gerbang.partner import service as partner_service
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import ProviderAccountNotFound


class AdvanceKeyReused(Conflict):
    code = "advance_key_reused"


class LoanJobNotFound(NotFound):
    code = "loan_job_not_found"


class LoanJobFinished(Conflict):
    code = "loan_job_finished"


BATCH_SIZE = 500
"""Orders per range-job batch (one transaction)."""
SAMPLE_SIZE = 20
_START = (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
"""Before every order, for keyset pages over (paid_at, id)."""


# -- advances ----------------------------------------------------------------------------------------------


async def grant(
    connection: Connection, body: AdvanceGrant, idempotency_key: str, granted_by: str
) -> tuple[AdvanceView, bool]:
    """The advance, granted once per key, and whether it was granted now: a repeat with the same key and terms
    returns the first grant."""
    await partner_service.get_partner(connection, body.partner_id)
    await repository.lock_partner(connection, body.partner_id)  # a double click waits here, then finds the first
    existing = await repository.advance_by_key(connection, idempotency_key)
    if existing is not None:
        if (existing["partner_id"], existing["amount"], existing["note"]) != (body.partner_id, body.amount, body.note):
            raise AdvanceKeyReused("this Idempotency-Key was used for another advance")
        return AdvanceView.model_validate(dict(existing)), False
    advance_id = uuid.uuid4()
    posting = await ledger.advance_grant(
        connection, advance_id=advance_id, partner_id=body.partner_id, amount_lent=body.amount
    )
    row = await repository.insert_advance(
        connection, id=advance_id, partner_id=body.partner_id, amount=body.amount, note=body.note,
        idempotency_key=idempotency_key, granted_by=granted_by, ledger_transaction_id=posting.transaction_id,
    )  # fmt: skip
    if row is None:  # the key was taken meanwhile for another partner (whose lock this request did not wait for)
        raise AdvanceKeyReused("this Idempotency-Key was used for another advance")
    return AdvanceView.model_validate(dict(row)), True


async def outstanding(connection: Connection, partner_id: uuid.UUID) -> int:
    """What the partner still owes on its advances: granted - repaid + reverted repayments, from the ledger."""
    return await repository.outstanding(connection, partner_id)


async def partner_advances(connection: Connection, partner_id: uuid.UUID, limit: int) -> PartnerAdvances:
    await partner_service.get_partner(connection, partner_id)
    totals = await repository.totals(connection, partner_id)
    rows = await repository.advances(connection, partner_id, limit)
    return PartnerAdvances(
        partner_id=partner_id, granted=totals["granted"], repaid=totals["repaid"], reverted=totals["reverted"],
        outstanding=await outstanding(connection, partner_id),
        advances=[AdvanceView.model_validate(dict(row)) for row in rows],
    )  # fmt: skip


async def balances_with_advance(connection: Connection, partner_id: uuid.UUID) -> BalancesWithAdvance:
    balances = await ledger.partner_balances(connection, partner_id)
    return BalancesWithAdvance(**balances.model_dump(), advance_outstanding=await outstanding(connection, partner_id))


# -- loan-settling orders ----------------------------------------------------------------------------------


def _within(orders: Sequence[asyncpg.Record], remaining: int) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """In the order given (oldest payment first): each order whose net still fits in `remaining`, and the rest."""
    taken, refused = [], []
    for order in orders:
        if order["net"] <= remaining:
            taken.append(order)
            remaining -= order["net"]
        else:
            refused.append(order)
    return taken, refused


async def _repay(
    connection: Connection, partner_id: uuid.UUID, orders: Sequence[asyncpg.Record], *, job_id: uuid.UUID | None,
    note: str | None, settled_by: str, now: datetime,
) -> None:  # fmt: skip
    """Loan-settle `orders` (PAID, locked by the caller): the compare-and-set, a `loan_repayment` each, a row each."""
    if not orders:
        return
    ids = [order["id"] for order in orders]
    if await repository.mark_loan_settled(connection, ids, now) != set(ids):
        raise RuntimeError("a locked PAID order changed under its lock")
    rounds = await repository.last_rounds(connection, ids)
    transaction_ids = []
    for order in orders:
        posting = await ledger.loan_repayment(
            connection, order_id=order["id"], partner_id=partner_id, net=order["net"],
            round_number=rounds.get(order["id"], 0) + 1,
        )  # fmt: skip
        if posting.replayed:  # the round is counted from our rows, written with the postings: a broken invariant
            raise RuntimeError(f"order {order['id']} already has a loan repayment for this round")
        transaction_ids.append(posting.transaction_id)
    await repository.insert_repayments(
        connection, partner_id=partner_id, job_id=job_id, note=note, settled_by=settled_by, now=now, order_ids=ids,
        rounds=[rounds.get(order_id, 0) + 1 for order_id in ids], nets=[order["net"] for order in orders],
        transaction_ids=transaction_ids,
    )  # fmt: skip


async def _unlocked_failures(
    connection: Connection, ids: Sequence[uuid.UUID], locked: dict[uuid.UUID, asyncpg.Record]
) -> dict[uuid.UUID, OrderFailure]:
    """Why each of `ids` not among the partner's `locked` orders was left alone."""
    missing = [order_id for order_id in ids if order_id not in locked]
    elsewhere = await repository.existing_orders(connection, missing) if missing else set()
    return {
        order_id: OrderFailure(order_id=order_id, reason="other_partner" if order_id in elsewhere else "not_found")
        for order_id in missing
    }


async def mark_settled(connection: Connection, body: MarkSettled, settled_by: str) -> MarkResult:
    """Loan-settle the partner's PAID orders named, oldest payment first while they fit in the outstanding
    advance; each other id is reported with its reason and left as it was."""
    await partner_service.get_partner(connection, body.partner_id)
    ids = list(dict.fromkeys(body.order_ids))
    await repository.lock_partner(connection, body.partner_id)
    locked = {row["id"]: row for row in await repository.lock_orders(connection, body.partner_id, ids)}
    failures = await _unlocked_failures(connection, ids, locked)
    for order in locked.values():
        if order["status"] != "PAID":
            reason = "already_loan_settled" if order["status"] == "LOAN_SETTLED" else "not_paid"
            failures[order["id"]] = OrderFailure(order_id=order["id"], reason=reason, status=order["status"])
    remaining = await outstanding(connection, body.partner_id)
    taken, refused = _within([order for order in locked.values() if order["status"] == "PAID"], remaining)
    for order in refused:
        failures[order["id"]] = OrderFailure(order_id=order["id"], reason="exceeds_outstanding_advance")
    await _repay(connection, body.partner_id, taken, job_id=None, note=body.note, settled_by=settled_by, now=utcnow())
    repaid = sum(order["net"] for order in taken)
    return MarkResult(
        ok=[order["id"] for order in taken], failed=[failures[i] for i in ids if i in failures], amount=repaid,
        outstanding=remaining - repaid,
    )  # fmt: skip


# -- by range: preview and jobs ----------------------------------------------------------------------------


async def _check_filters(connection: Connection, filters: RangeFilters) -> None:
    await partner_service.get_partner(connection, filters.partner_id)
    account_id = filters.provider_account_id
    if account_id is not None and await accounts_repository.get_account(connection, account_id) is None:
        raise ProviderAccountNotFound(f"no provider account {account_id}")


def _range(partner_id: uuid.UUID, account_id: uuid.UUID | None, first: date, last: date) -> dict[str, Any]:
    start, end = jakarta_days(first, last)
    return {"partner_id": partner_id, "account_id": account_id, "start": start, "end": end}


async def preview(connection: Connection, filters: RangeFilters) -> RangePreview:
    """What a job over the range would do if started now; writes nothing."""
    await _check_filters(connection, filters)
    bounds = _range(filters.partner_id, filters.provider_account_id, filters.paid_from, filters.paid_to)
    nets = await repository.range_nets(connection, **bounds)
    owed = await outstanding(connection, filters.partner_id)
    remaining, repayable = owed, []
    for net in nets:
        if net <= remaining:
            repayable.append(net)
            remaining -= net
    sample = await repository.range_sample(connection, **bounds, limit=SAMPLE_SIZE)
    return RangePreview(
        count=len(nets), total_net=sum(nets), repayable_count=len(repayable), repayable_net=sum(repayable),
        outstanding=owed, sample=[OrderSample.model_validate(dict(row)) for row in sample],
    )  # fmt: skip


def job_view(row: asyncpg.Record) -> LoanJob:
    return LoanJob.model_validate({**dict(row), "progress_paid_at": row["after_paid_at"]})


async def start_job(connection: Connection, body: RangeStart, created_by: str) -> LoanJob:
    """Queue a range job; the `loan.settle` scheduled job runs it."""
    await _check_filters(connection, body)
    row = await repository.insert_job(
        connection, id=uuid.uuid4(), partner_id=body.partner_id, provider_account_id=body.provider_account_id,
        paid_from=body.paid_from, paid_to=body.paid_to, note=body.note, dry_run=body.dry_run, created_by=created_by,
        now=utcnow(),
    )  # fmt: skip
    return job_view(row)


async def get_job(connection: Connection, job_id: uuid.UUID) -> LoanJob:
    row = await repository.job(connection, job_id)
    if row is None:
        raise LoanJobNotFound(f"no loan settlement job {job_id}")
    return job_view(row)


async def list_jobs(
    connection: Connection, *, partner_id: uuid.UUID | None, status: str | None, before: datetime | None, limit: int
) -> list[LoanJob]:
    query, values = repository.jobs_query(partner_id=partner_id, status=status, before=before, limit=limit)
    return [job_view(row) for row in await query.fetch(connection, **values)]


async def cancel_job(connection: Connection, job_id: uuid.UUID) -> tuple[LoanJob, str]:
    """A queued job is cancelled at once; a running one stops at its next batch. The job and its status before."""
    row = await repository.job(connection, job_id, for_update=True)
    if row is None:
        raise LoanJobNotFound(f"no loan settlement job {job_id}")
    now = utcnow()
    if row["status"] == "queued":
        await repository.finish_job(connection, job_id, "cancelled", expected=["queued"], now=now)
    elif row["status"] == "running":
        await repository.request_cancel(connection, job_id, now)
    else:
        raise LoanJobFinished(f"loan settlement job {job_id} is {row['status']}: it cannot be cancelled")
    after = await repository.job(connection, job_id)
    assert after is not None  # noqa: S101 (locked just before; jobs are never deleted)
    return job_view(after), row["status"]


@dataclass
class JobTotals:
    """What one `loan.settle` run did, over the jobs it ran."""

    jobs: int = 0
    settled: int = 0
    skipped: int = 0
    amount: int = 0


async def run_open_jobs(database: Database, stop: asyncio.Event, batch_size: int, limit: int) -> JobTotals:
    """The oldest `limit` queued or running jobs, one after the other (the caller holds the scheduler's lock of
    `loan.settle`: a job still running was left so by a run that died, and is resumed)."""
    totals = JobTotals()
    async with database.connection() as connection:
        job_ids = await repository.open_jobs(connection, limit)
    for job_id in job_ids:
        if stop.is_set():
            break
        await run_job(database, job_id, stop, totals, batch_size)
    return totals


async def run_job(
    database: Database, job_id: uuid.UUID, stop: asyncio.Event, totals: JobTotals, batch_size: int
) -> None:
    """Run (or resume) a queued or running job, batch by batch until it is done, cancelled or `stop` is set
    (it is then left running, and the next run goes on from its cursor). Each batch is one transaction that
    also moves the cursor on, so a run killed anywhere redoes at most the batch it was in, which rolled back.
    A refusal (an order's money no longer in pending) fails the job with its reason."""
    async with database.transaction() as connection:
        if not await repository.start_job(connection, job_id, utcnow()):
            return
    totals.jobs += 1
    while not stop.is_set():
        try:
            if await _job_batch(database, job_id, totals, batch_size):
                return
        except GerbangError as error:
            async with database.transaction() as connection:
                await repository.finish_job(
                    connection, job_id, "failed", expected=["running"], now=utcnow(),
                    error=f"{error.code}: {error.detail}",
                )  # fmt: skip
            return


async def _job_batch(database: Database, job_id: uuid.UUID, totals: JobTotals, batch_size: int) -> bool:
    """One batch of the job in one transaction; True when the job is over."""
    async with database.transaction() as connection:
        job = await repository.job(connection, job_id, for_update=True)
        if job is None or job["status"] != "running":
            return True
        now = utcnow()
        if job["cancel_requested_at"] is not None:
            await repository.finish_job(connection, job_id, "cancelled", expected=["running"], now=now)
            return True
        bounds = _range(job["partner_id"], job["provider_account_id"], job["paid_from"], job["paid_to"])
        after = (job["after_paid_at"], job["after_id"]) if job["after_id"] is not None else _START
        page = await repository.range_page(connection, **bounds, after=after, limit=batch_size)
        if not page:
            await repository.finish_job(connection, job_id, "completed", expected=["running"], now=now)
            return True
        ids = [row["id"] for row in page]
        if job["dry_run"]:  # counts against what is owed less what this dry run already counted; locks nothing
            orders = page
            remaining = await outstanding(connection, job["partner_id"]) - job["amount"]
        else:
            await repository.lock_partner(connection, job["partner_id"])
            orders = await repository.lock_paid(connection, ids)
            remaining = await outstanding(connection, job["partner_id"])
        taken, refused = _within(orders, remaining)
        if not job["dry_run"]:
            await _repay(
                connection, job["partner_id"], taken, job_id=job_id, note=job["note"], settled_by=job["created_by"],
                now=now,
            )  # fmt: skip
        amount = sum(order["net"] for order in taken)
        await repository.job_progress(
            connection, job_id, seen=len(orders), settled=len(taken), skipped=len(refused), amount=amount,
            after=(page[-1]["paid_at"], page[-1]["id"]), now=now,
        )  # fmt: skip
    totals.settled += len(taken)
    totals.skipped += len(refused)
    totals.amount += amount
    return False


# -- revert ------------------------------------------------------------------------------------------------


async def revert(connection: Connection, body: Revert, reverted_by: str) -> RevertResult:
    """Revert the partner's loan-settled orders named (or all of a job's): LOAN_SETTLED -> PAID and the exact
    reverse of each one's repayment."""
    await partner_service.get_partner(connection, body.partner_id)
    if body.job_id is not None:
        job = await repository.job(connection, body.job_id)
        if job is None or job["partner_id"] != body.partner_id:
            raise LoanJobNotFound(f"no loan settlement job {body.job_id} of partner {body.partner_id}")
    ids = list(dict.fromkeys(body.order_ids or []))
    await repository.lock_partner(connection, body.partner_id)
    rows = await repository.open_repayments(connection, body.partner_id, ids, body.job_id)
    failures = await _revert_failures(connection, body.partner_id, ids, {row["order_id"] for row in rows})
    now = utcnow()
    order_ids = [row["order_id"] for row in rows]
    if await repository.mark_paid_again(connection, order_ids, now) != set(order_ids):
        raise RuntimeError("an order with a standing loan repayment is not LOAN_SETTLED")
    reversal_ids = []
    for row in rows:
        # The repayment as it was posted (a replay writes nothing, and checks the legs are the ones we hold).
        repayment = await ledger.loan_repayment(
            connection, order_id=row["order_id"], partner_id=body.partner_id, net=row["net"], round_number=row["round"]
        )
        if not repayment.replayed:
            raise RuntimeError(f"order {row['order_id']} has a loan repayment row but no posting")
        reversal_ids.append((await ledger.loan_repayment_revert(connection, repayment=repayment)).transaction_id)
    revert_id = uuid.uuid4()
    await repository.record_reverts(
        connection, revert_id=revert_id, reverted_by=reverted_by, now=now, ids=[row["id"] for row in rows],
        transaction_ids=reversal_ids,
    )  # fmt: skip
    return RevertResult(
        revert_id=revert_id, reverted=order_ids, failed=[failures[i] for i in ids if i in failures],
        amount=sum(row["net"] for row in rows), outstanding=await outstanding(connection, body.partner_id),
    )  # fmt: skip


async def _revert_failures(
    connection: Connection, partner_id: uuid.UUID, ids: Sequence[uuid.UUID], reverting: set[uuid.UUID]
) -> dict[uuid.UUID, OrderFailure]:
    missing = [order_id for order_id in ids if order_id not in reverting]
    if not missing:
        return {}
    own = {row["id"]: row for row in await repository.lock_orders(connection, partner_id, missing)}
    failures = await _unlocked_failures(connection, missing, own)
    for order in own.values():
        failures[order["id"]] = OrderFailure(order_id=order["id"], reason="not_loan_settled", status=order["status"])
    return failures


async def repayments(
    connection: Connection, *, partner_id: uuid.UUID, job_id: uuid.UUID | None, revert_id: uuid.UUID | None,
    reverted: bool | None, before_id: int | None, limit: int,
) -> list[Repayment]:  # fmt: skip
    await partner_service.get_partner(connection, partner_id)
    query, values = repository.repayments_query(
        partner_id=partner_id, job_id=job_id, revert_id=revert_id, reverted=reverted, before_id=before_id, limit=limit
    )
    return [Repayment.model_validate(dict(row)) for row in await query.fetch(connection, **values)]
