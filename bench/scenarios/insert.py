"""A one-row insert through gerbang's stack vs a bare FastAPI + raw asyncpg insert endpoint."""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.context import BenchContext
from bench.harness import HttpTarget, compare_http

DESCRIPTION = (
    "POST one JSON row, INSERT ... RETURNING id, 201: gerbang's app, middleware and request-scoped "
    "SQLAlchemy session vs bare FastAPI + raw asyncpg pool"
)
TARGET = {"ratio_min": 0.40}

_BODY = json.dumps({"payload": "order-0001 QRIS 150000 IDR"})


def run(ctx: BenchContext) -> dict[str, Any]:
    gerbang = HttpTarget(
        "gerbang stack",
        [sys.executable, "-m", "bench.apps.gerbang_insert", "{port}", ctx.database_url],
        "/bench/rows",
        method="POST",
        body=_BODY,
        expect_status=201,
    )
    baseline = HttpTarget(
        "bare FastAPI + raw asyncpg",
        [sys.executable, "-m", "bench.apps.baseline", "{port}", ctx.database_url],
        "/rows",
        method="POST",
        body=_BODY,
        expect_status=201,
        ready_path="/hello",
    )
    return compare_http("insert", DESCRIPTION, gerbang, baseline, ctx.env, ctx.load)
