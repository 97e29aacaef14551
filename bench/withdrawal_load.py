"""Withdrawal load, run as its own process: signed S2S withdrawals by partners.

    python -m bench.withdrawal_load URL --partners FILE --concurrency 32 --duration 8 --warmup 1

Closed loop for `duration` seconds (after `warmup` unrecorded ones). Worker i is partner i (mod the
partners in FILE, a JSON list of {"api_key", "signing_secret"}); every request is `POST` of a new
withdrawal (1,000,000 rupiah to BCA 1234567890, an account the sandbox pays out) with its own
reference, signed as partners sign (X-API-Key, X-Timestamp epoch ms, X-Signature), so every signature is
new. Anything but 201 is an error. The driver is the pay-in one (`bench.payin_load`).

Prints one JSON object, as `bench.loadgen` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import uvloop

from bench.payin_load import Request, _drive
from gerbang.auth.signing import sign

AMOUNT = 1_000_000
BANK_CODE = "BCA"
ACCOUNT_NUMBER = "1234567890"
"""Not ending 0000 (no such account) nor 9999 (the sandbox fails the payout): it completes."""


def withdrawal_request(partner: dict[str, str], path: str, reference: str) -> Request:
    body = orjson.dumps({"amount": AMOUNT, "bankCode": BANK_CODE, "accountNumber": ACCOUNT_NUMBER,
                         "reference": reference})  # fmt: skip
    stamp = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        "X-API-Key": partner["api_key"],
        "X-Timestamp": stamp,
        "X-Signature": sign(partner["signing_secret"], "POST", path, stamp, body),
    }
    return body, headers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--partners", required=True, help="JSON list of partner credentials")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    partners: list[dict[str, str]] = json.loads(Path(args.partners).read_text())
    path = urlsplit(args.url).path
    run = uuid.uuid4().hex[:10]
    counters = [0] * args.concurrency

    def next_request(worker: int) -> Request:
        counters[worker] += 1
        return withdrawal_request(partners[worker % len(partners)], path, f"wd-{run}-{worker}-{counters[worker]}")

    result = uvloop.run(_drive(args.url, args.concurrency, 201, next_request, args.warmup, args.duration))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
