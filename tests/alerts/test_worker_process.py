"""A real `gerbang worker` process sends alerts to Telegram when configured, and keeps the token out of
its logs."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from gerbang.db import Database
from tests.alerts.conftest import BOT_TOKEN, CHAT_ID, FakeTelegram, Raise, status_is, wait_for
from tests.fixtures.app import TEST_SECRET_KEY
from tests.helpers import GERBANG, clean_env


async def test_the_worker_delivers_alerts_to_telegram(
    database: Database, database_url: str, telegram: FakeTelegram, raise_one: Raise, tmp_path: Path
) -> None:
    alert_id = await raise_one("job_failed", "settlement.check failed: see job_runs")
    env = clean_env(
        GERBANG_ENV="test", GERBANG_DATABASE_URL=database_url, GERBANG_SECRET_KEY=TEST_SECRET_KEY,
        GERBANG_TELEGRAM_BOT_TOKEN=BOT_TOKEN, GERBANG_TELEGRAM_CHAT_ID=CHAT_ID,
        GERBANG_TELEGRAM_BASE_URL=telegram.base_url, GERBANG_LOG_LEVEL="INFO",
    )  # fmt: skip
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*GERBANG, "worker"], env=env, stdout=output, stderr=output)
    try:
        await wait_for(lambda: status_is(database, alert_id, "delivered"), timeout_s=30, what="delivered")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert len(telegram.received) == 1
    assert telegram.received[0].body["chat_id"] == CHAT_ID
    assert telegram.texts()[0].startswith("[CRITICAL] job_failed · ")
    written = log.read_text()
    assert "alerts.delivered" in written
    assert BOT_TOKEN not in written
    assert BOT_TOKEN.split(":")[1] not in written
