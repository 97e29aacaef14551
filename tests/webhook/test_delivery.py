"""Webhook delivery to a real receiver over HTTP: signatures, the retry policy, FIFO, dead letters and
disabled endpoints. The worker runs in the test's event loop against the test database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
import standardwebhooks

from gerbang.db import Database
from gerbang.kit.crypto import webhook_signing_key
from tests.webhook.conftest import Emit, MakePartner, Receiver, StartWorker, receiver_at, statuses, wait_for


async def _attempts(database: Database, event_id: uuid.UUID) -> list[tuple[int | None, str]]:
    async with database.transaction() as connection:
        rows = await connection.fetch(
            "SELECT status_code, outcome FROM webhook_attempts WHERE event_id = $1 ORDER BY id", event_id
        )
    return [(row["status_code"], row["outcome"]) for row in rows]


async def test_signatures_verify_with_standard_webhooks_and_plain_hmac(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    partner = await make_partner(receiver.url)
    [event_id] = await emit(partner.partner_id)
    async with start_worker():
        await wait_for(lambda: _delivered(database, [event_id]), what="delivery")
    [arrival] = receiver.received
    headers = {k.lower(): v for k, v in arrival.headers.items()}
    assert headers["webhook-id"] == str(event_id)
    payload = standardwebhooks.Webhook(partner.webhook_secret).verify(arrival.body, headers)
    assert (payload["event"], payload["id"], payload["status"]) == ("payment.paid", str(event_id), "PAID")
    assert payload["timestamp"].endswith("+07:00")
    key = webhook_signing_key(partner.webhook_secret)
    assert headers["x-callback-signature"] == hmac.new(key, arrival.body, hashlib.sha256).hexdigest()
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(partner.webhook_secret).verify(arrival.body + b" ", headers)
    async with database.transaction() as connection:
        row = await connection.fetchrow("SELECT status, claimed_until, attempts FROM webhook_events")
    assert (row["status"], row["claimed_until"], row["attempts"]) == ("delivered", None, 1)
    assert await _attempts(database, event_id) == [(200, "delivered")]


async def _delivered(database: Database, ids: list[uuid.UUID]) -> bool:
    return set((await statuses(database, ids)).values()) == {"delivered"}


async def test_a_503_then_200_arrives_on_the_second_attempt_and_fifo_holds(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.plan = [(503, {})]
    partner = await make_partner(receiver.url, fifo=True)
    first, second, third = await emit(partner.partner_id, 3)
    async with start_worker():
        await wait_for(lambda: _delivered(database, [first, second, third]), timeout_s=15, what="deliveries")
    # The first event waited ~5 s for its retry; the younger ones waited behind it.
    assert receiver.ids() == [str(first), str(first), str(second), str(third)]
    wait = receiver.received[1].at - receiver.received[0].at
    assert 3.9 <= wait <= 7, wait  # 5 s +- 20% jitter, plus claim latency
    assert await _attempts(database, first) == [(503, "retry"), (200, "delivered")]
    # Each attempt is signed afresh: the same webhook-id, a new timestamp and signature.
    before, after = receiver.received[0].headers, receiver.received[1].headers
    assert before["webhook-id"] == after["webhook-id"]
    assert int(after["webhook-timestamp"]) >= int(before["webhook-timestamp"]) + 3


async def test_without_fifo_younger_events_do_not_wait(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.plan = [(503, {})]
    partner = await make_partner(receiver.url, fifo=False)
    ids = await emit(partner.partner_id, 3)
    async with start_worker():
        await wait_for(
            lambda: _count(database, "SELECT count(*) FROM webhook_events WHERE status = 'delivered'", 2),
            what="two deliveries",
        )
        assert (await statuses(database, ids))[ids[0]] == "pending"  # still waiting for its retry


async def _count(database: Database, sql: str, expected: int) -> bool:
    async with database.transaction() as connection:
        return int(await connection.fetchval(sql)) == expected


async def test_a_400_dead_letters_at_once(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.default = (400, {})
    partner = await make_partner(receiver.url)
    [event_id] = await emit(partner.partner_id)
    async with start_worker():
        await wait_for(lambda: _status_is(database, event_id, "dead"), what="dead letter")
    assert await _attempts(database, event_id) == [(400, "dead")]
    assert len(receiver.received) == 1


async def _status_is(database: Database, event_id: uuid.UUID, status: str) -> bool:
    return (await statuses(database, [event_id])).get(event_id) == status


async def test_a_429_with_retry_after_is_retried_after_that_long(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.plan = [(429, {"Retry-After": "2"})]
    partner = await make_partner(receiver.url)
    [event_id] = await emit(partner.partner_id)
    async with start_worker():
        await wait_for(lambda: _delivered(database, [event_id]), what="delivery")
    wait = receiver.received[1].at - receiver.received[0].at
    assert 1.9 <= wait <= 3.5, wait  # not the schedule's 5 s: the receiver asked for 2
    assert await _attempts(database, event_id) == [(429, "retry"), (200, "delivered")]


async def test_410_gone_disables_the_endpoint_and_later_events_wait(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.default = (410, {})
    partner = await make_partner(receiver.url)
    [gone] = await emit(partner.partner_id)
    async with start_worker():
        await wait_for(lambda: _status_is(database, gone, "dead"), what="dead letter")
        [later] = await emit(partner.partner_id)
        async with database.transaction() as connection:
            disabled = await connection.fetchrow(
                "SELECT webhook_disabled_at, webhook_disabled_reason FROM partners WHERE id = $1", partner.partner_id
            )
            alert = await connection.fetchrow("SELECT kind, partner_id FROM alerts")
        assert disabled["webhook_disabled_at"] is not None
        assert "410" in disabled["webhook_disabled_reason"]
        assert (alert["kind"], alert["partner_id"]) == ("webhook_endpoint_disabled", partner.partner_id)
        await wait_for(lambda: _count(database, "SELECT count(*) FROM webhook_attempts", 1), what="one attempt")
    assert await _attempts(database, gone) == [(410, "gone")]
    assert (await statuses(database, [later]))[later] == "pending"  # kept for when the partner fixes it
    assert len(receiver.received) == 1


async def test_twenty_dead_letters_in_a_row_disable_the_endpoint(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.default = (422, {})
    partner = await make_partner(receiver.url, fifo=False)
    await emit(partner.partner_id, 19)
    async with start_worker():
        await wait_for(lambda: _count(database, "SELECT count(*) FROM webhook_events WHERE status = 'dead'", 19))
        async with database.transaction() as connection:
            streak = await connection.fetchval("SELECT webhook_dead_streak FROM partners")
            assert await connection.fetchval("SELECT webhook_disabled_at FROM partners") is None
        assert streak == 19
        await emit(partner.partner_id)
        await wait_for(
            lambda: _count(database, "SELECT count(*) FROM partners WHERE webhook_disabled_at IS NOT NULL", 1),
            what="disabled endpoint",
        )


async def test_a_delivery_resets_the_dead_letter_streak(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.plan = [(400, {})] * 3
    partner = await make_partner(receiver.url, fifo=True)
    ids = await emit(partner.partner_id, 4)
    async with start_worker():
        await wait_for(lambda: _delivered(database, ids[3:]), what="delivery")
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT webhook_dead_streak FROM partners") == 0


async def test_timeouts_and_refused_connections_are_retried(
    database: Database, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    async with receiver_at() as slow:
        slow.delay_s = 1.5
        partner = await make_partner(slow.url)
        [late] = await emit(partner.partner_id)
        async with start_worker(timeout=timedelta(seconds=1), lease=timedelta(seconds=5)):
            await wait_for(lambda: _count(database, "SELECT count(*) FROM webhook_attempts", 1), what="attempt")
    nobody = await make_partner("http://127.0.0.1:9/hooks")  # nothing listens on the discard port
    [refused] = await emit(nobody.partner_id)
    async with start_worker():
        await wait_for(lambda: _count(database, "SELECT count(*) FROM webhook_attempts", 2), what="attempt")
    async with database.transaction() as connection:
        rows = await connection.fetch(
            "SELECT e.id, e.status, e.next_attempt_at - a.started_at AS wait, a.error, a.outcome"
            " FROM webhook_events e JOIN webhook_attempts a ON a.event_id = e.id"
        )
    by_id = {row["id"]: row for row in rows}
    for event_id in (late, refused):
        row = by_id[event_id]
        assert (row["status"], row["outcome"]) == ("pending", "retry")
        assert timedelta(seconds=3.5) <= row["wait"] <= timedelta(seconds=7.5)
    assert "no answer within 1 s" in by_id[late]["error"]
    assert "Connect" in by_id[refused]["error"]


async def test_events_without_an_endpoint_or_subscription_are_kept_not_sent(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    silent = await make_partner(None)
    choosy = await make_partner(receiver.url, events_wanted=["payment.failed"])
    [no_endpoint] = await emit(silent.partner_id)
    [unsubscribed] = await emit(choosy.partner_id)
    [wanted] = await emit(choosy.partner_id, event="payment.failed")
    [test_event] = await emit(choosy.partner_id, event="test")
    async with start_worker():
        await wait_for(lambda: _delivered(database, [wanted, test_event]), what="deliveries")
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT id, status, skip_reason, body FROM webhook_events")
    by_id = {row["id"]: row for row in rows}
    assert (by_id[no_endpoint]["status"], by_id[no_endpoint]["skip_reason"]) == ("skipped", "no_endpoint")
    assert (by_id[unsubscribed]["status"], by_id[unsubscribed]["skip_reason"]) == ("skipped", "unsubscribed")
    assert sorted(receiver.ids()) == sorted([str(wanted), str(test_event)])
    # What was sent is the body frozen with the event, byte for byte.
    sent = {r.headers["webhook-id"]: r.body for r in receiver.received}
    assert sent[str(wanted)] == by_id[wanted]["body"].encode()
    assert list(json.loads(sent[str(wanted)]))[:3] == ["event", "id", "timestamp"]


def test_a_standard_webhooks_secret_is_32_bytes_of_base64() -> None:
    from gerbang.kit.crypto import new_webhook_secret

    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


async def test_the_worker_counts_attempts_and_measures_its_queue(
    database: Database, receiver: Receiver, make_partner: MakePartner, emit: Emit, start_worker: StartWorker
) -> None:
    receiver.plan = [(503, {})]
    partner = await make_partner(receiver.url, fifo=False)
    ids = await emit(partner.partner_id, 3)
    async with start_worker() as worker:
        await wait_for(
            lambda: _count(database, "SELECT count(*) FROM webhook_events WHERE status = 'delivered'", 2),
            what="two deliveries",
        )
        await worker.measure_queue()
        registry = worker.metrics.registry
        assert registry.get_sample_value("gerbang_webhook_attempts_total", {"outcome": "delivered"}) == 2
        assert registry.get_sample_value("gerbang_webhook_attempts_total", {"outcome": "retry"}) == 1
        assert registry.get_sample_value("gerbang_webhook_attempt_duration_seconds_count") == 3
        assert registry.get_sample_value("gerbang_webhook_queue_depth") == 1  # the one waiting for its retry
        assert registry.get_sample_value("gerbang_webhook_oldest_pending_age_seconds") == 0  # not due yet
    assert (await statuses(database, ids))[ids[0]] in ("pending", "delivered")


def test_retry_after_is_read_as_seconds_or_a_date_and_kept_within_bounds() -> None:
    from datetime import UTC, datetime

    from gerbang.webhook.policy import retry_after

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert retry_after("2", now) == timedelta(seconds=2)
    assert retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now) == timedelta(seconds=30)
    assert retry_after("0", now) == timedelta(seconds=1)  # not a licence to spend every attempt at once
    assert retry_after("99999999", now) == timedelta(hours=24)
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
