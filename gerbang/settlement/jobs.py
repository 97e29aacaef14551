"""The settlement checker (`settlement.check`): every due PAID order settled, then a summary alert."""

from __future__ import annotations

from gerbang.calendar.service import load_calendar
from gerbang.events.alerts import raise_alert
from gerbang.kit.crypto import KeyRing
from gerbang.kit.http import client_session
from gerbang.kit.money import format_idr
from gerbang.kit.time import utcnow
from gerbang.scheduler.base import Job, JobContext, JobError, JobResult
from gerbang.settlement import service
from gerbang.settlement.schemas import RunTotals

MAX_BATCH_SIZE = 50_000


def _batch_size(ctx: JobContext) -> int:
    value = ctx.parameters.get("batch_size", service.BATCH_SIZE)
    if type(value) is not int or not 1 <= value <= MAX_BATCH_SIZE:
        raise JobError(f"batch_size is a whole number from 1 to {MAX_BATCH_SIZE}")
    return value


async def check(ctx: JobContext) -> JobResult:
    """Settles what is due now: `business_days` accounts first (set-based), then `provider_reported` ones
    (a status query per order, the settled ones set-based). Stops between batches when `ctx.stop` is set."""
    now = utcnow()
    totals = RunTotals()

    async def report(so_far: RunTotals) -> None:
        await ctx.progress(so_far.result())

    run = service.Run(ctx.database, ctx.run_id, ctx.stop, report, totals, _batch_size(ctx))
    async with ctx.database.connection() as connection:
        calendar = await load_calendar(connection)
    await service.settle_due(run, calendar, now)
    async with client_session() as session:
        await service.settle_provider_reported(run, KeyRing(ctx.settings.secret_keys), session)
    async with ctx.database.transaction() as connection:
        message = _summary(ctx, totals)
        await raise_alert(connection, kind="settlement_summary", partner_id=None, message=message, now=utcnow())
    return totals.result()


def _summary(ctx: JobContext, totals: RunTotals) -> str:
    lines = [
        f"Settlement run {ctx.run_id} ({ctx.trigger}){', stopped early' if ctx.stop.is_set() else ''}:",
        f"{totals.settled:,} orders of {len(totals.partners):,} partners settled in {totals.batches:,} batches",
        f"gross {format_idr(totals.gross)}, fee {format_idr(totals.fee)}, net {format_idr(totals.net)}",
    ]
    if totals.already_settled:
        lines.append(f"{totals.already_settled:,} orders were settled already (marked SETTLED, no money moved)")
    if totals.provider_errors:
        lines.append(f"{totals.provider_errors:,} of {totals.provider_checked:,} provider status queries failed")
    return "\n".join(lines)


SETTLEMENT_CHECK = Job(
    name="settlement.check",
    default_cron="0 16 * * *",
    description="Settle due PAID orders (pending -> available) by each provider account's settlement rule",
    run=check,
)
