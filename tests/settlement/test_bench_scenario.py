"""The settlement bench scenario, tiny: seeding, both sides in their own processes, the checks."""

from __future__ import annotations

import pytest

from bench.context import BenchContext
from bench.harness import Load
from bench.scenarios import settlement
from tests.helpers import clean_env


def test_settlement_scenario_runs_end_to_end(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settlement, "ORDERS", 3_000)
    env = clean_env(GERBANG_DATABASE_URL=database_url, GERBANG_LOG_FORMAT="json")
    result = settlement.run(BenchContext(database_url=database_url, env=env, load=Load()))
    assert result["checks_passed"], result["checks"]
    assert result["gerbang"]["orders"] == result["baseline"]["orders"] == 3_000
    assert result["gerbang"]["job_counts"]["settled"] == 3_000
    assert result["gerbang"]["throughput_per_s"] > 0
    assert result["gerbang"]["postgres_cpu_ms_per_order"] > 0
    assert result["ratio"] > 0
