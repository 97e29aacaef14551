"""The main path as a newcomer meets it: `gerbang run` on an empty directory seeds the demo, a partner
creates an order with a signed request, the customer opens the checkout and pays at the sandbox, the
sandbox's signed callback arrives over real HTTP, the order is PAID, the partner's pending balance is
the amount minus the fee, and `gerbang reconcile` finds the ledger clean. Everything runs as real
processes talking over 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from gerbang.auth.signing import sign
from tests.helpers import GERBANG, REPO_ROOT, clean_env, free_port, wait_until_ready

README = (REPO_ROOT / "README.md").read_text()


def _signed(partner: dict[str, Any], method: str, path: str, body: bytes = b"") -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    signature = sign(partner["signing_secret"], method, path, stamp, body)
    return {"X-API-Key": partner["api_key"], "X-Timestamp": stamp, "X-Signature": signature,
            "Content-Type": "application/json"}  # fmt: skip


def _read_credentials(directory: Path, timeout_s: float = 10) -> dict[str, Any]:
    path = directory / "var" / "demo-credentials.json"
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.1)
    assert path.stat().st_mode & 0o077 == 0, "the demo credentials file must be private to its owner"
    return dict(json.loads(path.read_text()))


def test_an_order_is_created_paid_through_the_sandbox_and_credited(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(GERBANG_PORT=str(port))
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*GERBANG, "run"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        wait_until_ready(f"{base}/readyz", timeout_s=60)
        demo = _read_credentials(tmp_path)
        partner = demo["partner"]
        with httpx.Client(base_url=base, timeout=10) as http:
            path = "/api/v1/payments"
            body = orjson.dumps({"amount": 125_000, "reference": "E2E-1", "customerName": "Budi"})
            created = http.post(path, content=body, headers=_signed(partner, "POST", path, body))
            assert created.status_code == 201, created.text
            order = created.json()["result"]
            assert order["checkoutUrl"] == f"{base}/pay/{order['orderId']}"

            checkout = http.get(order["checkoutUrl"])
            assert checkout.status_code == 200
            assert "125.000" in checkout.text  # the amount as Indonesians write it

            paid = http.post(f"/sandbox/orders/{order['orderId']}/pay")
            assert paid.status_code == 200, paid.text
            assert paid.json()["callback"]["status_code"] == 200, paid.text  # our answer to the sandbox

            status_path = f"/api/v1/payments/order/{order['orderId']}/status"
            status = http.get(status_path, headers=_signed(partner, "GET", status_path))
            assert status.json()["result"]["status"] == "PAID", status.text

            login = http.post(
                "/api/v1/client/login", json={"email": partner["owner_email"], "password": partner["owner_password"]}
            )
            assert login.status_code == 200, login.text
            balances = http.get(
                f"/api/v1/client/partners/{partner['partner_id']}/balances",
                headers={"Authorization": f"Bearer {login.json()['accessToken']}"},
            ).json()
        # The demo partner pays 1.5% on weekdays and 2% on weekend-rate days (no flat part).
        rates = (Decimal("0.015"), Decimal("0.02"))
        fees = {int((Decimal(125_000) * rate).quantize(Decimal(1), ROUND_HALF_UP)) for rate in rates}
        assert balances["pending"] in {125_000 - fee for fee in fees}, balances
        assert (balances["available"], balances["held"]) == (0, 0)

        # The README's quick-start snippet works as written (on this test's port).
        snippet = README.split("python - <<'PY'", 1)[1].split("\nPY\n", 1)[0].split("\n", 1)[1]
        shown = subprocess.run(
            [sys.executable, "-c", snippet.replace("127.0.0.1:8000", f"127.0.0.1:{port}")], cwd=tmp_path,
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr.decode()
        assert shown.stdout.decode().startswith(f"{base}/pay/")

        reconcile = subprocess.run(
            [*GERBANG, "reconcile", "--json"], cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
        )
        assert reconcile.returncode == 0, reconcile.stdout.decode() + reconcile.stderr.decode()
        report = json.loads(reconcile.stdout)
        assert (report["drifting_accounts"], report["unbalanced_transactions"]) == ([], [])
        assert report["transactions_checked"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    output = log_path.read_text()
    assert process.returncode == 0, output[-3000:]
    assert "demo data seeded" in output
    # The secrets were shown once at creation; no log line repeats them.
    log_lines = [line for line in output.splitlines() if line.startswith("{") and '"event"' in line]
    for secret in (partner["api_key"], partner["signing_secret"], partner["owner_password"]):
        assert not any(secret in line for line in log_lines)


def test_gerbang_run_switches_the_demo_to_a_providers_fake(tmp_path: Path) -> None:
    """`gerbang run --provider X`, one start after another on the same data: each start switches the demo to
    X (its fake's account, made the first time, is preferred over the demo's others), and a payment then goes
    through X's own protocol (Oy!: an unsigned callback that only prompts a status query; Netzme: SNAP BI,
    RSA-signed notify) to PAID; switching back to Oy! reuses its account."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(GERBANG_PORT=str(port))
    for number, provider in enumerate(("oy", "netzme", "oy"), start=1):
        with (tmp_path / f"run-{number}.log").open("wb") as log:
            process = subprocess.Popen(
                [*GERBANG, "run", "--provider", provider], cwd=tmp_path, env=env, stdout=log, stderr=log
            )
        try:
            wait_until_ready(f"{base}/readyz", timeout_s=60)
            partner = _read_credentials(tmp_path)["partner"]
            with httpx.Client(base_url=base, timeout=10) as http:
                path = "/api/v1/payments"
                body = orjson.dumps({"amount": 50_000 + number, "reference": f"E2E-{number}-{provider}"})
                created = http.post(path, content=body, headers=_signed(partner, "POST", path, body))
                assert created.status_code == 201, created.text
                order_id = created.json()["result"]["orderId"]
                paid = http.post(f"/sandbox/orders/{order_id}/pay")
                assert paid.status_code == 200, paid.text
                status_path = f"/api/v1/payments/order/{order_id}/status"
                deadline = time.monotonic() + 10
                while True:
                    status = http.get(status_path, headers=_signed(partner, "GET", status_path)).json()["result"]
                    if status["status"] == "PAID" or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert status["status"] == "PAID", status
                order_path = f"/api/v1/payments/order/{order_id}"
                order = http.get(order_path, headers=_signed(partner, "GET", order_path)).json()
                assert order["provider"] == provider, order
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        assert process.returncode == 0, (tmp_path / f"run-{number}.log").read_text()[-3000:]
    reconcile = subprocess.run(
        [*GERBANG, "reconcile", "--json"], cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    report = json.loads(reconcile.stdout)
    assert (report["drifting_accounts"], report["unbalanced_transactions"], report["transactions_checked"]) == (
        [], [], 3,
    )  # fmt: skip
