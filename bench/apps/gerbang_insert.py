"""gerbang's own stack with a one-row insert endpoint: the app factory (request-id, metrics and
access-log middleware, error handlers), the request-scoped connection committing one transaction per
request, SQL built with SQLAlchemy Core and compiled once (`gerbang.kit.sql.Query`), served by
`serve_app` exactly as `gerbang serve` does.

The table lives in the benchmark's database only; it is not part of gerbang's schema.

    python -m bench.apps.gerbang_insert PORT DATABASE_URL
"""

from __future__ import annotations

import sys

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, bindparam, insert

from bench.apps.common import RowCreate
from gerbang.app import create_app
from gerbang.cli.main import serve_app
from gerbang.config import load_settings
from gerbang.db import DbConnection
from gerbang.kit.log import configure_logging
from gerbang.kit.sql import Query

bench_rows = Table("bench_rows", MetaData(), Column("id", BigInteger, primary_key=True), Column("payload", Text))
INSERT_ROW = Query(insert(bench_rows).values(payload=bindparam("payload")).returning(bench_rows.c.id))


class Created(BaseModel):
    id: int


def main(port: int, database_url: str) -> None:
    settings = load_settings(port=port, database_url=database_url)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    router = APIRouter()

    @router.post("/bench/rows", status_code=201)
    async def insert_row(row: RowCreate, connection: DbConnection) -> Created:
        return Created(id=await INSERT_ROW.fetchval(connection, payload=row.payload))

    app.include_router(router)
    serve_app(app, settings)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
