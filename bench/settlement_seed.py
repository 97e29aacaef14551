"""The settlement scenario's data: partners and a provider account through gerbang's own service functions,
then PAID orders in bulk (`generate_series`), each with the ledger posting `ledger.order_paid` would have
made (same key, kind, reference, legs and house shard; entries with running balances; materialised balances
and versions), so balances and `gerbang reconcile` are coherent before the run. Seeding is not measured.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from gerbang.config import Environment, Settings
from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import HOUSE_SHARDS, PLATFORM
from gerbang.partner.service import create_partner
from gerbang.provider.base import PaymentMethod
from gerbang.routing.accounts import create_account
from gerbang.routing.schemas import AccountCreate

BENCH_SECRET_KEY = "gerbang-bench-secret-key-0123456789abcdef"  # noqa: S105 (the benchmark's throwaway key)
# A QRIS string of the usual length: rows as wide as real ones (an update rewrites the whole row).
QR_PAYLOAD = "00020101021226610014ID.CO.QRIS.WWW0215ID10200000000010303UMI5204549953033605802ID5907gerbang" + (
    "6007Jakarta61051234062290525sbx_0123456789abcdef012345678963041A2B"
)
# What `house()` computes in Python (`uuid.int % HOUSE_SHARDS`), from the uuid's last two hex digits (the
# shard count divides 256).
assert 256 % HOUSE_SHARDS == 0
_SHARD = f"(('x' || right(o.id::text, 2))::bit(8)::int % {HOUSE_SHARDS})"
_ACCOUNTS = f"""
INSERT INTO ledger_accounts (kind, owner_id, currency, shard, normal_side, non_negative)
SELECT 'provider_balance', $1::uuid, 'IDR', s, 'debit', false FROM generate_series(0, {HOUSE_SHARDS - 1}) s
UNION ALL SELECT 'platform_fees', $2::uuid, 'IDR', s, 'credit', false FROM generate_series(0, {HOUSE_SHARDS - 1}) s
UNION ALL SELECT 'partner_pending', p, 'IDR', 0, 'credit', true FROM unnest($3::uuid[]) p
ON CONFLICT (key) DO NOTHING
"""
# Amounts from Rp 10.000 to about Rp 1.000.000; the fee 1.5% rounded half-up (as `FeeRate("1.5")`); paid 10 to
# 20 days ago, so due under D+1 whatever the day of the week or the holidays.
_ORDERS = f"""
INSERT INTO orders (id, partner_id, reference, amount, method, flow, status, provider, provider_account_id,
                    provider_reference, qr_payload, customer_name, fee, expires_at, paid_at, created_at, updated_at)
SELECT gen_random_uuid(), ($1::uuid[])[1 + i % cardinality($1::uuid[])], 'BENCH-' || i, amount, 'qris', 'embed',
       'PAID', 'sandbox', $2::uuid, 'sbx_' || i, '{QR_PAYLOAD}', 'Budi Santoso', (amount * 15 + 500) / 1000,
       paid_at + interval '15 minutes', paid_at, paid_at - interval '1 minute', paid_at
FROM generate_series($3::bigint, $4::bigint) i,
     LATERAL (SELECT 10000 + (i * 7919) % 990000 AS amount,
                     now() - interval '10 days' - (i % 864000) * interval '1 second' AS paid_at) v
"""
_TRANSACTIONS = """
INSERT INTO ledger_transactions (idempotency_key, kind, reference, currency, created_at)
SELECT 'order:' || o.id || ':paid', 'order_paid', 'order:' || o.id, 'IDR', o.paid_at
FROM orders o WHERE o.provider_account_id = $1 AND o.reference LIKE 'BENCH-%' ORDER BY o.paid_at, o.id
"""
_ENTRIES = f"""
INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
SELECT transaction_id, account_id, amount,
       SUM(CASE WHEN normal_side = 'debit' THEN amount ELSE -amount END)
           OVER (PARTITION BY account_id ORDER BY transaction_id),
       created_at
FROM (
    SELECT t.id AS transaction_id, t.created_at, a.id AS account_id, a.normal_side, leg.amount
    FROM ledger_transactions t
    JOIN orders o ON t.kind = 'order_paid' AND t.reference = 'order:' || o.id AND o.provider_account_id = $2
    CROSS JOIN LATERAL (VALUES ('provider_balance', o.provider_account_id, {_SHARD}, o.amount),
                               ('partner_pending', o.partner_id, 0, -(o.amount - o.fee)),
                               ('platform_fees', $1::uuid, {_SHARD}, -o.fee)) AS leg(kind, owner_id, shard, amount)
    JOIN ledger_accounts a ON a.kind = leg.kind AND a.owner_id = leg.owner_id AND a.shard = leg.shard
    WHERE leg.amount <> 0
) legs
ORDER BY transaction_id, account_id
"""
_BALANCES = """
UPDATE ledger_accounts a SET balance = s.balance, version = s.entries
FROM (SELECT e.account_id, count(*) AS entries,
             SUM(CASE WHEN a.normal_side = 'debit' THEN e.amount ELSE -e.amount END) AS balance
      FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id GROUP BY e.account_id) s
