"""Pay-in load, run as its own process: signed partner orders, or signed provider callbacks.

    python -m bench.payin_load orders URL --partners FILE --concurrency 32 --duration 8 --warmup 1
    python -m bench.payin_load callbacks URL --events FILE --concurrency 32

`orders`: closed loop for `duration` seconds. Worker i is partner i (mod the partners in FILE, a JSON
list of {"api_key", "signing_secret"}); every request is `POST` of a new order with its own reference,
signed as partners sign (X-API-Key, X-Timestamp, X-Signature), so every signature is new. Anything but
201 is an error.

`callbacks`: every event in FILE (a JSON object {"key": merchant key, "events": [{"order_id", "amount",
"charge_id"}, ...]}) is sent once, as a sandbox PAID callback signed with the merchant key, by
`concurrency` workers; the run ends when the last one answered. Anything but 200 is an error; such
callbacks are sent again after the run (as providers retry), so that every order still gets paid.

Prints one JSON object, as `bench.loadgen` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvloop

from bench.loadgen import _percentile
from gerbang.auth.signing import sign
from gerbang.kit.time import utcnow
from gerbang.sandbox.protocol import SIGNATURE_HEADER
from gerbang.sandbox.protocol import sign as sign_callback

ORDER_AMOUNT = 150_000

Request = tuple[bytes, dict[str, str]]


def order_request(partner: dict[str, str], path: str, reference: str) -> Request:
    body = orjson.dumps({"amount": ORDER_AMOUNT, "method": "qris", "reference": reference,
                         "customerName": "Budi Santoso", "customerEmail": "budi@example.com"})  # fmt: skip
    stamp = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        "X-API-Key": partner["api_key"],
        "X-Timestamp": stamp,
        "X-Signature": sign(partner["signing_secret"], "POST", path, stamp, body),
    }
    return body, headers


def callback_request(key: str, event: dict[str, Any]) -> Request:
    """A sandbox PAID notification, as `gerbang.sandbox.endpoints._move` sends it."""
    body = orjson.dumps({
        "event_id": f"{event['charge_id']}:PAID", "charge_id": event["charge_id"], "merchant_ref": event["order_id"],
        "status": "PAID", "amount": event["amount"], "paid_at": utcnow().isoformat(),
    })  # fmt: skip
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign_callback(key, body)}


async def _drive(
    url: str, concurrency: int, expect_status: int, next_request: Callable[[int], Request | None], warmup_s: float,
    duration_s: float | None, *, retry: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """`concurrency` workers send `next_request(worker)` until it is None or the time is up."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    recording = False
    stop_at = 0.0

    failed: list[Request] = []

    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(request: Request) -> tuple[bool, str]:
            body, headers = request
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    return response.status == expect_status, str(response.status)
            except aiohttp.ClientError as exc:
                return False, type(exc).__name__

        async def worker(index: int) -> None:
            nonlocal sent
            while time.perf_counter() < stop_at:
                request = next_request(index)
                if request is None:
                    return
                started = time.perf_counter()
                ok, key = await send(request)
                sent += 1
                if not ok:
                    failed.append(request)
                    errors[key] = errors.get(key, 0) + 1
                elif recording:
                    latencies.append(time.perf_counter() - started)

        async def phase(seconds: float) -> None:
            nonlocal stop_at
            stop_at = time.perf_counter() + seconds
            await asyncio.gather(*(worker(index) for index in range(concurrency)))

        if warmup_s > 0:
            await phase(warmup_s)
        warmup_errors, errors = errors, {}
        failed.clear()
        recording = True
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        await phase(duration_s if duration_s is not None else float("inf"))
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        # A provider re-sends a notification that was not acknowledged; so do we, after the clock stopped,
        # so that a refused callback is an error in the figures and still pays its order.
        retried = retry_failures = 0
        if retry:
            for request in failed:
                retried += 1
                ok = False
                for _ in range(3):
                    ok, _key = await send(request)
                    if ok:
                        break
                retry_failures += not ok

    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "warmup_errors": warmup_errors,
        "retried": retried,
        "retry_failures": retry_failures,
        "sent_total": sent,
        "duration_s": round(elapsed, 3),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "loadgen_cpu_pct": round(100 * cpu_s / elapsed, 1),
    }


def orders(args: argparse.Namespace) -> Coroutine[Any, Any, dict[str, Any]]:
    partners: list[dict[str, str]] = json.loads(Path(args.partners).read_text())
    path = urlsplit(args.url).path
    run = uuid.uuid4().hex[:10]
    counters = [0] * args.concurrency

    def next_request(worker: int) -> Request:
        counters[worker] += 1
        return order_request(partners[worker % len(partners)], path, f"bench-{run}-{worker}-{counters[worker]}")

    return _drive(args.url, args.concurrency, 201, next_request, args.warmup, args.duration)


def callbacks(args: argparse.Namespace) -> Coroutine[Any, Any, dict[str, Any]]:
    document = json.loads(Path(args.events).read_text())
    key: str = document["key"]
    pending: list[dict[str, Any]] = list(reversed(document["events"]))

    def next_request(_: int) -> Request | None:
        return callback_request(key, pending.pop()) if pending else None

    return _drive(args.url, args.concurrency, 200, next_request, 0, None, retry=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["orders", "callbacks"])
    parser.add_argument("url")
    parser.add_argument("--partners", help="orders: JSON list of partner credentials")
    parser.add_argument("--events", help="callbacks: JSON document of the orders to pay")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    load = orders(args) if args.mode == "orders" else callbacks(args)
    json.dump(uvloop.run(load), sys.stdout)


if __name__ == "__main__":
    main()
