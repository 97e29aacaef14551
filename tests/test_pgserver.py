"""The embedded server: started once, reused by others, stopped only by its owner, adopted when orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from gerbang.pgserver import EmbeddedPostgres


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except FileNotFoundError:
        return None


@pytest.fixture
def pgdata(tmp_path: Path) -> Path:
    return tmp_path / "pg"


def test_start_creates_database_and_stop_stops_it(pgdata: Path) -> None:
    server = EmbeddedPostgres(pgdata, durable=False)
    server.start()
    try:
        assert server.owned
        server.ensure_database("gerbang")
        server.ensure_database("gerbang")  # idempotent
        assert server.psql("SELECT current_database()", database="gerbang").strip() == "gerbang"
        pid = _postmaster_pid(pgdata)
        assert pid is not None
        assert psutil.pid_exists(pid)
    finally:
        server.stop()
    assert _postmaster_pid(pgdata) is None


def test_a_second_holder_reuses_and_does_not_stop_it(pgdata: Path) -> None:
    owner = EmbeddedPostgres(pgdata, durable=False)
    owner.start()
    try:
        guest = EmbeddedPostgres(pgdata, durable=False)
        guest.start()
        assert not guest.owned
        assert guest.url() == owner.url()
        guest.stop()
        assert owner.psql("SELECT 1").strip() == "1"
    finally:
        owner.stop()


def test_a_server_left_by_a_killed_owner_is_adopted(pgdata: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from gerbang.pgserver import EmbeddedPostgres
        EmbeddedPostgres(Path({str(pgdata)!r}), durable=False).start()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == -signal.SIGKILL
    orphan_pid = _postmaster_pid(pgdata)
    assert orphan_pid is not None
    assert psutil.pid_exists(orphan_pid)

    server = EmbeddedPostgres(pgdata, durable=False)
    server.start()
    assert server.owned
    assert _postmaster_pid(pgdata) == orphan_pid  # reused, not restarted
    server.stop()
    assert not psutil.pid_exists(orphan_pid) or psutil.Process(orphan_pid).status() == psutil.STATUS_ZOMBIE


def test_runs_as_an_unprivileged_user_when_root(pgdata: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only meaningful as root")
    server = EmbeddedPostgres(pgdata, durable=False)
    server.start()
    try:
        pid = _postmaster_pid(pgdata)
        assert pid is not None
        assert psutil.Process(pid).username() == "embedded_postgres"
    finally:
        server.stop()
