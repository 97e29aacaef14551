"""`gerbang jobs list` and `gerbang jobs run NAME --wait` against a real `gerbang worker` process."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid

from gerbang.db import Database
from gerbang.kit.crypto import KeyRing
from gerbang.partner.service import create_partner
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import GERBANG, clean_env
from tests.scheduler.conftest import wait_for


def _gerbang(env: dict[str, str], *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GERBANG, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )  # fmt: skip


async def _alive(database: Database) -> bool:
    async with database.connection() as connection:
        workers = await connection.fetchval("SELECT count(*) FROM worker_heartbeats WHERE stopped_at IS NULL")
        jobs = await connection.fetchval("SELECT count(*) FROM scheduled_jobs WHERE name = 'dashboard.summary'")
    return bool(workers and jobs)


async def test_jobs_run_wait_against_a_running_worker_prints_the_result(database: Database, database_url: str) -> None:
    async with database.transaction() as connection:
        partner = (await create_partner(connection, KeyRing([TEST_SECRET_KEY]), name="Toko CLI")).partner_id
        await connection.execute(
            "INSERT INTO orders (id, partner_id, reference, amount, fee, status, paid_at, expires_at, created_at) "
            "VALUES ($1, $2, 'CLI-1', 125000, 1875, 'PAID', now(), now(), now() - interval '5 minutes')",
            uuid.uuid4(), partner,
        )  # fmt: skip
    env = clean_env(
        GERBANG_ENV="test", GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY,
        GERBANG_LOG_LEVEL="WARNING", GERBANG_SCHEDULER_POLL_INTERVAL="0.5",
    )  # fmt: skip
    worker = subprocess.Popen([*GERBANG, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_for(lambda: _alive(database), timeout_s=30, what="the worker registered its jobs")
        ran = _gerbang(env, "jobs", "run", "dashboard.summary", "--wait", "--timeout", "60", "--param", "note=cli")
        assert ran.returncode == 0, ran.stderr
        run_id, *lines = ran.stdout.splitlines()
        uuid.UUID(run_id)
        assert lines[0] == "status: succeeded"
        counts = json.loads(lines[1].removeprefix("counts: "))
        amounts = json.loads(lines[2].removeprefix("amounts: "))
        assert counts["tpv"] == counts["paid"] == 1
        assert amounts["tpv.gross"] == amounts["paid.gross"] == 125_000
        assert "no worker is alive" not in ran.stderr
        async with database.connection() as connection:
            row = await connection.fetchrow(
                "SELECT requested_by, parameters, status FROM job_runs WHERE id = $1", uuid.UUID(run_id)
            )
        assert row is not None
        assert (row["requested_by"], row["parameters"], row["status"]) == ("cli", {"note": "cli"}, "succeeded")

        listed = _gerbang(env, "jobs", "list")
        assert listed.returncode == 0, listed.stderr
        line = next(line for line in listed.stdout.splitlines() if line.startswith("dashboard.summary"))
        assert "0 * * * *" in line
        assert "succeeded (manual)" in line

        unknown = _gerbang(env, "jobs", "run", "no.such")
        assert unknown.returncode == 1
        assert "job_not_found" in unknown.stderr
        malformed = _gerbang(env, "jobs", "run", "dashboard.summary", "--param", "novalue")
        assert malformed.returncode == 2
        assert "key=value" in malformed.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        _, worker_log = worker.communicate(timeout=20)
    assert worker.returncode == 0
    assert b"Traceback" not in worker_log

    # No worker now: the run is queued, the command says so and, waiting, gives up with status 2.
    waited = _gerbang(env, "jobs", "run", "dashboard.summary", "--wait", "--timeout", "1")
    assert waited.returncode == 2, waited.stderr
    assert "no worker is alive" in waited.stderr
    assert "did not finish within 1 s" in waited.stderr
    waiting = uuid.UUID(waited.stdout.strip())
    async with database.connection() as connection:
        status = await connection.fetchval("SELECT status FROM job_runs WHERE id = $1", waiting)
    assert status == "queued"
