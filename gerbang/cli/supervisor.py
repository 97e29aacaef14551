"""`gerbang run`: the all-in-one mode. One parent process owns the embedded database and migrates it,
then runs `gerbang serve` and `gerbang worker` as children, exactly as they run in production.

SIGTERM or SIGINT to the parent is passed on; the children finish in-flight work within the grace
period, then the database stops. A child that dies takes the whole tree down with a non-zero exit,
so a supervisor above us (systemd, a terminal) sees the failure instead of a half-running system.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import Any

from gerbang.cli.common import CURRENT_PROVIDER_SETTING, SEEDED_SETTING, credentials_file
from gerbang.config import Environment, Settings
from gerbang.kit.log import get_logger
from gerbang.migration import upgrade_to_head

log = get_logger("gerbang.run")

_POLL_S = 0.2


class Supervisor:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def run(self) -> int:
        upgrade_to_head(self.database_url)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        # Children inherit the resolved database, so they neither start a server nor migrate.
        env = os.environ | {"GERBANG_DATABASE_URL": self.database_url}
        host, port = self.settings.host, str(self.settings.port)
        self._spawn("serve", ["serve", "--host", host, "--port", port], env)
        self._spawn("worker", ["worker"], env)
        # While the children load (seconds of imports each), not before: the API needs no demo data to start.
        if self.settings.demo_data and self.settings.env is Environment.development and self.settings.sandbox_enabled:
            self._seed_demo()
        exit_code = self._wait()
        self._stop_children()
        return exit_code

    def _seed_demo(self) -> None:
        import asyncpg
        import uvloop

        from gerbang.db import Database, asyncpg_dsn

        async def seeded_before() -> bool:
            # Asked with one statement before importing the seeding code, which loads most of the app (seconds
            # of CPU the children need now): a later start with the same provider has nothing to do.
            connection = await asyncpg.connect(asyncpg_dsn(self.database_url))
            try:
                found = await connection.fetchval(
                    "SELECT count(*) FROM platform_settings "
                    "WHERE key = $1 OR (key = $2 AND value = to_jsonb($3::text))",
                    SEEDED_SETTING, CURRENT_PROVIDER_SETTING, self.settings.demo_provider,
                )  # fmt: skip
            finally:
                await connection.close()
            return bool(found == 2)

        if uvloop.run(seeded_before()):
            print(f"demo data: logins and keys are in {credentials_file(self.settings)}", flush=True)
            return
        from gerbang.cli import demo

        async def seed() -> dict[str, Any] | None:
            database = await Database.connect(self.database_url, self.settings)
            try:
                return await demo.seed(database, self.settings)
            finally:
                await database.dispose()

        credentials = uvloop.run(seed())
        if credentials is None:
            print(f"demo data: logins and keys are in {credentials_file(self.settings)}", flush=True)
            return
        path = demo.write_credentials(self.settings, credentials)
        # Shown this once, as `gerbang partner create` shows its secrets; kept only in the 0600 file after.
        print("demo data seeded (shown once; also written to " + str(path) + "):", flush=True)
        print(json.dumps(credentials, indent=2), flush=True)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.children[name] = subprocess.Popen([sys.executable, "-m", "gerbang", *args], env=env)

    def _request_stop(self, signum: int, _: FrameType | None) -> None:
        log.info("run.stopping", signal=signal.Signals(signum).name)
        self.stopping = True

    def _wait(self) -> int:
        base = f"http://{self.settings.host}:{self.settings.port}"
        announced = False
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    log.error("run.child_exited", child=name, code=child.returncode)
                    return 1
            if not announced and _answers(f"{base}/readyz"):
                announced = True
                log.info("run.ready", url=base, docs=f"{base}/docs")
                print(f"gerbang is ready at {base}  (API docs: {base}/docs)", flush=True)
            time.sleep(_POLL_S)
        return 0

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace.total_seconds() + 1
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("run.child_killed", child=name)
                child.kill()
                child.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own loopback URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
