"""`GET /healthz` through gerbang's full HTTP stack vs a bare FastAPI hello endpoint."""

from __future__ import annotations

import sys
from typing import Any

from bench.context import BenchContext
from bench.harness import HttpTarget, compare_http

DESCRIPTION = "GET /healthz through `gerbang serve` vs a bare FastAPI hello endpoint, same uvicorn settings"
TARGET: dict[str, float] = {}


def run(ctx: BenchContext) -> dict[str, Any]:
    gerbang = HttpTarget("gerbang serve", [sys.executable, "-m", "gerbang", "serve"], "/healthz")
    baseline = HttpTarget(
        "bare FastAPI hello",
        [sys.executable, "-m", "bench.apps.baseline", "{port}", ctx.database_url],
        "/hello",
        ready_path="/hello",
    )
    return compare_http("healthz", DESCRIPTION, gerbang, baseline, ctx.env, ctx.load)
