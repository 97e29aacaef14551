"""All of the ledger's SQL. A posting is one round trip: one statement locks its accounts and, if it may, writes it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import CTE, ColumnElement, text

from gerbang.kit.sql import Connection, Query, refuse_unless_returned

_ACCOUNT_COLUMNS = "a.id, a.kind, a.owner_id, a.shard, a.currency, a.normal_side, a.non_negative, a.balance"

_LOCK_BY_KEY = Query(
    text(
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts a "
        "WHERE a.key = ANY(CAST(:keys AS text[])) ORDER BY a.id FOR UPDATE"
    )
)
# All or nothing: if any account is missing, no row is locked. A posting that held the accounts it found
# while it inserted the missing ones could wait for another posting that inserted one of those (not yet
# committed) and now waits for a row this one holds: a deadlock. Rows are locked only when every one exists.
_LOCK_ALL_BY_KEY = Query(
    text(
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts a "
        "WHERE a.key = ANY(CAST(:keys AS text[])) AND (SELECT count(*) FROM ledger_accounts b "
        "WHERE b.key = ANY(CAST(:keys AS text[]))) = cardinality(CAST(:keys AS text[])) ORDER BY a.id FOR UPDATE"
    )
)
_CREATE_ACCOUNTS = Query(
    text(
        "INSERT INTO ledger_accounts (kind, owner_id, currency, shard, normal_side, non_negative) "
        "SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:owners AS uuid[]), CAST(:currencies AS text[]), "
        "CAST(:shards AS smallint[]), CAST(:sides AS text[]), CAST(:non_negative AS boolean[])) "
        "ON CONFLICT (key) DO NOTHING"
    )
)


def _posting_parts(match: str, array_type: str, *, prefix: str = "", gate: str | None = None) -> dict[str, str]:
    """A whole posting as the CTEs of one statement, by name in order; its accounts named by `match` (`key`
    or `id`), its parameters and CTE names prefixed with `prefix`; with `gate`, it does anything only if the
    CTE `gate` returned a row.

    It locks the accounts in id order, the canonical order every posting uses (no deadlocks), all or none (as
    `_LOCK_ALL_BY_KEY`, and for the same reason: the missing ones are then created holding no lock). Only if
    every account exists, they hold one currency and none that must not go negative would, it writes the
    transaction, its entries and the balances; a key posted before writes nothing (`ON CONFLICT`). `locked`
    holds the locked rows, each with its leg's amount and balance after; `posted` the new transaction's id and
    time (no row when nothing was written).

    The balances are computed from the rows as locked: a row changed by a posting that committed while this
    one waited for it is read again at its newest version (READ COMMITTED re-checks locked and updated rows).
    """
    p = prefix
    accounts = f"CAST(:{p}accounts AS {array_type}[])"
    gated = f" WHERE EXISTS (SELECT FROM {gate})" if gate else ""
    return {
        f"{p}leg": f"SELECT * FROM unnest({accounts}, CAST(:{p}amounts AS bigint[])) AS leg(account, amount){gated}",
        f"{p}locked": f"""
            SELECT {_ACCOUNT_COLUMNS}, leg.amount,
                   a.balance + CASE WHEN a.normal_side = 'debit' THEN leg.amount ELSE -leg.amount END AS balance_after
            FROM ledger_accounts a JOIN {p}leg AS leg ON a.{match} = leg.account
            WHERE (SELECT count(*) FROM ledger_accounts b WHERE b.{match} = ANY({accounts})) = cardinality({accounts})
            ORDER BY a.id FOR UPDATE OF a""",
        f"{p}posted": f"""
            INSERT INTO ledger_transactions (idempotency_key, kind, reference, currency)
            SELECT :{p}key, :{p}kind, :{p}reference, min(currency) FROM {p}locked
            HAVING count(*) = cardinality({accounts}) AND count(DISTINCT currency) = 1
               AND bool_and(NOT non_negative OR balance_after >= 0)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, created_at""",
        f"{p}entries": f"""
            INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
            SELECT posted.id, locked.id, locked.amount, locked.balance_after, posted.created_at
            FROM {p}posted AS posted, {p}locked AS locked""",
        f"{p}balances": f"""
            UPDATE ledger_accounts AS account SET balance = locked.balance_after, version = account.version + 1
            FROM {p}posted AS posted, {p}locked AS locked WHERE account.id = locked.id""",
    }


def _posting(match: str, array_type: str) -> Query:
    """A posting in one statement (`_posting_parts`) that returns the locked rows with `transaction_id` and
    `transaction_created_at`, null when nothing was written, for the caller to tell why
    (`gerbang.ledger.service._posted`)."""
    ctes = ", ".join(f"{name} AS ({sql})" for name, sql in _posting_parts(match, array_type).items())
    returned = "locked.*, posted.id AS transaction_id, posted.created_at AS transaction_created_at"
    return Query(text(f"WITH {ctes} SELECT {returned} FROM locked LEFT JOIN posted ON true ORDER BY locked.id"))


GATED_PREFIX = "posting_"
"""The names of a gated posting's parameters and CTEs begin with it (`gated_posting`)."""


