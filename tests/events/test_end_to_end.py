"""End to end: orders created, paid, failed and expired through the API and the sandbox, withdrawals paid out
and refused by the sandbox bank, the orders settled by the settlement job; the worker's relay publishes it
all and a consumer group reads every event once, each key's events in outbox order, the payloads as
docs/events.md documents them (its examples have exactly the fields of the real events)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from typing import Any

import httpx
import orjson

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.scheduler.base import JobContext
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from tests.auth.people import Tenant
from tests.events.conftest import TOPICS, StartRelay, unpublished
from tests.fixtures.kafka import GroupReader, Received, Tansu, wait_for
from tests.helpers import REPO_ROOT
from tests.order.conftest import Post
from tests.withdrawal.conftest import Fund, Send

CATALOG = {
    "payments.v1": {"payment.created", "payment.completed", "payment.failed"},
    "withdraws.v1": {"withdraw.requested", "withdraw.completed", "withdraw.failed"},
    "settlements.v1": {"settlement.completed"},
}
WITHDRAW = "/api/v1/withdrawals/s2s/withdrawals"


def documented_examples() -> dict[str, dict[str, Any]]:
    """docs/events.md's example envelope of each event, by event name."""
    text = (REPO_ROOT / "docs" / "events.md").read_text()
    examples = [orjson.loads(block) for block in re.findall(r"```json\n(\{.*?\})\n```", text, re.DOTALL)]
    return {example["event"]: example for example in examples if "event" in example and "data" in example}


async def _rows(database: Database) -> list[dict[str, Any]]:
    async with database.connection() as connection:
        return [dict(row) for row in await connection.fetch("SELECT * FROM outbox_events ORDER BY id")]


async def _orders(post: Post, shop: Tenant, live: str) -> list[str]:
    ids = []
    for n in range(4):
        created = await post(shop, "/api/v1/payments", {"amount": 120_000 + n, "reference": f"E2E-{n}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["result"]["orderId"])
    async with httpx.AsyncClient(base_url=live) as sandbox:
        for order_id, outcome in zip(ids, ["pay", "pay", "fail", "expire"], strict=True):
            moved = await sandbox.post(f"/sandbox/orders/{order_id}/{outcome}")
            assert moved.status_code == 200, moved.text
    return ids


async def _withdrawals(s2s: Send, shop: Tenant, fund: Fund, live: str, database: Database) -> list[str]:
    await fund(shop, 300_000)
    ids = []
    for n in range(2):
        body = {"amount": 50_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": f"WD-{n}"}
        created = await s2s(shop, "POST", WITHDRAW, body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["result"]["id"])
    async with httpx.AsyncClient(base_url=live) as sandbox:
        for withdrawal_id, outcome in zip(ids, ["complete", "fail"], strict=True):
            moved = await sandbox.post(f"/sandbox/disbursements/{withdrawal_id}/{outcome}")
            assert moved.status_code == 200, moved.text

    async def settled() -> bool:
        async with database.connection() as connection:
            statuses = await connection.fetch("SELECT status FROM withdrawals WHERE id = ANY($1)", ids)
        return sorted(row["status"] for row in statuses) == ["COMPLETED", "FAILED"]

    await wait_for(settled, 10, "the withdrawals completed and failed")
    return ids


async def _settle(database: Database, settings: Settings) -> None:
    async with database.transaction() as connection:
        await connection.execute("UPDATE provider_accounts SET settlement_days = 0")  # due at once
    context = JobContext(database, settings, uuid.uuid4(), "manual", asyncio.Event())
    result = await SETTLEMENT_CHECK.run(context)
    assert result.counts["settled"] >= 2, result


async def test_every_event_reaches_a_consumer_group_once_in_order_with_the_documented_payloads(
    post: Post, s2s: Send, shop: Tenant, fund: Fund, live: str, database: Database, settings: Settings,
    tansu: Tansu, start_relay: StartRelay,
) -> None:  # fmt: skip
    with GroupReader(tansu.bootstrap, TOPICS, f"e2e-{uuid.uuid4().hex[:8]}") as group:
        await start_relay()
        orders = await _orders(post, shop, live)
        withdrawals = await _withdrawals(s2s, shop, fund, live, database)
        await _settle(database, settings)

        async def all_published() -> bool:
            return await unpublished(database) == 0

        await wait_for(all_published, 20, "every outbox row published")
        rows = await _rows(database)
        await wait_for(lambda: len(group.messages) >= len(rows), 40, "the group read every event")
        await asyncio.sleep(0.5)  # anything read twice would show now
    received: list[Received] = list(group.messages)

    # Every event once, by id; each key's events in outbox order; the envelope around the row's data.
    assert sorted(m.envelope["id"] for m in received) == sorted(str(row["event_id"]) for row in rows)
    expected_order: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        expected_order[row["key"]].append(str(row["event_id"]))
    read_order: dict[str, list[str]] = defaultdict(list)
    for message in received:
        read_order[message.key].append(message.envelope["id"])
    assert read_order == expected_order
    by_id = {str(row["event_id"]): row for row in rows}
    for message in received:
        row = by_id[message.envelope["id"]]
        assert (message.topic, message.key) == (row["topic"], row["key"])
        assert message.envelope == {
            "event": row["event"], "version": row["version"], "id": str(row["event_id"]),
            "occurred_at": message.envelope["occurred_at"], "data": row["data"],
        }  # fmt: skip

    # What happened, as events: keyed by the order, the withdrawal, the partner.
    events = {(m.key, m.envelope["event"], m.envelope["data"].get("status")) for m in received}
    for order_id, outcome in zip(orders, ["PAID", "PAID", "FAILED", "EXPIRED"], strict=True):
        final = "payment.completed" if outcome == "PAID" else "payment.failed"
        assert {(order_id, "payment.created", "PENDING"), (order_id, final, outcome)} <= events
        assert read_order[order_id][0] == next(
            m.envelope["id"] for m in received if m.key == order_id and m.envelope["event"] == "payment.created"
        )
    assert {
        (withdrawals[0], "withdraw.completed", "COMPLETED"),
        (withdrawals[1], "withdraw.failed", "FAILED"),
    } <= events
    settlements = [m for m in received if m.envelope["event"] == "settlement.completed"]
    assert [m.key for m in settlements] == [str(shop.id)]
    assert set(settlements[0].envelope["data"]["orderIds"]) >= set(orders[:2])

    # The catalog is what the code writes, and docs/events.md shows each event with exactly its fields.
    written = {(m.topic, m.envelope["event"]) for m in received}
    assert written == {(topic, event) for topic, names in CATALOG.items() for event in names}
    documented = documented_examples()
    assert set(documented) == {event for _, event in written}
    for message in received:
        example = documented[message.envelope["event"]]
        assert example.keys() == message.envelope.keys()
        assert example["data"].keys() == message.envelope["data"].keys(), message.envelope["event"]
