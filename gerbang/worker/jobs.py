"""Every scheduled job, for the worker's scheduler. A domain module defines its `Job` (gerbang.scheduler.base)
and it is listed here, above the domains, so the scheduler itself depends on none of them."""

from __future__ import annotations

from gerbang.access import service as access_service
from gerbang.kit.time import utcnow
from gerbang.loan.jobs import LOAN_SETTLE
from gerbang.scheduler.base import Job, JobContext, JobResult
from gerbang.scheduler.dashboard import DASHBOARD_SUMMARY
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from gerbang.settlement.manual_job import SETTLEMENT_MANUAL
from gerbang.worker.outbox import EVENTS_RETENTION


async def purge_request_logs(ctx: JobContext) -> JobResult:
    async with ctx.database.transaction() as connection:
        purged = await access_service.purge_request_logs(connection, utcnow() - ctx.settings.request_log_retention)
    return JobResult(counts={"purged": purged})


PURGE_REQUEST_LOGS = Job(
    name="access.purge_request_logs",
    default_cron="0 * * * *",
    description="Delete partner API request log rows older than GERBANG_REQUEST_LOG_RETENTION",
    run=purge_request_logs,
)

JOBS: tuple[Job, ...] = (
    SETTLEMENT_CHECK, SETTLEMENT_MANUAL, PURGE_REQUEST_LOGS, DASHBOARD_SUMMARY, EVENTS_RETENTION, LOAN_SETTLE,
)  # fmt: skip