WHERE a.id = s.account_id
"""
_CHUNK = 250_000


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[Database]:
    settings = Settings(
        _env_file=None,
        env=Environment.development, database_pool_size=2, database_statement_timeout=timedelta(hours=1),
    )  # fmt: skip
    database = await Database.connect(database_url, settings)
    try:
        yield database
    finally:
        await database.dispose()


async def seed(database_url: str, *, orders: int, partners: int) -> dict[str, Any]:
    """`orders` PAID orders spread over `partners` partners, on one provider account settling D+1."""
    ring = KeyRing([BENCH_SECRET_KEY])
    async with connected(database_url) as database:
        async with database.transaction() as connection:
            body = AccountCreate(
                provider="sandbox", name="Bench settlement", base_url="http://127.0.0.1:9/sandbox",
                credentials={"merchant_key": "sbx_bench_settlement_0123"}, methods=[PaymentMethod.qris],
                settlement_days=1,
            )  # fmt: skip
            account = await create_account(connection, ring, body, utcnow())
            partner_ids = [
                (await create_partner(connection, ring, name=f"Bench partner {n:03}", require_https=False)).partner_id
                for n in range(partners)
            ]
        async with database.connection() as connection:
            await connection.execute(_ACCOUNTS, account.id, PLATFORM, partner_ids)
            for start in range(1, orders + 1, _CHUNK):
                await connection.execute(_ORDERS, partner_ids, account.id, start, min(start + _CHUNK - 1, orders))
            await connection.execute(_TRANSACTIONS, account.id)  # this seed's: one database may hold two
            await connection.execute("ANALYZE")  # the join below is planned from statistics, not guesses
            await connection.execute(_ENTRIES, PLATFORM, account.id)
            await connection.execute(_BALANCES)
            await connection.execute("VACUUM ANALYZE")
            pending = await connection.fetchval(
                "SELECT sum(balance) FROM ledger_accounts WHERE kind = 'partner_pending' AND owner_id = ANY($1)",
                partner_ids,
            )
    return {
        "orders": orders, "account_id": str(account.id), "partner_ids": [str(p) for p in partner_ids],
        "pending": int(pending),
    }  # fmt: skip


async def check(database_url: str, seeded: dict[str, Any]) -> dict[str, Any]:
    """What the run left of the seeded orders and partners: every count must be the number of orders (or zero
    where it says so), and the ledger clean."""
    account, partners = uuid.UUID(seeded["account_id"]), [uuid.UUID(p) for p in seeded["partner_ids"]]
    async with connected(database_url) as database, database.connection() as connection:
        counts = await connection.fetchrow(
            """
            SELECT (SELECT count(*) FROM orders WHERE provider_account_id = $1 AND status = 'SETTLED') AS settled,
                   (SELECT count(*) FROM orders WHERE provider_account_id = $1 AND status = 'PAID') AS still_paid,
                   (SELECT count(*) FROM orders o JOIN ledger_transactions t
                        ON t.idempotency_key = 'order:' || o.id || ':settled' WHERE o.provider_account_id = $1)
                       AS settlement_postings,
                   (SELECT coalesce(sum(order_count), 0) FROM settlement_batches WHERE partner_id = ANY($2))
                       AS in_batches,
                   (SELECT count(*) FROM settlement_batches WHERE partner_id = ANY($2)) AS partner_batches,
                   (SELECT count(*) FROM webhook_events
                        WHERE event_type = 'settlement.completed' AND partner_id = ANY($2)) AS webhooks,
                   (SELECT count(*) FROM outbox_events
                        WHERE event = 'settlement.completed' AND key = ANY($2::text[])) AS outbox,
                   (SELECT coalesce(sum(balance), 0) FROM ledger_accounts
                        WHERE kind = 'partner_pending' AND owner_id = ANY($2)) AS pending,
                   (SELECT coalesce(sum(balance), 0) FROM ledger_accounts
                        WHERE kind = 'partner_available' AND owner_id = ANY($2)) AS available,
                   (SELECT coalesce(sum(amount - fee), 0) FROM orders
                        WHERE provider_account_id = $1 AND status = 'SETTLED') AS nets
            """,
            account, partners,
        )  # fmt: skip
        assert counts is not None
        report = await ledger.reconcile(connection)
    result: dict[str, Any] = {key: int(value) for key, value in dict(counts).items()}
    orders = seeded["orders"]
    result["reconciled"] = report.clean
    result["passed"] = (
        report.clean and result["settled"] == result["settlement_postings"] == result["in_batches"] == orders
        and result["still_paid"] == 0 and result["pending"] == 0 and result["available"] == result["nets"]
        and result["webhooks"] == result["outbox"] == result["partner_batches"]
    )  # fmt: skip
    return result
