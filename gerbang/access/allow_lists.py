"""The allow-lists every process enforces, kept in memory and reloaded when any process changes them.

A change commits with `pg_notify`; each process LISTENs on its own connection (pooled connections never
hold session state) and reloads within milliseconds. A periodic reload covers a lost listener
connection. Until the first load succeeds the API answers 503: an allow-list that cannot be read
must not mean "allow everyone".
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from gerbang.access import repository
from gerbang.db import Database
from gerbang.kit.log import get_logger
from gerbang.kit.netaccess import AllowList
from gerbang.kit.tasks import cancel_and_wait

log = get_logger("gerbang.access")

GLOBAL, ADMIN, S2S, PARTNER = "global", "admin", "s2s", "partner"
_EMPTY = AllowList.parse([])


@dataclass
class AllowLists:
    scopes: dict[str, AllowList] = field(default_factory=dict)
    partners: dict[uuid.UUID, AllowList] = field(default_factory=dict)
    version: int = 0
    loaded: bool = False
    """False until the first successful read: until then the API answers 503 (fail closed)."""

    def scope(self, name: str) -> AllowList:
        return self.scopes.get(name, _EMPTY)

    def partner(self, partner_id: uuid.UUID) -> AllowList:
        return self.partners.get(partner_id, _EMPTY)

    def replace(self, rows: list[asyncpg.Record]) -> None:
        scopes: dict[str, list[str]] = {}
        partners: dict[uuid.UUID, list[str]] = {}
        for row in rows:
            if row["partner_id"] is not None:
                partners.setdefault(row["partner_id"], []).append(row["network"])
            else:
                scopes.setdefault(row["scope"], []).append(row["network"])
        # Swapped whole: a request sees the old lists or the new ones, never half of each.
        self.scopes = {name: AllowList.parse(entries) for name, entries in scopes.items()}
        self.partners = {pid: AllowList.parse(entries) for pid, entries in partners.items()}
        self.version += 1
        self.loaded = True


class AllowListSync:
    """Keeps an `AllowLists` current for one process."""

    def __init__(self, database: Database, dsn: str, lists: AllowLists, refresh: timedelta) -> None:
        self._database = database
        self._dsn = dsn
        self.lists = lists
        self._refresh_s = refresh.total_seconds()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def reload(self) -> None:
        async with self._database.transaction() as connection:
            self.lists.replace(await repository.all_entries(connection))

    async def start(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self.reload()
        self._task = asyncio.create_task(self._run(), name="access.allow_list_sync")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            listener: asyncpg.Connection[asyncpg.Record] | None = None
            try:
                listener = await asyncpg.connect(self._dsn)
                await listener.add_listener(repository.NOTIFY_CHANNEL, lambda *_: self._changed.set())
                await self.reload()  # anything changed while not listening
                while True:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), timeout=self._refresh_s)
                    self._changed.clear()
                    await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("access.allow_list_sync_failed")
                await asyncio.sleep(1)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close()
