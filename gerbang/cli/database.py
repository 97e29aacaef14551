"""Which PostgreSQL a command uses: `GERBANG_DATABASE_URL`, or an embedded server it starts and stops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gerbang.config import Settings
from gerbang.kit.log import get_logger
from gerbang.pgserver import EmbeddedPostgres

DATABASE_NAME = "gerbang"

log = get_logger("gerbang.database")


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    server = EmbeddedPostgres(settings.pg_dir)
    server.start()
    log.info("database.embedded", data_dir=str(server.pgdata), owned=server.owned)
    try:
        server.ensure_database(DATABASE_NAME)
        yield server.url(DATABASE_NAME)
    finally:
        server.stop()
