"""gerbang as real processes: `run`, `serve` and `worker` start, answer over real HTTP and stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from gerbang.migration import head_revision
from tests.helpers import GERBANG, clean_env, free_port, wait_until_ready

STOP_LIMIT_S = 10.0


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> float:
    started = time.monotonic()
    process.send_signal(sig)
    process.wait(timeout=STOP_LIMIT_S + 5)
    return time.monotonic() - started


def _wait_for_line(log: Path, text: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {log} after {timeout_s} s")


def _postgres_running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_starts_everything_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = clean_env(GERBANG_PORT=str(port))
    log = (tmp_path / "run.log").open("wb")
    base = f"http://127.0.0.1:{port}"

    first = subprocess.Popen([*GERBANG, "run"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        first_ready_s = wait_until_ready(f"{base}/readyz", timeout_s=60)
        assert httpx.get(f"{base}/readyz").json()["migration"] == head_revision()
        assert _postgres_running(tmp_path / "var" / "pg")
        _wait_for_line(tmp_path / "run.log", f"gerbang is ready at {base}")
        _wait_for_line(tmp_path / "run.log", '"event":"worker.started"')
    finally:
        stop_s = _stop(first, sig)
    assert first.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert stop_s < STOP_LIMIT_S
    assert not _postgres_running(tmp_path / "var" / "pg"), "the database this run started must stop with it"

    second = subprocess.Popen([*GERBANG, "run"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        second_ready_s = wait_until_ready(f"{base}/readyz", timeout_s=10)
    finally:
        _stop(second)
    assert second.returncode == 0
    print(f"gerbang run ready: first start {first_ready_s:.1f} s, second {second_ready_s:.1f} s")


def test_serve_finishes_in_flight_requests_on_sigterm(tmp_path: Path, database_url: str) -> None:
    """SIGTERM: stop accepting, finish the request in flight, close the pool, exit 0."""
    port = free_port()
    script = textwrap.dedent(
        """
        import asyncio, sys
        from gerbang.app import create_app
        from gerbang.cli.main import serve_app
        from gerbang.config import load_settings
        settings = load_settings(port=int(sys.argv[1]))
        app = create_app(settings, sys.argv[2])

        @app.get("/probe/slow")
        async def slow() -> dict[str, str]:
            await asyncio.sleep(1.5)
            return {"finished": "yes"}

        serve_app(app, settings)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(port), database_url], env=clean_env(), cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/readyz", timeout_s=30)
        result: dict[str, httpx.Response] = {}
        request = threading.Thread(
            target=lambda: result.setdefault("slow", httpx.get(f"{base}/probe/slow", timeout=10))
        )
        request.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", timeout=1)
        request.join(timeout=10)
    finally:
        process.wait(timeout=STOP_LIMIT_S + 5)
    assert result["slow"].status_code == 200
    assert result["slow"].json() == {"finished": "yes"}
    assert process.returncode == 0


def test_worker_process_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*GERBANG, "worker"], env=clean_env(GERBANG_DATABASE_URL=database_url), cwd=tmp_path, stderr=log
        )
        try:
            _wait_for_line(log_path, '"event":"worker.started"', timeout_s=30)
        finally:
            stop_s = _stop(process)
    assert process.returncode == 0
    assert stop_s < STOP_LIMIT_S
    assert '"event":"worker.stopping"' in log_path.read_text()


def test_migrate_upgrades_an_empty_database(tmp_path: Path, postgres: object, database_url: str) -> None:
    from alembic import command

    from gerbang.migration import alembic_config

    command.downgrade(alembic_config(database_url), "base")
    result = subprocess.run(
        [*GERBANG, "migrate"],
        env=clean_env(GERBANG_DATABASE_URL=database_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database schema at {head_revision()}"
    command.check(alembic_config(database_url))
