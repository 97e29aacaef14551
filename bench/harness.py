"""The benchmark harness: real server processes, a load generator in its own process, a same-run baseline.

Each HTTP scenario starts gerbang and its baseline as separate server processes on one embedded
PostgreSQL, warms both, then alternates runs (baseline, gerbang, baseline, ...) so drift on a noisy
machine hits both alike. Reported figures are medians over runs; the ratio is gerbang's median
throughput over the baseline's. Peak RSS is sampled over each server's process tree.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO_ROOT = BENCH_DIR.parent


@dataclass(frozen=True)
class Load:
    concurrency: int = int(os.environ.get("BENCH_CONCURRENCY", "32"))
    duration_s: float = float(os.environ.get("BENCH_DURATION", "8"))
    runs: int = int(os.environ.get("BENCH_RUNS", "3"))
    warmup_s: float = float(os.environ.get("BENCH_WARMUP", "3"))


@dataclass(frozen=True)
class HttpTarget:
    """One server and the request the load generator sends it."""

    name: str
    command: list[str]
    path: str
    method: str = "GET"
    body: str = ""
    expect_status: int = 200
    ready_path: str = "/healthz"
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for this server; `{port}` is replaced by its port, as in `command`."""
    port: int | None = None
    """Listen here (when other processes must know the address in advance); default: a free port."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RssSampler:
    """Peak resident memory of a process and its children, sampled on a thread once a second (each sample
    lists every process on the machine to find the children: five a second for each of four servers took
    15-20% of a core from the processes being measured)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            self._stop.wait(1.0)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak_bytes / 1024 / 1024, 1)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its living children (for CPU per request)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for process in tree:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


@dataclass
class RunningServer:
    target: HttpTarget
    port: int
    process: subprocess.Popen[bytes]
    rss: RssSampler
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def start_server(target: HttpTarget, env: dict[str, str], log_path: Path) -> Iterator[RunningServer]:
    with start_servers([(target, log_path)], env) as (server,):
        yield server


@contextmanager
def start_servers(targets: Sequence[tuple[HttpTarget, Path]], env: dict[str, str]) -> Iterator[list[RunningServer]]:
    """Start every server at once (they boot in parallel), wait until each is ready, stop them all on exit."""
    with ExitStack() as stack:
        launched = []
        for target, log_path in targets:
            port = target.port or free_port()
            command = [part.replace("{port}", str(port)) for part in target.command]
            extra = {name: value.replace("{port}", str(port)) for name, value in target.env.items()}
            log = stack.enter_context(log_path.open("wb"))
            process = subprocess.Popen(
                command, env=env | extra | {"GERBANG_PORT": str(port)}, stdout=log, stderr=log, cwd=REPO_ROOT
            )
            stack.callback(_stop, process)
            launched.append((target, port, process))
        servers = []
        for target, port, process in launched:
            _wait_ready(f"http://127.0.0.1:{port}{target.ready_path}", process)
            servers.append(RunningServer(target, port, process, RssSampler(process.pid)))
        yield servers


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} was ready")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {timeout_s} s")


def run_loadgen(server: RunningServer, load: Load, *, duration_s: float, warmup_s: float) -> dict[str, Any]:
    target = server.target
    command = [
        sys.executable, "-m", "bench.loadgen",
        "--url", server.base_url + target.path,
        "--method", target.method,
        "--body", target.body,
        "--expect-status", str(target.expect_status),
        "--concurrency", str(load.concurrency),
        "--duration", str(duration_s),
        "--warmup", str(warmup_s),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def _summary(server: RunningServer, peak_rss_mb: float) -> dict[str, Any]:
    return summarize(server.target.name, server.runs, peak_rss_mb)


def summarize(name: str, runs: list[dict[str, Any]], peak_rss_mb: float) -> dict[str, Any]:
    """Medians over runs of one side, as the results table shows them."""
    return {
        "name": name,
        "throughput_per_s": round(statistics.median(r["throughput_per_s"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "errors": sum(sum(r["errors"].values()) for r in runs),
        "loadgen_cpu_pct": round(statistics.median(r["loadgen_cpu_pct"] for r in runs), 1),
        "peak_rss_mb": peak_rss_mb,
    }


def compare_http(
    scenario: str, description: str, gerbang: HttpTarget, baseline: HttpTarget, env: dict[str, str], load: Load
) -> dict[str, Any]:
    """Measure gerbang and its baseline side by side; return the scenario's result document."""
    RESULTS_DIR.mkdir(exist_ok=True)
    with (
        start_server(baseline, env, RESULTS_DIR / f"{scenario}-baseline.log") as base_server,
        start_server(gerbang, env, RESULTS_DIR / f"{scenario}-gerbang.log") as gerbang_server,
    ):
        for server in (base_server, gerbang_server):
            run_loadgen(server, load, duration_s=load.warmup_s, warmup_s=0)
        for _ in range(load.runs):
            for server in (base_server, gerbang_server):
                result = run_loadgen(server, load, duration_s=load.duration_s, warmup_s=1)
                server.runs.append(result | {"target": server.target.name})
                print(
                    f"  {scenario:10} {server.target.name:34} {result['throughput_per_s']:>9.1f}/s "
                    f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}"
                )
        gerbang_summary = _summary(gerbang_server, gerbang_server.rss.stop())
        baseline_summary = _summary(base_server, base_server.rss.stop())
    return {
        "scenario": scenario,
        "description": description,
        "machine": machine(),
        "load": {"concurrency": load.concurrency, "duration_s": load.duration_s, "runs": load.runs},
        "runs": base_server.runs + gerbang_server.runs,
        "gerbang": gerbang_summary,
        "baseline": baseline_summary,
        "ratio": round(gerbang_summary["throughput_per_s"] / baseline_summary["throughput_per_s"], 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
