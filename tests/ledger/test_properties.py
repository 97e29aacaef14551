"""Property: whatever sequence of postings, replays and conflicts arrives, every transaction sums to
zero, every materialised balance equals its entries, and balances match a model of what was accepted."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef, TransactionKind, credit, debit
from tests.ledger.helpers import assert_reconciled, balance

ACCOUNTS = 4  # three partner balances that must not go negative, and the outside world
_post = st.tuples(st.just("post"), st.integers(0, ACCOUNTS - 1), st.integers(0, ACCOUNTS - 1), st.integers(1, 500))
_replay = st.tuples(st.just("replay"), st.integers(0, 100), st.just(0), st.just(0))
_conflict = st.tuples(st.just("conflict"), st.integers(0, 100), st.just(0), st.integers(1, 50))
operations = st.lists(st.one_of(_post, _post, _replay, _conflict), min_size=1, max_size=25)


def _delta(ref: AccountRef, signed: int) -> int:
    return signed if ref.kind.normal_side == "debit" else -signed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
async def test_any_sequence_keeps_the_books_balanced(database: Database, ops: list[tuple[str, int, int, int]]) -> None:
    run = uuid.uuid4().hex[:8]
    refs = [AccountRef(AccountKind.partner_available, uuid.uuid4()) for _ in range(ACCOUNTS - 1)]
    refs.append(AccountRef(AccountKind.external))
    external_before = await balance(database, refs[-1])
    expected = [0] * (ACCOUNTS - 1) + [external_before]
    posted: dict[str, tuple[int, int, int]] = {}  # key -> (source, target, amount) as accepted
    attempts: list[tuple[str, int, int, int]] = []

    for op, a, b, value in ops:
        if op == "post":
            if a == b:
                continue
            key, source, target, amount = f"{run}-{len(attempts)}", a, b, value
        elif not attempts:
            continue
        else:
            key, source, target, amount = attempts[a % len(attempts)]
            amount += value  # a conflict changes the amount; a replay does not
        attempts.append((key, source, target, amount))

        legs = [debit(refs[source], amount), credit(refs[target], amount)]
        try:
            async with database.transaction() as connection:
                result = await ledger.post(
                    connection, idempotency_key=key, kind=TransactionKind.transfer, reference=f"test:{key}", legs=legs
                )
        except ledger.IdempotencyConflict:
            assert key in posted
            assert posted[key] != (source, target, amount)
            continue
        except ledger.InsufficientFunds:
            assert key not in posted
            source_after = expected[source] + _delta(refs[source], amount)
            target_after = expected[target] + _delta(refs[target], -amount)
            assert (refs[source].kind.non_negative and source_after < 0) or (
                refs[target].kind.non_negative and target_after < 0
            )
            continue
        if key in posted:
            assert result.replayed
            assert posted[key] == (source, target, amount)
            continue
        assert not result.replayed
        posted[key] = (source, target, amount)
        expected[source] += _delta(refs[source], amount)
        expected[target] += _delta(refs[target], -amount)

    assert [await balance(database, ref) for ref in refs] == expected
    await assert_reconciled(database)
