"""`gerbang reconcile`: the ledger checked against itself, for operators and cron."""

from __future__ import annotations

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.ledger import service as ledger_service
from gerbang.ledger.schemas import ReconcileReport


async def run_reconcile(settings: Settings, database_url: str) -> ReconcileReport:
    database = await Database.connect(database_url, settings)
    try:
        # Repeatable read: every figure in the report comes from the same snapshot.
        async with database.transaction() as connection:
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return await ledger_service.reconcile(connection)
    finally:
        await database.dispose()


def print_report(report: ReconcileReport, *, as_json: bool) -> None:
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    for drift in report.drifting_accounts:
        print(
            f"DRIFT account {drift.account_id} ({drift.kind}, owner {drift.owner_id}): materialised "
            f"{drift.materialised}, from entries {drift.from_entries}; version {drift.version}, entries {drift.entries}"
        )
    for unbalanced in report.unbalanced_transactions:
        print(
            f"UNBALANCED transaction {unbalanced.transaction_id} ({unbalanced.idempotency_key}): "
            f"entries sum to {unbalanced.sum} over {unbalanced.entries} entries"
        )
    summary = (
        f"{report.accounts_checked} accounts, {report.transactions_checked} transactions, "
        f"{report.entries_checked} entries"
    )
    if report.clean:
        print(f"ledger reconciled: {summary}; no drift")
    else:
        problems = len(report.drifting_accounts) + len(report.unbalanced_transactions)
        print(f"ledger NOT reconciled: {summary}; {problems} problems")
