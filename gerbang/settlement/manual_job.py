"""`settlement.manual`: runs the queued manual settlements (and resumes one its worker left running)."""

from __future__ import annotations

from gerbang.scheduler.base import Job, JobContext, JobResult
from gerbang.settlement import manual
from gerbang.settlement.schemas import RunTotals


async def run_manual_settlements(ctx: JobContext) -> JobResult:
    async def report(so_far: RunTotals) -> None:
        await ctx.progress(so_far.result())

    totals, failed = await manual.run_queued(ctx.database, ctx.stop, report)
    result = totals.result()
    return JobResult(counts=result.counts | {"manual_settlements_failed": failed}, amounts=result.amounts)


SETTLEMENT_MANUAL = Job(
    name=manual.JOB_NAME,
    # Every minute: a start asks for a run at once; the cron is the safety net (a start while no worker
    # had registered the job, a run that ended just as another was queued, a worker that died mid-run).
    default_cron="* * * * *",
    description="Run queued manual settlements in batches (admins start them: /api/v1/admin/settlement/manual)",
    run=run_manual_settlements,
)
