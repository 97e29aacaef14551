from __future__ import annotations

import signal

from fastapi import FastAPI
from pydantic import BaseModel, Field

from gerbang.config import Settings

# gerbang's default pool size; the baseline gets the same number of connections.
POOL_SIZE = Settings.model_fields["database_pool_size"].default


class RowCreate(BaseModel):
    payload: str = Field(max_length=200)


def serve(app: FastAPI, port: int) -> None:
    """The baseline's server: uvicorn exactly as `gerbang serve` configures it."""
    from gerbang.cli.main import serve_app

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    serve_app(app, Settings(_env_file=None, port=port, log_level="WARNING"))  # type: ignore[call-arg]
