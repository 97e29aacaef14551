"""The loan settlement job (`loan.settle`): runs the queued range jobs (and resumes any a dead run left)."""

from __future__ import annotations

from gerbang.loan import service
from gerbang.scheduler.base import Job, JobContext, JobError, JobResult

MAX_JOBS_PER_RUN = 5
"""Range jobs one run takes on, oldest first (the original's LOAN_SETTLEMENT_MAX_JOBS_PER_TICK)."""
MAX_BATCH_SIZE = 5_000


def _batch_size(ctx: JobContext) -> int:
    value = ctx.parameters.get("batch_size", service.BATCH_SIZE)
    if type(value) is not int or not 1 <= value <= MAX_BATCH_SIZE:
        raise JobError(f"batch_size is a whole number from 1 to {MAX_BATCH_SIZE}")
    return value


async def settle(ctx: JobContext) -> JobResult:
    totals = await service.run_open_jobs(ctx.database, ctx.stop, _batch_size(ctx), MAX_JOBS_PER_RUN)
    return JobResult(
        counts={"jobs": totals.jobs, "settled": totals.settled, "skipped": totals.skipped},
        amounts={"repaid": totals.amount},
    )


LOAN_SETTLE = Job(
    name="loan.settle",
    default_cron="*/2 * * * *",
    description="Run queued loan settlement range jobs: their PAID orders' nets repay the partner's advance",
    run=settle,
)
