"""The hourly dashboard summary (the original's `scheduleDashboardSummary`): the day's figures in Asia/Jakarta,
for all partners and for each partner that has partners below it (itself and all of them), sent to operators as
an alert and kept as the run's figures (`job_runs.counts` and `.amounts`).

The figures (docs/settlement.md, "Dashboard summary"):
- `tpv`: orders paid today, whatever happened since (PAID, SETTLED, LOAN_SETTLED): count and gross;
- `paid`: orders paid today still PAID: count and gross;
- `settled`: orders settled today: count and net (what reached available);
- `pending_mtd`: orders paid from the first of the month to yesterday still PAID: count and net;
- `withdrawals`: partners' withdrawals completed today: count and amount (gross);
- `available`: partners' available balances now, from the ledger.

"Today" is the Jakarta day the run's window ends in, up to its end: the window ends at the run's cron slot (a
catch-up run reports the hour it is for), or now for a manual run, so the midnight run reports the whole day just
ended. Balances are read at the run, whatever its slot. Keys: `tpv`, `tpv.gross`, `pending_mtd.net`, ...; per
parent partner the same under `parent.{partner id}.`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta

import asyncpg
from sqlalchemy import text

from gerbang.events.alerts import raise_alert
from gerbang.kit.money import format_idr
from gerbang.kit.sql import Query
from gerbang.kit.time import jakarta_midnight, to_jakarta, utcnow
from gerbang.scheduler.base import Job, JobContext, JobResult

# One row per partner: its figures (zero when it had nothing) and its available balance in the ledger.
_PER_PARTNER = Query(
    text("""
    WITH paid AS (
        SELECT partner_id,
            count(*) FILTER (WHERE paid_at >= :day_start AND status IN ('PAID', 'SETTLED', 'LOAN_SETTLED')) AS tpv,
            coalesce(sum(amount) FILTER (
                WHERE paid_at >= :day_start AND status IN ('PAID', 'SETTLED', 'LOAN_SETTLED')), 0) AS tpv_gross,
            count(*) FILTER (WHERE paid_at >= :day_start AND status = 'PAID') AS paid,
            coalesce(sum(amount) FILTER (WHERE paid_at >= :day_start AND status = 'PAID'), 0) AS paid_gross,
            count(*) FILTER (WHERE paid_at < :day_start AND status = 'PAID') AS pending_mtd,
            coalesce(sum(amount - fee) FILTER (WHERE paid_at < :day_start AND status = 'PAID'), 0) AS pending_mtd_net
        FROM orders WHERE paid_at >= :month_start AND paid_at < :until GROUP BY partner_id
    ), settled AS (
        SELECT partner_id, count(*) AS settled, sum(amount - fee) AS settled_net FROM orders
        WHERE status = 'SETTLED' AND settled_at >= :day_start AND settled_at < :until GROUP BY partner_id
    ), withdrawn AS (
        SELECT partner_id, count(*) AS withdrawals, sum(amount) AS withdrawals_amount FROM withdrawals
        WHERE status = 'COMPLETED' AND completed_at >= :day_start AND completed_at < :until
          AND partner_id IS NOT NULL
        GROUP BY partner_id
    )
    SELECT p.id, p.parent_id, p.name,
        coalesce(paid.tpv, 0) AS tpv, coalesce(paid.tpv_gross, 0) AS tpv_gross,
        coalesce(paid.paid, 0) AS paid, coalesce(paid.paid_gross, 0) AS paid_gross,
        coalesce(settled.settled, 0) AS settled, coalesce(settled.settled_net, 0) AS settled_net,
        coalesce(paid.pending_mtd, 0) AS pending_mtd, coalesce(paid.pending_mtd_net, 0) AS pending_mtd_net,
        coalesce(withdrawn.withdrawals, 0) AS withdrawals,
        coalesce(withdrawn.withdrawals_amount, 0) AS withdrawals_amount,
        coalesce(available.balance, 0) AS available
    FROM partners p
    LEFT JOIN paid ON paid.partner_id = p.id
    LEFT JOIN settled ON settled.partner_id = p.id
    LEFT JOIN withdrawn ON withdrawn.partner_id = p.id
    LEFT JOIN ledger_accounts available
        ON available.kind = 'partner_available' AND available.owner_id = p.id AND available.currency = 'IDR'
    ORDER BY p.name, p.id
    """)
)


@dataclass
class Figures:
    tpv: int = 0
    tpv_gross: int = 0
    paid: int = 0
    paid_gross: int = 0
    settled: int = 0
    settled_net: int = 0
    pending_mtd: int = 0
    pending_mtd_net: int = 0
    withdrawals: int = 0
    withdrawals_amount: int = 0
    available: int = 0

    @classmethod
    def total(cls, rows: Iterable[asyncpg.Record]) -> Figures:
        result = cls()
        for row in rows:
            for field in fields(cls):
                setattr(result, field.name, getattr(result, field.name) + int(row[field.name]))
        return result

    def record(self, counts: dict[str, int], amounts: dict[str, int], prefix: str = "") -> None:
        for name, money in (("tpv", "gross"), ("paid", "gross"), ("settled", "net"), ("pending_mtd", "net"),
                            ("withdrawals", "amount")):  # fmt: skip
            counts[f"{prefix}{name}"] = getattr(self, name)
            amounts[f"{prefix}{name}.{money}"] = getattr(self, f"{name}_{money}")
        amounts[f"{prefix}available"] = self.available

    def lines(self, month_start: date, yesterday: date) -> list[str]:
        pending = f"{month_start:%d %b} to {yesterday:%d %b}" if yesterday >= month_start else "none this month yet"
        return [
            f"TPV today: {self.tpv:,} orders, {format_idr(self.tpv_gross)}",
            f"Paid today, not settled: {self.paid:,}, {format_idr(self.paid_gross)}",
            f"Settled today: {self.settled:,}, net {format_idr(self.settled_net)}",
            f"Pending settlement ({pending}): {self.pending_mtd:,}, net {format_idr(self.pending_mtd_net)}",
            f"Withdrawals completed today: {self.withdrawals:,}, {format_idr(self.withdrawals_amount)}",
            f"Available to withdraw: {format_idr(self.available)}",
        ]


def _descendants(rows: list[asyncpg.Record]) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """Each partner that has partners below it: itself and every partner below it, however deep."""
    children: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        if row["parent_id"] is not None:
            children.setdefault(row["parent_id"], []).append(row)
    by_id = {row["id"]: row for row in rows}
    groups = {}
    for parent_id in children:
        members, queue = [by_id[parent_id]], list(children[parent_id])
        while queue:  # the hierarchy has no cycles (the partner service refuses them)
            member = queue.pop()
            members.append(member)
            queue.extend(children.get(member["id"], []))
        groups[parent_id] = members
    return groups


async def summarise(ctx: JobContext) -> JobResult:
    until = ctx.scheduled_for or utcnow()
    today = to_jakarta(until - timedelta(microseconds=1)).date()
    month_start = today.replace(day=1)
    window = {
        "day_start": jakarta_midnight(today),
        "month_start": jakarta_midnight(month_start),
        "until": until,
    }
    counts: dict[str, int] = {}
    amounts: dict[str, int] = {}
    async with ctx.database.transaction() as connection:
        rows = await _PER_PARTNER.fetch(connection, **window)
        everyone = Figures.total(rows)
        everyone.record(counts, amounts)
        yesterday = today - timedelta(days=1)
        lines = [f"Dashboard summary, {to_jakarta(until):%Y-%m-%d %H:%M} WIB", "All partners:"]
        lines += everyone.lines(month_start, yesterday)
        for parent_id, members in _descendants(rows).items():
            group = Figures.total(members)
            group.record(counts, amounts, prefix=f"parent.{parent_id}.")
            lines += [f"{members[0]['name']} and the {len(members) - 1} partners below it:"]
            lines += group.lines(month_start, yesterday)
        await raise_alert(connection, kind="dashboard_summary", partner_id=None, message="\n".join(lines), now=utcnow())
    return JobResult(counts=counts, amounts=amounts)


DASHBOARD_SUMMARY = Job(
    name="dashboard.summary",
    default_cron="0 * * * *",
    description="Today's TPV, paid, settled, pending settlement this month, withdrawals and available balances "
    "(Asia/Jakarta), for all partners and per parent partner, as an alert",
    run=summarise,
)
