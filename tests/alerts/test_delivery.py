"""The alert sender against a local fake of the Telegram Bot API: delivered once, long alerts in parts,
retries (5xx, 429 with `retry_after`, network errors, timeouts), permanent refusals, limits, two senders at
once, and the bot token kept out of everything we store, answer and log."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gerbang.alerts.delivery import AlertSender, SenderSettings
from gerbang.alerts.telegram import MESSAGE_LIMIT, utf16_length
from gerbang.db import Database
from gerbang.events.alerts import Severity, raise_alert
from gerbang.kit.time import utcnow
from tests.alerts.conftest import (
    BOT_TOKEN,
    CHAT_ID,
    FakeTelegram,
    Raise,
    StartSender,
    row,
    status_is,
    target_of,
    wait_for,
)
from tests.fixtures.secret_scan import SCAN
from tests.helpers import free_port

PARTNER = uuid.UUID("5a0e3c9e-7f6b-4a52-9c1e-0d6f1b2a3c4d")
AT = datetime(2026, 12, 1, 16, 3, 7, tzinfo=UTC)


def _error(status: int, description: str, **parameters: int) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


async def test_an_alert_committed_is_delivered_once_and_a_rolled_back_one_never(
    database: Database, telegram: FakeTelegram, start_sender: StartSender
) -> None:
    now = utcnow()
    async with database.transaction() as connection:
        kept = await raise_alert(
            connection, kind="withdrawal_contradicted", partner_id=PARTNER, now=now,
            message="Withdrawal W-1 is COMPLETED; the provider now reports it failed: check by hand",
        )  # fmt: skip

    async def fails() -> None:
        async with database.transaction() as connection:
            await raise_alert(connection, kind="job_failed", partner_id=None, message="rolled back", now=now)
            raise RuntimeError("the change failed, and its alert with it")

    with pytest.raises(RuntimeError):
        await fails()
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, kept, "delivered"), what="delivered")
        await asyncio.sleep(0.3)  # several more polls: nothing else goes out
    assert len(telegram.received) == 1
    sent = telegram.received[0]
    assert sent.token == BOT_TOKEN
    assert sent.body["chat_id"] == CHAT_ID
    assert "parse_mode" not in sent.body  # plain text: nothing needs escaping
    header = sent.text.split("\n", 1)[0]
    assert header.startswith("[WARNING] withdrawal_contradicted · ")
    assert header.endswith(f"WIB · partner {PARTNER} · alert #{kept}")
    assert sent.text.endswith("\nWithdrawal W-1 is COMPLETED; the provider now reports it failed: check by hand")
    stored = await row(database, kept)
    assert (stored["status"], stored["attempts"], stored["parts_sent"], stored["claimed_until"]) == (
        "delivered", 1, 1, None)  # fmt: skip
    assert stored["delivered_at"] is not None
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM alerts") == 1


async def test_the_header_shows_the_time_in_jakarta(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    # An hour ago: due now, and well inside the sender's 24 h max age whatever the time of day the
    # test runs (a fixed "yesterday at 16:03 UTC" expired when the suite ran just after 16:03).
    at = utcnow() - timedelta(hours=1)
    jakarta = at + timedelta(hours=7)  # WIB is UTC+7 all year: Indonesia keeps no daylight saving
    alert_id = await raise_one("settlement_summary", "Settled 12 orders", now=at)
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
    header = telegram.texts()[0].split("\n", 1)[0]
    assert header.startswith("[INFO] settlement_summary · ")
    assert f" {jakarta:%H:%M}:" in header
    assert header.split(" · ")[1].endswith(" WIB")


async def test_a_5000_character_alert_arrives_as_two_messages_in_order_and_whole(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    message = "\n".join(f"{n:04} " + "abcdefghij" * 4 for n in range(110))[:5000]
    assert len(message) == 5000
    alert_id = await raise_one("dashboard_summary", message)
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
    texts = telegram.texts()
    assert len(texts) == 2
    assert texts[0].split("\n", 1)[0].endswith("· part 1/2")
    assert texts[1].split("\n", 1)[0] == f"alert #{alert_id} · part 2/2"
    assert "".join(text.split("\n", 1)[1] for text in texts) == message
    assert all(utf16_length(text) <= MESSAGE_LIMIT for text in texts)
    assert (await row(database, alert_id))["parts_sent"] == 2


async def test_a_part_already_sent_is_not_sent_again_on_retry(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    message = "\n".join(f"line {n:04} {'q' * 60}" for n in range(150))  # three parts
    alert_id = await raise_one("dashboard_summary", message)
    telegram.plan = [(200, {"ok": True}), _error(502, "Bad Gateway"), (200, {"ok": True})]
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
    parts = [text.split("\n", 1)[0].rsplit("part ", 1)[1] for text in telegram.texts()]
    assert parts == ["1/3", "2/3", "2/3", "3/3"]  # part 2 again after the 502, part 1 never
    assert "".join(t.split("\n", 1)[1] for t in telegram.texts()[:1] + telegram.texts()[2:]) == message
    assert (await row(database, alert_id))["attempts"] == 2


async def test_a_sender_resumes_where_a_crashed_one_stopped(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one("dashboard_summary", "y" * 6000)
    # A sender sent part 1, recorded it, and died holding the claim: its lease runs out.
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE alerts SET parts_sent = 1, claimed_until = now() - interval '1 second' WHERE id = $1", alert_id
        )
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
    assert [t.split("\n", 1)[0] for t in telegram.texts()] == [f"alert #{alert_id} · part 2/2"]


async def test_a_500_is_retried_and_then_delivered_once(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    telegram.plan = [_error(500, "Internal Server Error")]
    async with start_sender(target_of(telegram)) as sender:
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
        await asyncio.sleep(0.2)
    assert len(telegram.texts()) == 2
    assert telegram.texts()[0] == telegram.texts()[1]
    stored = await row(database, alert_id)
    assert (stored["status"], stored["attempts"]) == ("delivered", 2)
    assert stored["last_error"] == "Telegram answered 500: Internal Server Error"
    assert sender.metrics.deliveries.labels("retry")._value.get() == 1
    assert sender.metrics.deliveries.labels("delivered")._value.get() == 1


async def test_a_429_waits_at_least_retry_after(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    telegram.plan = [_error(429, "Too Many Requests: retry after 1", retry_after=1)]
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, alert_id, "delivered"))
    first, second = telegram.received
    assert second.at - first.at >= 1.0
    assert (await row(database, alert_id))["attempts"] == 2


async def test_a_429_pauses_the_whole_sender(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    first_id = await raise_one(message="first")
    second_id = await raise_one(message="second")
    telegram.plan = [_error(429, "Too Many Requests: retry after 1", retry_after=1)]
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, second_id, "delivered"))
        await wait_for(lambda: status_is(database, first_id, "delivered"))
    # The limit is the bot's: nothing at all went out during the second Telegram asked for.
    assert telegram.received[1].at - telegram.received[0].at >= 1.0


async def test_a_400_is_final_and_its_error_is_kept_without_the_token(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    # A Bot API server that quotes the path (the token is in it) must not put the token in our records.
    telegram.default = _error(400, f"Bad Request: chat not found (POST /bot{BOT_TOKEN}/sendMessage)")
    async with start_sender(target_of(telegram)) as sender:
        await wait_for(lambda: status_is(database, alert_id, "failed"))
        await asyncio.sleep(0.3)  # retries would be due every 50 ms
    assert len(telegram.received) == 1
    stored = await row(database, alert_id)
    assert stored["attempts"] == 1
    assert stored["last_error"] == "Telegram answered 400: Bad Request: chat not found (POST /bot***/sendMessage)"
    assert stored["delivered_at"] is None
    assert sender.metrics.deliveries.labels("failed")._value.get() == 1
    assert BOT_TOKEN.encode() not in SCAN.log
    assert BOT_TOKEN.split(":")[1].encode() not in SCAN.log


async def test_retries_stop_at_the_attempt_limit(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    telegram.default = _error(503, "Service Unavailable")
    async with start_sender(target_of(telegram), max_attempts=3):
        await wait_for(lambda: status_is(database, alert_id, "failed"))
        await asyncio.sleep(0.3)
    assert len(telegram.received) == 3
    stored = await row(database, alert_id)
    assert stored["attempts"] == 3
    assert stored["last_error"] == "gave up after 3 tries; last error: Telegram answered 503: Service Unavailable"


async def test_the_backoff_doubles_up_to_its_cap_with_jitter(database: Database) -> None:
    settings = SenderSettings(backoff=timedelta(seconds=5), backoff_cap=timedelta(minutes=1))
    sender = AlertSender(database, None, settings)
    waits = [sender._backoff(n).total_seconds() for n in range(1, 7)]
    for wait, base in zip(waits, (5, 10, 20, 40, 60, 60), strict=True):
        assert base * 0.8 <= wait <= base * 1.2


async def test_an_alert_older_than_the_age_limit_is_given_up_unsent(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    old = await raise_one(now=utcnow() - timedelta(hours=25))
    fresh = await raise_one()
    async with start_sender(target_of(telegram)):
        await wait_for(lambda: status_is(database, fresh, "delivered"))
        await wait_for(lambda: status_is(database, old, "failed"))
    assert [sent.alert_id for sent in telegram.received] == [fresh]
    assert (await row(database, old))["last_error"] == "gave up: not delivered within 24 h"


async def test_a_network_error_and_a_timeout_are_retried_without_the_token_in_the_error(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    refused = await raise_one(message="nobody listens")
    async with start_sender(target_of(telegram, f"http://127.0.0.1:{free_port()}"), max_attempts=2):
        await wait_for(lambda: status_is(database, refused, "failed"))
    error = (await row(database, refused))["last_error"]
    assert error.startswith("gave up after 2 tries; last error: ClientConnectorError: Cannot connect to host 127.0.0.1")
    assert BOT_TOKEN not in error
    slow = await raise_one(message="slow")
    telegram.delay_s = 0.5
    async with start_sender(target_of(telegram), timeout=timedelta(milliseconds=200), max_attempts=1):
        await wait_for(lambda: status_is(database, slow, "failed"))
    assert (await row(database, slow))["last_error"] == "gave up after 1 tries; last error: no answer within 0.2 s"


async def test_alerts_below_the_minimum_severity_are_skipped(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    summary = await raise_one("dashboard_summary", "TPV today: 1.000.000")
    failure = await raise_one("job_failed", "settlement.check failed: the database went away")
    async with start_sender(target_of(telegram), min_severity=Severity.warning):
        await wait_for(lambda: status_is(database, failure, "delivered"))
        await wait_for(lambda: status_is(database, summary, "skipped"))
    assert [sent.alert_id for sent in telegram.received] == [failure]
    assert telegram.texts()[0].startswith("[CRITICAL] job_failed · ")
    assert (await row(database, summary))["last_error"] == "not sent: below GERBANG_TELEGRAM_MIN_SEVERITY (warning)"


async def test_two_senders_at_once_deliver_each_alert_exactly_once(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    ids = [await raise_one(message=f"alert number {n}") for n in range(40)]
    telegram.delay_s = 0.01

    async def all_delivered() -> bool:
        async with database.transaction() as connection:
            delivered = await connection.fetchval("SELECT count(*) FROM alerts WHERE status = 'delivered'")
        return bool(delivered == len(ids))

    async with start_sender(target_of(telegram)) as one, start_sender(target_of(telegram)) as other:
        await wait_for(all_delivered, timeout_s=20, what="every alert delivered")
        await asyncio.sleep(0.3)
    assert Counter(sent.alert_id for sent in telegram.received) == Counter(ids)
    shares = [s.metrics.deliveries.labels("delivered")._value.get() for s in (one, other)]
    assert sum(shares) == len(ids)
    assert min(shares) > 0  # both took part


async def test_without_a_token_nothing_is_sent_and_alerts_wait(
    database: Database, telegram: FakeTelegram, start_sender: StartSender, raise_one: Raise
) -> None:
    alert_id = await raise_one()
    async with start_sender(None) as sender:
        await asyncio.sleep(0.3)
        await sender.measure()
    assert telegram.received == []
    stored = await row(database, alert_id)
    assert (stored["status"], stored["attempts"], stored["last_error"]) == ("pending", 0, None)
    assert sender.metrics.undelivered._value.get() == 1
