"""Delivery by real `gerbang worker` processes: one killed with SIGKILL mid-run loses nothing, and two at
once never attempt the same event twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gerbang.db import Database
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import GERBANG, clean_env
from tests.webhook.conftest import Emit, MakePartner, Receiver, wait_for


@contextmanager
def worker_process(database_url: str, log: Path, concurrency: int = 32) -> Iterator[subprocess.Popen[bytes]]:
    env = clean_env(
        GERBANG_ENV="test", GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY,
        GERBANG_WEBHOOK_TIMEOUT="2", GERBANG_WEBHOOK_LEASE="3", GERBANG_WEBHOOK_CONCURRENCY=str(concurrency),
        GERBANG_LOG_LEVEL="WARNING",
    )  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen([*GERBANG, "worker"], env=env, stdout=output, stderr=output)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


async def _events(database: Database) -> list[tuple[uuid.UUID, str, object]]:
    async with database.transaction() as connection:
        rows = await connection.fetch("SELECT id, status, claimed_until FROM webhook_events")
    return [(row["id"], row["status"], row["claimed_until"]) for row in rows]


async def _all_delivered(database: Database) -> bool:
    return {status for _, status, _ in await _events(database)} == {"delivered"}


async def _emit_spread(make_partner: MakePartner, emit: Emit, receiver: Receiver, partners: int, each: int) -> None:
    for _ in range(partners):
        partner = await make_partner(receiver.url, fifo=False)
        await emit(partner.partner_id, each)


async def test_a_worker_killed_mid_run_loses_nothing(
    database: Database, database_url: str, receiver: Receiver, make_partner: MakePartner, emit: Emit,
    tmp_path: Path,
) -> None:  # fmt: skip
    receiver.delay_s = 0.005
    await _emit_spread(make_partner, emit, receiver, partners=10, each=100)
    log = tmp_path / "workers.log"
    with worker_process(database_url, log) as first:
        await wait_for(lambda: _received_at_least(receiver, 300), timeout_s=30, what="300 deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    before_crash = len(set(receiver.ids()))
    assert before_crash < 1000, "the worker finished before it could be killed"
    with worker_process(database_url, log):
        await wait_for(lambda: _all_delivered(database), timeout_s=60, what="every event delivered")
    events = await _events(database)
    assert len(events) == 1000
    assert {str(event_id) for event_id, _, _ in events} == set(receiver.ids())  # every event arrived
    assert all(claimed is None for _, _, claimed in events)  # no lease left behind
    # A re-sent event is the same event: the same webhook-id and the same bytes.
    bodies: dict[str, bytes] = {}
    for arrival in receiver.received:
        assert bodies.setdefault(arrival.headers["webhook-id"], arrival.body) == arrival.body
    async with database.transaction() as connection:
        delivered = await connection.fetchval(
            "SELECT count(DISTINCT event_id) FROM webhook_attempts WHERE outcome = 'delivered'"
        )
    assert delivered == 1000
    print(f"killed after {before_crash} events arrived; {len(receiver.received) - 1000} sent twice across the crash")


async def _received_at_least(receiver: Receiver, count: int) -> bool:
    await asyncio.sleep(0)
    return len(receiver.received) >= count


async def test_two_workers_never_attempt_an_event_twice(
    database: Database, database_url: str, receiver: Receiver, make_partner: MakePartner, emit: Emit,
    tmp_path: Path,
) -> None:  # fmt: skip
    receiver.delay_s = 0.002
    await _emit_spread(make_partner, emit, receiver, partners=20, each=250)
    log = tmp_path / "workers.log"
    with worker_process(database_url, log, concurrency=8), worker_process(database_url, log, concurrency=8):
        await wait_for(lambda: _all_delivered(database), timeout_s=90, what="every event delivered")
    arrivals = Counter(receiver.ids())
    assert len(arrivals) == 5000
    assert max(arrivals.values()) == 1, [event for event, n in arrivals.items() if n > 1][:5]
    assert receiver.most_in_flight > 8, "both workers should have been sending at once"
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM webhook_attempts") == 5000
    assert "Traceback" not in log.read_text()
