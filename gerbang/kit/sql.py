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
from sqlalchemy import Boolean, ColumnElement, literal_column
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


REFUSE = "gerbang_refuse"
"""The SQL function (migration 0025) by which a statement refuses to finish: `gerbang_refuse('why')` fails it
with `REFUSED_SQLSTATE`, so nothing it wrote stays. A one-statement fast path (a compare-and-set and what it
entails, say its ledger posting) calls it when one part found it could not be done, and its caller takes the
careful path instead."""
REFUSED_SQLSTATE = "GB001"


def refuse_unless_returned(cte: str, what: str) -> ColumnElement[bool]:
    """A condition for a statement's final row that is true if its CTE `cte` returned a row, and otherwise
    fails the whole statement (`REFUSE`) with the message "`what` refused" (`what`: plain words)."""
    if not all(character.isalnum() or character == " " for character in what):
        raise ValueError(f"a refusal's name is plain words, not {what!r}")
    return literal_column(
        f"CASE WHEN EXISTS (SELECT FROM {cte}) THEN true ELSE {REFUSE}('{what} refused') END", Boolean
    )


class Refused(Exception):
    """A statement refused to finish by `gerbang_refuse`; nothing it wrote remains."""


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

    async def attempt(self, connection: Connection, **values: Any) -> asyncpg.Record | None:
        """`fetchrow` of a statement that may refuse (`REFUSE`): raises `Refused` if it did. Outside a
        transaction, or in a savepoint: a refusal fails the transaction it runs in."""
        try:
            return await self.fetchrow(connection, **values)
        except asyncpg.PostgresError as error:
            if error.sqlstate == REFUSED_SQLSTATE:
                raise Refused(error.args[0] if error.args else "refused") from None
            raise

    def __repr__(self) -> str:
        return f"Query({self.text!r})"
