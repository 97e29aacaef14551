"""SQL written with SQLAlchemy Core, compiled once to asyncpg's `$n` form, executed on an asyncpg connection.

We keep SQLAlchemy for what it is good at (typed table definitions, Alembic, composing SQL) and skip it
at run time, where its session costs about three times a raw asyncpg call per request (measured:
docs/PERFORMANCE.md). A `Query` is built at import time for fixed statements, or per call for dynamic
ones (filters); parameters are passed by name.

    INSERT_ORDER = Query(insert(orders).values(id=bindparam("id"), ...).returning(orders.c.created_at))
    created_at = await INSERT_ORDER.fetchval(connection, id=order_id, ...)

Lists go through `= ANY(:ids)` with an ARRAY-typed bind parameter, not `IN` (which would need
recompiling per list length).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy.dialects.postgresql.asyncpg import dialect as AsyncpgDialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import Compiled

_DIALECT = AsyncpgDialect()  # type: ignore[no-untyped-call]

# The type every repository takes: a plain connection, or one on loan from the pool.
# (The stubs make asyncpg's classes generic over the record type; at run time they are not.)
if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection | PoolConnectionProxy


class Query:
    __slots__ = ("_defaults", "_names", "text")

    def __init__(self, statement: Executable) -> None:
        compiled: Compiled = statement.compile(dialect=_DIALECT)  # type: ignore[attr-defined]
        text = str(compiled)
        if "__[POSTCOMPILE_" in text:
            raise ValueError("expanding IN parameters are not supported: use `column == any_(bindparam(...))`")
        self.text = text
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
        # Literal values written into the statement (`.where(status == "PENDING")`) are bound too.
        binds = compiled.binds  # type: ignore[attr-defined]
        self._defaults = {name: binds[name].effective_value for name in self._names if not binds[name].required}

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        merged = self._defaults | dict(values)
        missing = [name for name in self._names if name not in merged]
        if missing:
            raise KeyError(f"missing SQL parameters {missing}")
        return [merged[name] for name in self._names]

    async def execute(self, connection: Connection, **values: Any) -> str:
        return await connection.execute(self.text, *self.args(values))

    async def fetch(self, connection: Connection, **values: Any) -> list[asyncpg.Record]:
        return await connection.fetch(self.text, *self.args(values))

    async def fetchrow(self, connection: Connection, **values: Any) -> asyncpg.Record | None:
        return await connection.fetchrow(self.text, *self.args(values))

    async def fetchval(self, connection: Connection, **values: Any) -> Any:
        return await connection.fetchval(self.text, *self.args(values))

    def __repr__(self) -> str:
        return f"Query({self.text!r})"
