from __future__ import annotations

from dataclasses import dataclass

from bench.harness import Load


@dataclass(frozen=True)
class BenchContext:
    database_url: str
    """A migrated gerbang database, plus the benchmark-only `bench_rows` table."""
    env: dict[str, str]
    """Environment for server processes: GERBANG_DATABASE_URL set, nothing else of the caller's GERBANG_*."""
    load: Load