@dataclass(frozen=True)
class GatedPosting:
    """A posting, its accounts by key, written by another statement only if that statement's `gate` CTE
    returned a row: `ctes` to add to it (after the gate), and `made`, a condition on the gate's row that is true
    if the posting was written and otherwise fails the whole statement with `kit.sql.Refused` (funds short, an
    account not created yet, the key posted before): nothing is written, and the caller takes its careful path.
    Its parameters: `gerbang.ledger.service.gated_values(...)`."""

    ctes: tuple[CTE, ...]
    made: ColumnElement[bool]


def gated_posting(gate: CTE, what: str) -> GatedPosting:
    """`what`: the posting, named in the refusal's message (plain words)."""
    parts = _posting_parts("key", "text", prefix=GATED_PREFIX, gate=gate.name)
    ctes = tuple(text(sql).columns().cte(name) for name, sql in parts.items())
    return GatedPosting(ctes, refuse_unless_returned(f"{GATED_PREFIX}posted", what))


_POST_BY_KEY = _posting("key", "text")
_POST_BY_ID = _posting("id", "bigint")
_TRANSACTION_BY_KEY = Query(
    text(
        "SELECT t.id, t.kind, t.reference, t.currency, t.created_at, "
        "array_agg(e.account_id ORDER BY e.account_id) AS account_ids, "
        "array_agg(e.amount ORDER BY e.account_id) AS amounts, "
        "array_agg(a.kind || ':' || a.owner_id || ':' || a.currency ORDER BY e.account_id) AS account_names "
        "FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id "
        "JOIN ledger_accounts a ON a.id = e.account_id "
        "WHERE t.idempotency_key = :key GROUP BY t.id"
    )
)
_TRANSACTION_LEGS = Query(
    text(
        "SELECT t.id, t.kind, t.reference, t.currency, e.account_id, e.amount "
        "FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id "
        "WHERE t.id = :transaction_id ORDER BY e.account_id"
    )
)
_BALANCES_BY_KEY = Query(
    text(f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.key = ANY(CAST(:keys AS text[]))")
)
# The whole account: the sum of its shards (one row for an account that is not split).
_BALANCE_OF = Query(
    text(
        "SELECT COALESCE(SUM(balance), 0) FROM ledger_accounts "
        "WHERE kind = :kind AND owner_id = :owner_id AND currency = :currency"
    )
)
_ACCOUNT = Query(text(f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.id = :account_id"))
_HISTORY_COLUMNS = (
    "e.id AS entry_id, e.transaction_id, t.kind, t.reference, "
    "CASE WHEN a.normal_side = 'debit' THEN e.amount ELSE -e.amount END AS change, e.balance_after, e.created_at "
    "FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id "
    "JOIN ledger_accounts a ON a.id = e.account_id "
)
_HISTORY = Query(
    text(
        f"SELECT {_HISTORY_COLUMNS} WHERE e.account_id = :account_id AND e.id < :before ORDER BY e.id DESC LIMIT :limit"
    )
)
_ENTRIES_BETWEEN = Query(
    text(
        f"SELECT {_HISTORY_COLUMNS} WHERE e.account_id = :account_id "
        "AND e.created_at >= :start AND e.created_at < :end ORDER BY e.id"
    )
)
_BALANCE_BEFORE = Query(
    text(
        "SELECT balance_after FROM ledger_entries WHERE account_id = :account_id AND created_at < :start "
        "ORDER BY id DESC LIMIT 1"
    )
)
_ACCOUNT_DRIFT = Query(
    text(
        """
        SELECT a.id AS account_id, a.kind, a.owner_id, a.shard, a.balance AS materialised, a.version,
               COALESCE(SUM(CASE WHEN a.normal_side = 'debit' THEN e.amount ELSE -e.amount END), 0) AS from_entries,
               COUNT(e.id) AS entries
        FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
        GROUP BY a.id
        HAVING a.balance <> COALESCE(SUM(CASE WHEN a.normal_side = 'debit' THEN e.amount ELSE -e.amount END), 0)
            OR a.version <> COUNT(e.id)
        ORDER BY a.id
        """
    )
)
_UNBALANCED = Query(
    text(
        """
        SELECT t.id AS transaction_id, t.idempotency_key, COALESCE(SUM(e.amount), 0) AS sum, COUNT(e.id) AS entries
        FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
        GROUP BY t.id HAVING COALESCE(SUM(e.amount), 0) <> 0 OR COUNT(e.id) < 2
        ORDER BY t.id
        """
    )
)
_COUNTS = Query(
    text(
        "SELECT (SELECT COUNT(*) FROM ledger_accounts) AS accounts, "
        "(SELECT COUNT(*) FROM ledger_transactions) AS transactions, "
        "(SELECT COUNT(*) FROM ledger_entries) AS entries"
    )
)


Ref = tuple[str, uuid.UUID, str, int]
"""An account by what it is: kind, owner, currency, shard."""


def account_key(kind: str, owner_id: uuid.UUID, currency: str, shard: int) -> str:
    """The value of `ledger_accounts.key` (`gerbang.models.ledger.KEY_EXPRESSION`, generated by the database
    from the same four columns)."""
    return f"{kind}:{owner_id}:{currency}" + (f":{shard}" if shard else "")


async def lock_accounts_by_ref(
    connection: Connection, refs: Sequence[Ref], *, all_or_none: bool = False
) -> list[asyncpg.Record]:
    """The accounts `refs` name that exist, locked in id order; with `all_or_none`, none locked (and an
    empty list) unless every one exists."""
    query = _LOCK_ALL_BY_KEY if all_or_none else _LOCK_BY_KEY
    return await query.fetch(connection, keys=[account_key(*ref) for ref in refs])


async def create_accounts(connection: Connection, refs: Sequence[tuple[str, uuid.UUID, str, int, str, bool]]) -> None:
    """(kind, owner, currency, shard, normal side, non-negative) each; those that exist are left as they are."""
    await _CREATE_ACCOUNTS.execute(
        connection,
        kinds=[ref[0] for ref in refs],
        owners=[ref[1] for ref in refs],
        currencies=[ref[2] for ref in refs],
        shards=[ref[3] for ref in refs],
        sides=[ref[4] for ref in refs],
        non_negative=[ref[5] for ref in refs],
    )


async def post(
    connection: Connection, *, key: str, kind: str, reference: str, accounts: Sequence[str] | Sequence[int],
    amounts: Sequence[int],
) -> list[asyncpg.Record]:  # fmt: skip
    """The posting's statement (`_posting`), its accounts by key (`account_key`) or all by id; the locked rows
    with `amount`, `balance_after` and `transaction_id` / `transaction_created_at` (null: nothing written),
    or no rows if an account is missing (and nothing locked)."""
    query = _POST_BY_ID if accounts and isinstance(accounts[0], int) else _POST_BY_KEY
    return await query.fetch(
        connection, key=key, kind=kind, reference=reference, accounts=list(accounts), amounts=list(amounts)
    )


async def transaction_by_key(connection: Connection, key: str) -> asyncpg.Record | None:
    return await _TRANSACTION_BY_KEY.fetchrow(connection, key=key)


async def transaction_legs(connection: Connection, transaction_id: int) -> list[asyncpg.Record]:
    return await _TRANSACTION_LEGS.fetch(connection, transaction_id=transaction_id)


async def balances_by_ref(connection: Connection, refs: Sequence[Ref]) -> list[asyncpg.Record]:
    """The rows `refs` name, as they are: for accounts that are not split (a shard is a row of its own)."""
    return await _BALANCES_BY_KEY.fetch(connection, keys=[account_key(*ref) for ref in refs])


async def balance_of(connection: Connection, kind: str, owner_id: uuid.UUID, currency: str) -> int:
    """The account's balance, all its shards summed; zero if it has no row."""
    return int(await _BALANCE_OF.fetchval(connection, kind=kind, owner_id=owner_id, currency=currency))


async def account(connection: Connection, account_id: int) -> asyncpg.Record | None:
    return await _ACCOUNT.fetchrow(connection, account_id=account_id)


async def history(connection: Connection, account_id: int, *, before: int, limit: int) -> list[asyncpg.Record]:
    return await _HISTORY.fetch(connection, account_id=account_id, before=before, limit=limit)


async def entries_between(
    connection: Connection, account_id: int, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    return await _ENTRIES_BETWEEN.fetch(connection, account_id=account_id, start=start, end=end)


async def balance_before(connection: Connection, account_id: int, start: datetime) -> int:
    value = await _BALANCE_BEFORE.fetchval(connection, account_id=account_id, start=start)
    return int(value) if value is not None else 0


async def drifting_accounts(connection: Connection) -> list[asyncpg.Record]:
    return await _ACCOUNT_DRIFT.fetch(connection)


async def unbalanced_transactions(connection: Connection) -> list[asyncpg.Record]:
    return await _UNBALANCED.fetch(connection)


async def counts(connection: Connection) -> asyncpg.Record:
    row = await _COUNTS.fetchrow(connection)
    if row is None:  # an aggregate without GROUP BY always returns one row
        raise RuntimeError("ledger counts returned no row")
    return row
