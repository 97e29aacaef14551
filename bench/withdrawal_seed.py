"""The withdrawal scenario's data, from nothing, through gerbang's own service functions: the payout
accounts (the sandbox PSP and the stub), 32 partners with a withdrawal fee and money to withdraw (put in
their available balance as it gets there: a paid order, then its settlement), the baseline's tables and
balance rows; then the checks of what the runs left behind.

Every server of the scenario gets `bench.payin_seed.BENCH_SECRET_KEY` as `GERBANG_SECRET_KEY`, so the
credentials encrypted here open there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.apps.withdrawal_baseline import TABLES
from bench.payin_seed import BENCH_SECRET_KEY, connected
from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.partner.schemas import Fees, PartnerChanges
from gerbang.partner.service import create_partner, update_partner
from gerbang.provider.base import PaymentMethod
from gerbang.routing.accounts import create_account
from gerbang.routing.schemas import AccountCreate

PARTNERS = 32
FUNDS = 10**12
"""Each partner's available balance before the runs, in rupiah: far more than any run withdraws."""
FEES = Fees(withdrawal_percent=Decimal("0.5"), withdrawal_flat=2_500)


@dataclass(frozen=True)
class Seeded:
    partners: list[dict[str, str]]
    """partner_id, api_key, signing_secret of each partner."""
    sandbox_account_id: str
    stub_account_id: str


async def seed(
    database_url: str, *, psp_url: str, stub_url: str, merchant_key: str, partners: int = PARTNERS
) -> Seeded:
    ring = KeyRing([BENCH_SECRET_KEY])
    now = utcnow()
    async with connected(database_url) as database, database.transaction() as connection:
        for statement in TABLES:
            await connection.execute(statement)
        accounts = []
        for name, base_url in (("Sandbox PSP", f"{psp_url}/sandbox"), ("Stub PSP", stub_url)):
            body = AccountCreate.model_validate({
                "provider": "sandbox", "name": f"Bench payouts {name}", "baseUrl": base_url, "enabled": False,
                "credentials": {"merchant_key": merchant_key}, "methods": [PaymentMethod.qris],
            })  # fmt: skip
            accounts.append(await create_account(connection, ring, body, now))
        credentials = []
        for index in range(partners):
            created = await create_partner(connection, ring, name=f"Bench payouts {index:02}", require_https=False)
            await update_partner(
                connection, created.partner_id, PartnerChanges(fees=FEES), require_https=False, now=now
            )
            order_id = uuid.uuid4()
            await ledger.order_paid(
                connection, order_id=order_id, partner_id=created.partner_id, provider_account_id=accounts[0].id,
                amount_paid=FUNDS, fee=0,
            )  # fmt: skip
            await ledger.settlement(connection, order_id=order_id, partner_id=created.partner_id, net=FUNDS)
            await connection.execute(
                "INSERT INTO bench_withdrawal_balances (api_key, available) VALUES ($1, $2)", created.api_key, FUNDS
            )
            credentials.append({"partner_id": str(created.partner_id), "api_key": created.api_key,
                                "signing_secret": created.signing_secret})  # fmt: skip
    return Seeded(credentials, str(accounts[0].id), str(accounts[1].id))


async def open_count(database_url: str, account_id: str) -> int:
    """Withdrawals at this provider account still waiting for the provider's word."""
    async with connected(database_url) as database, database.connection() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM withdrawals WHERE status IN ('PENDING', 'PROCESSING') AND provider_account_id = $1",
            uuid.UUID(account_id),
        )
        return count


async def check(database_url: str, seeded: Seeded, created: int, baseline_created: int) -> dict[str, Any]:
    """What the runs left: every withdrawal answered 201 is there once, COMPLETED (the sandbox called back)
    or PROCESSING (the stub never does), with its hold, and a completion posting for each COMPLETED one."""
    partner_ids = [uuid.UUID(partner["partner_id"]) for partner in seeded.partners]
    accounts = {"sandbox": uuid.UUID(seeded.sandbox_account_id), "stub": uuid.UUID(seeded.stub_account_id)}
    async with connected(database_url) as database, database.transaction() as connection:
        rows = await connection.fetch(
            "SELECT id, provider_account_id, status FROM withdrawals WHERE partner_id = ANY($1)", partner_ids
        )
        by_account: dict[str, dict[str, int]] = {name: {} for name in accounts}
        names = {value: name for name, value in accounts.items()}
        for row in rows:
            counts = by_account.setdefault(names.get(row["provider_account_id"], "other"), {})
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        effects: dict[str, int] = {}
        for effect in ("hold", "complete", "release"):
            effects[effect] = await connection.fetchval(
                "SELECT count(*) FROM ledger_transactions WHERE idempotency_key = ANY($1)",
                [f"withdrawal:{row['id']}:{effect}" for row in rows],
            )
        callbacks: int = await connection.fetchval(
            "SELECT count(*) FROM provider_callbacks c JOIN withdrawals w ON c.withdrawal_id = w.id "
            "WHERE w.partner_id = ANY($1) AND c.verified AND c.outcome = 'applied'",
            partner_ids,
        )
        baseline_rows: int = await connection.fetchval("SELECT count(*) FROM bench_withdrawals")
        baseline_held: int = await connection.fetchval("SELECT coalesce(sum(held), 0) FROM bench_withdrawal_balances")
        baseline_amounts: int = await connection.fetchval("SELECT coalesce(sum(amount), 0) FROM bench_withdrawals")
    statuses: dict[str, int] = {}
    for counts in by_account.values():
        for status, n in counts.items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "created_201": created,
        "withdrawals": sum(statuses.values()),
        "statuses": statuses,
        "by_account": by_account,
        "holds": effects["hold"],
        "completions": effects["complete"],
        "releases": effects["release"],
        "callbacks_applied": callbacks,
        "baseline_created_201": baseline_created,
        "baseline_rows": baseline_rows,
        "baseline_held_matches": baseline_held == baseline_amounts,
    }
