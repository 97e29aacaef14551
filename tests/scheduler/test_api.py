"""The admin API of scheduled jobs and `/ops/cron-status`: a run asked for over HTTP is run by a scheduler
and read back; every refusal is a 4xx with its stable code; the roles are the written matrix's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx

from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from gerbang.kit.cron import Cron
from gerbang.kit.time import utcnow
from gerbang.scheduler.base import Job, JobContext, JobResult
from gerbang.scheduler.runner import Scheduler
from tests.auth.people import admin_headers
from tests.scheduler.conftest import MakeScheduler, wait_for


async def _sums(ctx: JobContext) -> JobResult:
    items = int(ctx.parameters.get("items", 0))
    return JobResult(counts={"items": items}, amounts={"total": items * 1_000})


SUMS = Job("test.sums", "0 16 * * *", "adds up its parameters", _sums)
RUNS = "/api/v1/admin/jobs/test.sums/runs"


async def _finished(client: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> dict[str, object]:
    async def done() -> bool:
        response = await client.get(f"/api/v1/admin/job-runs/{run_id}", headers=headers)
        return bool(response.json()["status"] in ("succeeded", "failed"))

    await wait_for(done, what=f"run {run_id} finished")
    return dict((await client.get(f"/api/v1/admin/job-runs/{run_id}", headers=headers)).json())


async def test_a_run_asked_for_over_the_api_is_run_by_a_scheduler_and_read_back(
    client: httpx.AsyncClient,
    database: Database,
    make_scheduler: MakeScheduler,
    loops: Callable[[Scheduler], asyncio.Event],
) -> None:
    loops(await make_scheduler([SUMS]))
    finance = await admin_headers(client, database, AdminRole.FINANCE)
    viewer = await admin_headers(client, database, AdminRole.VIEWER)
    ids = []
    for items in (1, 2, 3):
        queued = await client.post("/api/v1/admin/jobs/test.sums/run", json={"parameters": {"items": items}},
                                   headers=finance)  # fmt: skip
        assert queued.status_code == 202, queued.text
        assert (queued.json()["status"], queued.json()["trigger"]) == ("queued", "manual")
        assert queued.json()["requestedBy"].startswith("admin:")
        ran = await _finished(client, viewer, queued.json()["id"])
        assert (ran["status"], ran["error"]) == ("succeeded", None)
        assert ran["parameters"] == {"items": items}
        assert (ran["counts"], ran["amounts"]) == ({"items": items}, {"total": items * 1000})
        ids.append(queued.json()["id"])
    # Newest first, paged by `before` (the last createdAt of the page before).
    page = (await client.get(RUNS, params={"limit": 2}, headers=viewer)).json()
    assert [run["id"] for run in page] == ids[:0:-1]
    rest = (await client.get(RUNS, params={"limit": 2, "before": page[-1]["createdAt"]}, headers=viewer)).json()
    assert [run["id"] for run in rest] == ids[:1]
    listed = {job["name"]: job for job in (await client.get("/api/v1/admin/jobs", headers=viewer)).json()}
    assert listed["test.sums"]["lastRun"]["id"] == ids[-1]
    assert listed["test.sums"]["lastRun"]["status"] == "succeeded"
    assert (listed["test.sums"]["cron"], listed["test.sums"]["enabled"]) == ("0 16 * * *", True)
    async with database.connection() as connection:
        audited = await connection.fetch("SELECT changes FROM audit_events WHERE action = 'job.run_requested'")
    assert [row["changes"]["parameters.items"]["after"] for row in audited] == [1, 2, 3]


async def test_refusals_are_4xx_with_stable_codes(
    client: httpx.AsyncClient, database: Database, make_scheduler: MakeScheduler
) -> None:
    await make_scheduler([SUMS])  # registered; no loop runs, so a queued run stays queued
    boss = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    first = await client.post("/api/v1/admin/jobs/test.sums/run", headers=boss)
    assert first.status_code == 202, first.text
    again = await client.post("/api/v1/admin/jobs/test.sums/run", json={"parameters": {}}, headers=boss)
    assert (again.status_code, again.json()["error"]) == (409, "job_already_queued")
    assert first.json()["id"] in again.json()["detail"]
    random_id = uuid.uuid4()
    cases: list[tuple[str, str, object, int, str]] = [
        ("POST", "/api/v1/admin/jobs/no.such/run", None, 404, "job_not_found"),
        ("PATCH", "/api/v1/admin/jobs/no.such", {"enabled": False}, 404, "job_not_found"),
        ("GET", "/api/v1/admin/jobs/no.such/runs", None, 404, "job_not_found"),
        ("GET", f"/api/v1/admin/job-runs/{random_id}", None, 404, "job_run_not_found"),
        ("GET", "/api/v1/admin/job-runs/not-a-uuid", None, 422, "validation_error"),
        ("GET", f"/api/v1/admin/jobs/{'x' * 65}/runs", None, 422, "validation_error"),
        ("GET", RUNS + "?limit=0", None, 422, "validation_error"),
        ("GET", RUNS + "?before=yesterday", None, 422, "validation_error"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"cron": "* 24 * * *"}, 422, "invalid_cron"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"cron": "0 0 30 2 *"}, 422, "invalid_cron"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"cron": "0 0 * * * *"}, 422, "invalid_cron"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"cron": "x" * 201}, 422, "validation_error"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"cron": 5}, 422, "validation_error"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"enabled": "sometimes"}, 422, "validation_error"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", {"name": "renamed"}, 422, "validation_error"),
        ("PATCH", "/api/v1/admin/jobs/test.sums", [1], 422, "validation_error"),
        ("POST", "/api/v1/admin/jobs/no.such/run", {"parameters": [1]}, 422, "validation_error"),
        ("POST", "/api/v1/admin/jobs/test.sums/run", {"parameters": {"x": "y" * 5000}}, 422, "invalid_job_parameters"),
        ("POST", "/api/v1/admin/jobs/test.sums/run", {"params": {}}, 422, "validation_error"),
    ]
    for method, path, body, status, code in cases:
        response = await client.request(method, path, json=body, headers=boss)
        assert (response.status_code, response.json()["error"]) == (status, code), (method, path, body, response.text)
    bad_hour = await client.patch("/api/v1/admin/jobs/test.sums", json={"cron": "* 24 * * *"}, headers=boss)
    assert bad_hour.json()["detail"] == "hour: 24 is out of range 0-23"
    broken = await client.patch("/api/v1/admin/jobs/test.sums", content=b"{not json", headers=boss)
    assert (broken.status_code, broken.json()["error"]) == (422, "validation_error")
    job = (await client.get("/api/v1/admin/jobs", headers=boss)).json()[0]
    assert (job["cron"], job["enabled"], job["updatedBy"]) == ("0 16 * * *", True, None)  # nothing changed


async def test_changing_a_schedule_is_the_super_admins_alone_and_audited(
    client: httpx.AsyncClient, database: Database, make_scheduler: MakeScheduler
) -> None:
    await make_scheduler([SUMS])
    boss = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    admin = await admin_headers(client, database, AdminRole.ADMIN)
    support = await admin_headers(client, database, AdminRole.SUPPORT)
    refused = await client.patch("/api/v1/admin/jobs/test.sums", json={"enabled": False}, headers=admin)
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")
    refused = await client.post("/api/v1/admin/jobs/test.sums/run", headers=support)
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")
    assert (await client.get("/api/v1/admin/jobs", headers=support)).status_code == 200

    changed = await client.patch("/api/v1/admin/jobs/test.sums", json={"cron": " 0  9 * *  MON-FRI "}, headers=boss)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["cron"] == "0 9 * * MON-FRI"
    assert body["updatedBy"].startswith("admin:")
    assert body["nextRunAt"] == Cron.parse("0 9 * * 1-5").next_after(utcnow()).isoformat()  # in WIB, +07:00
    off = await client.patch("/api/v1/admin/jobs/test.sums", json={"enabled": False}, headers=boss)
    assert (off.json()["enabled"], off.json()["nextRunAt"]) == (False, None)
    same = await client.patch("/api/v1/admin/jobs/test.sums", json={"enabled": False}, headers=boss)
    assert same.status_code == 200
    async with database.connection() as connection:
        audited = await connection.fetch(
            "SELECT target_id, changes FROM audit_events WHERE action = 'job.updated' ORDER BY id"
        )
    assert [(row["target_id"], row["changes"]) for row in audited] == [
        ("test.sums", {"cron": {"before": "0 16 * * *", "after": "0 9 * * MON-FRI"}}),
        ("test.sums", {"enabled": {"before": True, "after": False}}),
    ]  # an unchanged PATCH records nothing


async def test_cron_status_shows_each_job_and_whether_a_worker_is_alive(
    client: httpx.AsyncClient,
    database: Database,
    make_scheduler: MakeScheduler,
    loops: Callable[[Scheduler], asyncio.Event],
) -> None:
    scheduler = await make_scheduler([SUMS])
    status = await client.get("/ops/cron-status")  # no credentials, like /readyz and /metrics
    assert status.status_code == 200, status.text
    assert (status.json()["workerAlive"], status.json()["workers"]) == (False, 0)
    [job] = status.json()["jobs"]
    assert (job["name"], job["cron"], job["enabled"], job["lastRunStatus"], job["lastRunAt"]) == (
        "test.sums", "0 16 * * *", True, None, None,
    )  # fmt: skip
    assert job["nextRunAt"] == Cron.parse("0 16 * * *").next_after(utcnow()).isoformat()

    async with database.connection() as connection:
        await connection.execute(
            "INSERT INTO worker_heartbeats (id, hostname, pid, started_at, last_seen_at) "
            "VALUES ($1, 'test', 1, now(), now())",
            scheduler.worker_id,
        )
    loops(scheduler)
    boss = await admin_headers(client, database, AdminRole.SUPER_ADMIN)
    queued = await client.post("/api/v1/admin/jobs/test.sums/run", headers=boss)
    await _finished(client, boss, queued.json()["id"])
    status = await client.get("/ops/cron-status")
    assert (status.json()["workerAlive"], status.json()["workers"]) == (True, 1)
    [job] = status.json()["jobs"]
    assert job["lastRunStatus"] == "succeeded"
    assert job["lastRunAt"] is not None
    async with database.connection() as connection:  # a worker that stopped beating a while ago is not alive
        await connection.execute("UPDATE worker_heartbeats SET last_seen_at = now() - $1::interval", timedelta(hours=1))
    assert (await client.get("/ops/cron-status")).json()["workerAlive"] is False
