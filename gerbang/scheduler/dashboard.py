"""The hourly dashboard summary (the original's `scheduleDashboardSummary`): pay-ins and withdrawals of the
last hour and of the day so far in Asia/Jakarta, by status, sent to operators as an alert and kept as the
run's figures.

The window ends at the run's cron slot (a catch-up run reports the hour it is for, not the hour it ran
in), or now for a manual run. "Today" is the Jakarta day the window ends in, up to its end, so the
midnight run reports the whole day just ended. Orders and withdrawals count by when they were created,
under their status at the time of the run.

Counts are `payins.hour.PAID`, `withdrawals.today.COMPLETED`, ...; amounts `payins.hour.PAID.gross` and
`.fee`, `withdrawals.today.COMPLETED.amount`, in whole rupiah.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import asyncpg
from sqlalchemy import text

from gerbang.events.alerts import raise_alert
from gerbang.kit.money import format_idr
from gerbang.kit.sql import Query
from gerbang.kit.time import JAKARTA, to_jakarta, utcnow
from gerbang.scheduler.base import Job, JobContext, JobResult

_WINDOWS = """
    count(*) FILTER (WHERE created_at >= :hour_start) AS hour_count,
    count(*) FILTER (WHERE created_at >= :day_start) AS day_count,
"""
_PAYINS = Query(
    text(f"""
    SELECT status, {_WINDOWS}
        coalesce(sum(amount) FILTER (WHERE created_at >= :hour_start), 0) AS hour_gross,
        coalesce(sum(fee) FILTER (WHERE created_at >= :hour_start), 0) AS hour_fee,
        coalesce(sum(amount) FILTER (WHERE created_at >= :day_start), 0) AS day_gross,
        coalesce(sum(fee) FILTER (WHERE created_at >= :day_start), 0) AS day_fee
    FROM orders WHERE created_at >= LEAST(:hour_start, :day_start) AND created_at < :until
    GROUP BY status ORDER BY status
    """)
)
_WITHDRAWALS = Query(
    text(f"""
    SELECT status, {_WINDOWS}
        coalesce(sum(amount) FILTER (WHERE created_at >= :hour_start), 0) AS hour_amount,
        coalesce(sum(amount) FILTER (WHERE created_at >= :day_start), 0) AS day_amount
    FROM withdrawals WHERE created_at >= LEAST(:hour_start, :day_start) AND created_at < :until
    GROUP BY status ORDER BY status
    """)
)
_PERIODS = (("hour", "last hour"), ("day", "today"))


def _line(title: str, parts: list[str]) -> str:
    return f"{title}: {'; '.join(parts) if parts else 'none'}"


def _summarise(
    payins: list[asyncpg.Record], withdrawals: list[asyncpg.Record], until: datetime
) -> tuple[JobResult, str]:
    counts: dict[str, int] = {}
    amounts: dict[str, int] = {}
    lines = [f"Dashboard summary to {to_jakarta(until):%Y-%m-%d %H:%M} WIB"]
    for period, title in _PERIODS:
        key = "today" if period == "day" else period
        parts = []
        for row in payins:
            if row[f"{period}_count"]:
                status, gross, fee = row["status"], int(row[f"{period}_gross"]), int(row[f"{period}_fee"])
                counts[f"payins.{key}.{status}"] = row[f"{period}_count"]
                amounts[f"payins.{key}.{status}.gross"] = gross
                amounts[f"payins.{key}.{status}.fee"] = fee
                parts.append(f"{status} {row[f'{period}_count']}, {format_idr(gross)} (fee {format_idr(fee)})")
        lines.append(_line(f"Pay-ins, {title}", parts))
        parts = []
        for row in withdrawals:
            if row[f"{period}_count"]:
                status, amount = row["status"], int(row[f"{period}_amount"])
                counts[f"withdrawals.{key}.{status}"] = row[f"{period}_count"]
                amounts[f"withdrawals.{key}.{status}.amount"] = amount
                parts.append(f"{status} {row[f'{period}_count']}, {format_idr(amount)}")
        lines.append(_line(f"Withdrawals, {title}", parts))
    return JobResult(counts=counts, amounts=amounts), "\n".join(lines)


async def summarise(ctx: JobContext) -> JobResult:
    until = ctx.scheduled_for or utcnow()
    last_moment = to_jakarta(until - timedelta(microseconds=1))
    day_start = datetime.combine(last_moment.date(), time.min, tzinfo=JAKARTA)
    window = {"hour_start": until - timedelta(hours=1), "day_start": day_start, "until": until}
    async with ctx.database.transaction() as connection:
        payins = await _PAYINS.fetch(connection, **window)
        withdrawals = await _WITHDRAWALS.fetch(connection, **window)
        result, message = _summarise(payins, withdrawals, until)
        await raise_alert(connection, kind="dashboard_summary", partner_id=None, message=message, now=utcnow())
    return result


DASHBOARD_SUMMARY = Job(
    name="dashboard.summary",
    default_cron="0 * * * *",
    description="Pay-ins and withdrawals of the last hour and of today (Asia/Jakarta) by status, as an alert",
    run=summarise,
)
