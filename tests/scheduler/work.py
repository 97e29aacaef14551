"""A test job with work to resume: it processes `work_items`, one idempotent step per item, slowly enough to
be killed half-way. Imported by the worker process the tests start and kill."""

from __future__ import annotations

import asyncio

from gerbang.scheduler.base import Job, JobContext, JobResult

ITEMS = 40
CREATE = (
    "CREATE TABLE work_items (item int PRIMARY KEY, processed_at timestamptz, times int NOT NULL DEFAULT 0, "
    "run_id uuid)",
    f"INSERT INTO work_items (item) SELECT generate_series(1, {ITEMS})",
)


async def process(ctx: JobContext) -> JobResult:
    processed = 0
    async with ctx.database.connection() as connection:
        todo = await connection.fetch("SELECT item FROM work_items WHERE processed_at IS NULL ORDER BY item")
    for row in todo:
        if ctx.stop.is_set():
            break
        async with ctx.database.transaction() as connection:
            # Compare-and-set: a step repeated after a crash (or by an overlapping run) changes nothing.
            status = await connection.execute(
                "UPDATE work_items SET processed_at = now(), times = times + 1, run_id = $2 "
                "WHERE item = $1 AND processed_at IS NULL",
                row["item"], ctx.run_id,
            )  # fmt: skip
        processed += status == "UPDATE 1"
        await ctx.progress(JobResult(counts={"processed": processed}))
        await asyncio.sleep(0.05)
    return JobResult(counts={"processed": processed})


WORK = Job(name="test.work", default_cron="0 0 1 1 *", description="processes work_items", run=process)
