"""`make bench [SCENARIOS="healthz insert"]`: run scenarios, write bench/results/<name>.json, regenerate
the table in docs/PERFORMANCE.md from every result file present.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.context import BenchContext
from bench.harness import RESULTS_DIR, Load
from bench.report import write_performance_doc
from gerbang.migration import upgrade_to_head
from gerbang.pgserver import EmbeddedPostgres

ALL_SCENARIOS = ["healthz", "insert", "ledger", "payin", "withdrawals", "webhooks", "events", "settlement"]
BENCH_DATABASE = "gerbang_bench"


def main(names: list[str]) -> None:
    unknown = set(names) - set(ALL_SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; known: {ALL_SCENARIOS}")
    workdir = Path(tempfile.mkdtemp(prefix="gerbang-bench-"))
    # Durable settings, as `gerbang run` uses: commits are fsynced, as they would be in production.
    server = EmbeddedPostgres(workdir / "pg", durable=True)
    server.start()
    try:
        server.ensure_database(BENCH_DATABASE)
        url = server.url(BENCH_DATABASE)
        upgrade_to_head(url)
        server.psql("CREATE TABLE bench_rows (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)", BENCH_DATABASE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")} | {
            "GERBANG_DATABASE_URL": url,
            "GERBANG_LOG_FORMAT": "json",
        }
        context = BenchContext(database_url=url, env=env, load=Load())
        for name in names or ALL_SCENARIOS:
            print(f"scenario {name}")
            module = importlib.import_module(f"bench.scenarios.{name}")
            result = module.run(context) | {"target": module.TARGET}
            (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
            print(f"  ratio {result['ratio']:.3f}")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    write_performance_doc()


if __name__ == "__main__":
    main(sys.argv[1:])
