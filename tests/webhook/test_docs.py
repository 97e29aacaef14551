"""docs/webhooks.md, tested: its verification code (Python with `standardwebhooks`, Python's standard library
only, Node.js with `node:crypto` only) run against real webhooks the worker delivers to a local receiver, its
test vector, its payloads and console examples compared with what gerbang really sends and answers, and its
numbers with the code's.

Every fenced block of the guide follows a marker that names it: `<!-- verify: NAME -->` for code that is run,
`<!-- example: NAME -->` for a payload, request or answer that is compared; `<!-- facts: NAME -->` marks a
table read here. A block without a marker fails the suite, so nothing in the guide goes untested.
"""

from __future__ import annotations

import ast
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import standardwebhooks
from fastapi import FastAPI

from gerbang.auth.sessions import PartnerRole, create_partner_user
from gerbang.db import Database
from gerbang.events import service as events
from gerbang.kit.crypto import new_webhook_secret
from gerbang.kit.time import JAKARTA, utcnow
from gerbang.order.callbacks import payment_payload
from gerbang.partner.service import WEBHOOK_SECRET_OVERLAP
from gerbang.webhook.policy import JITTER, MAX_RETRY_AFTER, SCHEDULE, Outcome, classify
from gerbang.webhook.schemas import EventType
from gerbang.webhook.service import REPLAY_LIMIT
from gerbang.webhook.signing import USER_AGENT, signed_headers
from gerbang.webhook.worker import DEAD_STREAK_LIMIT, RESPONSE_KEPT, DeliverySettings
from tests.auth.people import PASSWORD, bearer, signed
from tests.helpers import REPO_ROOT
from tests.webhook.conftest import Emit, MakePartner, Received, Receiver, StartWorker, statuses, wait_for

DOC = REPO_ROOT / "docs" / "webhooks.md"
VERIFIERS = {"python-standardwebhooks", "python-stdlib", "node"}
EXAMPLES = {
    "payment.paid", "payment.expired", "test", "test-vector", "rotate-body", "rotate-response", "endpoint-get",
    "endpoint-put", "test-response", "deliveries-request", "deliveries-response", "delivery-detail", "replay-body",
    "replay-response", "api-logs-response",
}  # fmt: skip
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!-- (?P<kind>verify|example|facts): (?P<name>[\w.-]+) -->")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_STALE_S = 6 * 60  # past the 5-minute tolerance
_NODE_HARNESS = r"""
;(() => {
  // Appended by tests/webhook/test_docs.py: runs the cases read from stdin through the functions above.
  const functions = { verifyWebhook, verifyCallbackSignature };
  const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const results = cases.map(({ fn, secret, headers, body, now }) => {
    try {
      return { ok: true, event: functions[fn](secret, headers, Buffer.from(body, "base64"), now ?? undefined) };
    } catch (error) {
      return { ok: false, error: error.constructor.name, message: String(error.message) };
    }
  });
  process.stdout.write(JSON.stringify(results));
})();
"""


# The guide's blocks.


@dataclass(frozen=True)
class Block:
    kind: str
    name: str
    lang: str
    code: str
    line: int


@cache
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


@cache
def doc_blocks() -> dict[str, Block]:
    """Every fenced block by the name of its marker; a block without one fails (it would go untested)."""
    text = doc_text()
    blocks: dict[str, Block] = {}
    for fence in _FENCE.finditer(text):
        line = text.count("\n", 0, fence.start()) + 1
        preceding = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = _MARKER.fullmatch(preceding)
        unmarked = (
            f"docs/webhooks.md:{line}: a ```{fence['lang']} block without a <!-- verify: ... --> or"
            " <!-- example: ... --> marker on the line above: tests/webhook/test_docs.py would not test it"
        )
        assert marker, unmarked
        assert marker["kind"] != "facts", unmarked
        assert marker["name"] not in blocks, f"docs/webhooks.md:{line}: a second block named {marker['name']}"
        blocks[marker["name"]] = Block(marker["kind"], marker["name"], fence["lang"], fence["code"], line)
    return blocks


def example(name: str) -> Any:
    block = doc_blocks()[name]
    assert (block.kind, block.lang) == ("example", "json"), f"{name} is not a JSON example"
    return json.loads(block.code)


def facts_table(name: str) -> list[list[str]]:
    """The rows of the markdown table right after `<!-- facts: NAME -->`, without its header."""
    text = doc_text()
    marker = f"<!-- facts: {name} -->\n"
    assert marker in text, f"docs/webhooks.md has no {marker.strip()}"
    table = list(itertools.takewhile(lambda line: line.startswith("|"), text.split(marker, 1)[1].split("\n")))
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table[2:]]


def http_example(name: str) -> tuple[list[str], dict[str, str], bytes]:
    """An `http` example: its request line, headers (as written) and body (the exact bytes)."""
    block = doc_blocks()[name]
    assert (block.kind, block.lang) == ("example", "http"), f"{name} is not an HTTP example"
    head, _, body = block.code.partition("\n\n")
    request_line, *header_lines = head.strip("\n").split("\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return request_line.split(" "), headers, body.removesuffix("\n").encode()


# The JSON shape of a value: key names and order, and kinds (uuid, datetime with its offset, int, float, ...).


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        if _UUID.fullmatch(value):
            return "uuid"
        if _DATETIME.fullmatch(value):
            datetime.fromisoformat(value)  # and really one
            return "datetime " + ("Z" if value.endswith("Z") else value[-6:])
        return "str"
    return type(value).__name__


def assert_same_shape(documented: Any, real: Any, where: str, *, nulls_must_match: bool = False) -> None:
    """`documented` (from the guide) has the shape of `real` (what gerbang sent or answered). A null on either
    side matches anything, unless `nulls_must_match` (a payload whose nulls follow from its status)."""
    if documented is None or real is None:
        if nulls_must_match:
            assert (documented is None) == (real is None), f"{where}: documented {documented!r}, real {real!r}"
        return
    if isinstance(real, dict):
        assert isinstance(documented, dict), f"{where}: documented {documented!r}, real an object"
        assert list(documented) == list(real), f"{where}: documented keys {list(documented)}, real {list(real)}"
        for key in real:
            assert_same_shape(documented[key], real[key], f"{where}.{key}", nulls_must_match=nulls_must_match)
    elif isinstance(real, list):
        assert isinstance(documented, list), f"{where}: documented {documented!r}, real a list"
        for index, item in enumerate(documented):
            if real:
                assert_same_shape(item, real[0], f"{where}[{index}]", nulls_must_match=nulls_must_match)
    else:
        assert kind_of(documented) == kind_of(real), (
            f"{where}: documented {documented!r} ({kind_of(documented)}), real {real!r} ({kind_of(real)})"
        )


# Running the verification code.


@dataclass(frozen=True)
class Case:
    """One request given to a verification function, and whether it must be accepted."""

    label: str
    fn: str  # "verifyWebhook" or "verifyCallbackSignature" (verify_webhook, verify_callback_signature in Python)
    secret: str
    headers: dict[str, str]
    body: bytes
    genuine: bool
    now: float | None = None  # the receiver's clock; None: the real one


def python_verifier(name: str) -> dict[str, Any]:
    block = doc_blocks()[name]
    assert (block.kind, block.lang) == ("verify", "python"), f"{name} is not a Python verification block"
    namespace: dict[str, Any] = {"__name__": f"webhooks_md_{name.replace('-', '_')}"}
    exec(compile(block.code, f"docs/webhooks.md:{block.line} ({name})", "exec"), namespace)  # noqa: S102
    return namespace


def run_python(name: str, cases: list[Case]) -> list[str]:
    """Runs the cases through a Python block; returns what went wrong."""
    namespace = python_verifier(name)
    functions = {"verifyWebhook": "verify_webhook", "verifyCallbackSignature": "verify_callback_signature"}
    refused = namespace["WebhookVerificationError"]
    problems = []
    for case in cases:
        function: Callable[..., Any] = namespace[functions[case.fn]]
        arguments: dict[str, Any] = {} if case.now is None else {"now": case.now}
        try:
            event = function(case.secret, case.headers, case.body, **arguments)
        except refused as error:
            if case.genuine:
                problems.append(f"{name}: {case.label}: refused ({error})")
            continue
        if not case.genuine:
            problems.append(f"{name}: {case.label}: accepted")
        elif event != json.loads(case.body):
            problems.append(f"{name}: {case.label}: returned {event!r}, not the event")
    return problems


def node_binary() -> str:
    found = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").is_file() else None)
    if found is None:
        pytest.fail(
            "node is not installed (not on PATH, not at /usr/bin/node): the Node.js example of docs/webhooks.md"
            " cannot be tested. Install Node.js 16 or later.",
            pytrace=False,
        )
    return found


def run_node(cases: list[Case], workdir: Path) -> list[str]:
    """Runs the cases through the Node.js block with `node`, in a directory without any npm package."""
    block = doc_blocks()["node"]
    assert (block.kind, block.lang) == ("verify", "js")
    required = re.findall(r"require\(\s*[\"']([^\"']+)[\"']\s*\)", block.code)
    assert required
    assert all(module.startswith("node:") for module in required), f"npm packages: {required}"
    script = workdir / "verify-webhooks.js"
    script.write_text(block.code + "\n" + _NODE_HARNESS, encoding="utf-8")
    payload = [
        {
            "fn": case.fn, "secret": case.secret, "headers": {k.lower(): v for k, v in case.headers.items()},
            "body": base64.b64encode(case.body).decode(), "now": case.now,
        }
        for case in cases
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NODE_", "NPM_"))}
    done = subprocess.run(
        [node_binary(), str(script)], input=json.dumps(payload), capture_output=True, text=True, timeout=30,
        cwd=workdir, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"node failed ({done.returncode}): {done.stderr[-2000:]}"
    problems = []
    for case, result in zip(cases, json.loads(done.stdout), strict=True):
        if result["ok"] and not case.genuine:
            problems.append(f"node: {case.label}: accepted")
        elif result["ok"] and result["event"] != json.loads(case.body):
            problems.append(f"node: {case.label}: returned {result['event']!r}, not the event")
        elif not result["ok"] and case.genuine:
            problems.append(f"node: {case.label}: refused ({result['error']}: {result['message']})")
        elif not result["ok"] and result["error"] != "WebhookVerificationError":
            problems.append(f"node: {case.label}: failed with {result['error']}: {result['message']}")
    return problems


def run_everywhere(cases: list[Case], workdir: Path) -> None:
    """Every case through the three blocks (`standardwebhooks` only takes fresh Standard Webhooks ones)."""
    library_cases = [case for case in cases if case.fn == "verifyWebhook" and case.now is None]
    problems = run_python("python-standardwebhooks", library_cases)
    problems += run_python("python-stdlib", cases)
    problems += run_node(cases, workdir)
    assert not problems, "\n".join(problems)


def cases_for(arrival: Received, secret: str, label: str) -> list[Case]:
    """A real delivery: accepted as received; refused tampered with, stale, early, or with another secret."""
    headers, body = arrival.headers, arrival.body
    event_id = headers["webhook-id"]
    now = int(time.time())

    def resigned(timestamp: int) -> dict[str, str]:
        return signed_headers(event_id, body, [secret], timestamp)

    if b'"grossAmount"' in body:
        tampered = re.sub(rb'"grossAmount":\d+', b'"grossAmount":1', body)
    else:
        tampered = body[:-1] + b" }"
    assert tampered != body
    without_signature = {k: v for k, v in headers.items() if k.lower() != "webhook-signature"}
    other_id = headers | {"webhook-id": str(uuid.uuid4())}
    wrong = new_webhook_secret()
    return [
        Case(f"{label} as delivered", "verifyWebhook", secret, headers, body, genuine=True),
        Case(f"{label} X-Callback-Signature", "verifyCallbackSignature", secret, headers, body, genuine=True),
        Case(f"{label} re-signed 4 minutes ago", "verifyWebhook", secret, resigned(now - 240), body, genuine=True),
        Case(f"{label} tampered body", "verifyWebhook", secret, headers, tampered, genuine=False),
        Case(f"{label} tampered body, X-Callback", "verifyCallbackSignature", secret, headers, tampered, genuine=False),
        Case(f"{label} another webhook-id", "verifyWebhook", secret, other_id, body, genuine=False),
        Case(f"{label} stale timestamp", "verifyWebhook", secret, resigned(now - _STALE_S), body, genuine=False),
        Case(f"{label} future timestamp", "verifyWebhook", secret, resigned(now + _STALE_S), body, genuine=False),
        Case(f"{label} without signature", "verifyWebhook", secret, without_signature, body, genuine=False),
        Case(f"{label} another secret", "verifyWebhook", wrong, headers, body, genuine=False),
        Case(f"{label} another secret, X-Callback", "verifyCallbackSignature", wrong, headers, body, genuine=False),
    ]


# The guide as a whole, and its numbers.


def test_every_block_is_marked_and_the_code_uses_only_what_it_says() -> None:
    blocks = doc_blocks()
    assert {n for n, b in blocks.items() if b.kind == "verify"} == VERIFIERS
    assert {n for n, b in blocks.items() if b.kind == "example"} == EXAMPLES, "an example this test does not check"
    stdlib = blocks["python-stdlib"].code
    imported = set()
    for node in ast.walk(ast.parse(stdlib)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported
    assert imported <= sys.stdlib_module_names, f"not the standard library: {imported}"
    for code, constant_time in ((stdlib, "hmac.compare_digest("), (blocks["node"].code, "crypto.timingSafeEqual(")):
        assert constant_time in code
        assert "TOLERANCE_S = 5 * 60" in code


def test_the_numbers_are_the_code_s() -> None:
    text = doc_text()
    rows = facts_table("retry-schedule")
    assert [int(row[0]) for row in rows] == list(range(1, len(SCHEDULE) + 2))
    waits = [_seconds(row[1]) for row in rows[1:]]
    assert waits == [wait.total_seconds() for wait in SCHEDULE]
    elapsed = 0.0
    for row, wait in zip(rows[1:], waits, strict=True):
        elapsed += wait
        assert abs(_seconds(row[2]) - elapsed) <= 60, row
    assert f"If the {len(SCHEDULE) + 1}th attempt fails too" in text
    assert f"±{round(JITTER * 100)}%" in text
    assert f"up to {int(MAX_RETRY_AFTER.total_seconds() // 3600)} h" in text
    assert f"{DEAD_STREAK_LIMIT} events in a row" in text
    assert f"{RESPONSE_KEPT // 1024} KB" in text
    assert f"at most {REPLAY_LIMIT:,} events" in text
    timeout = f"{DeliverySettings().timeout.total_seconds():g} s"
    assert f"You have **{timeout}** to answer" in text
    assert f"no answer within {timeout}" in text
    overlap = int(WEBHOOK_SECRET_OVERLAP.total_seconds())
    assert f"default {overlap}: {overlap // 3600} hours" in text
    assert f"`{USER_AGENT}`" in text
    retried = {code for code in range(100, 600) if classify(code) is Outcome.retry}
    assert retried == {408, 425, 429} | set(range(500, 600))
    assert "| 408, 425, 429, any 5xx |" in text
    assert [classify(code) for code in (None, 410, 302, 400)] == [
        Outcome.retry,
        Outcome.gone,
        Outcome.dead,
        Outcome.dead,
    ]
    for event_type in typing.get_args(EventType):
        assert f"`{event_type}`" in text, f"{event_type} is not in the catalog"


def _seconds(text: str) -> float:
    units = {"h": 3600, "min": 60, "s": 1}
    if text in ("-", "at once"):
        return 0
    parts = re.findall(r"(\d+) (h|min|s)\b", text)
    assert parts, text
    return float(sum(int(number) * units[unit] for number, unit in parts))


def test_the_test_vector(tmp_path: Path) -> None:
    """The request the guide shows is what gerbang signs for that secret, time and body; every block takes
    it at that time and refuses it a moment past the tolerance."""
    (method, target, version), headers, body = http_example("test-vector")
    assert (method, target, version) == ("POST", "/gerbang/webhooks", "HTTP/1.1")
    secrets = re.findall(r"`(whsec_[A-Za-z0-9+/=]+)`", doc_text().split("<!-- example: test-vector -->")[0])
    secret = secrets[-1]
    event_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    assert signed_headers(event_id, body, [secret], timestamp).items() <= headers.items()
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == example("test") | {"id": event_id}  # the `test` example, with this id
    assert datetime.fromtimestamp(timestamp, JAKARTA).isoformat() == "2026-12-01T14:00:00+07:00"
    assert b"(2026-12-01 14:00:00 +07:00)" in DOC.read_bytes()
    library = standardwebhooks.Webhook(secret)
    assert library.sign(event_id, datetime.fromtimestamp(timestamp, UTC), body.decode()) == headers["webhook-signature"]
    cases = [
        Case("test vector", "verifyWebhook", secret, headers, body, genuine=True, now=timestamp),
        Case("test vector, X-Callback", "verifyCallbackSignature", secret, headers, body, genuine=True),
        Case("test vector, 301 s later", "verifyWebhook", secret, headers, body, genuine=False, now=timestamp + 301),
        Case("test vector, 301 s early", "verifyWebhook", secret, headers, body, genuine=False, now=timestamp - 301),
    ]
    run_everywhere(cases, tmp_path)


# The examples against real deliveries and the real console.


async def _developer(client: httpx.AsyncClient, database: Database, partner_id: uuid.UUID) -> dict[str, str]:
    email = f"dev-{uuid.uuid4().hex[:6]}@toko.example"
    async with database.transaction() as connection:
        await create_partner_user(
            connection, partner_id=partner_id, email=email, password=PASSWORD, role=PartnerRole.DEVELOPER
        )
    login = await client.post("/api/v1/client/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return bearer(login.json()["accessToken"])


async def _payment_events(database: Database, partner_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A payment.paid and a payment.expired built as the order code builds them; returns their ids and the paid
    order's id."""
    paid_order_id, expired_order_id = uuid.uuid4(), uuid.uuid4()
    paid_order = {"id": paid_order_id, "reference": "INV-2026-0001", "amount": 150000, "qr_payload": "000201...A1B2"}
    expired_order = {"id": expired_order_id, "reference": "INV-2026-0002", "amount": 75000, "qr_payload": "0002...C3D4"}
    now = utcnow()
    async with database.transaction() as connection:
        paid = await events.webhook(
            connection, partner_id=partner_id, event="payment.paid", at=now, object_id=paid_order_id,
            data=payment_payload(paid_order, "PAID", 1050, (now - timedelta(seconds=3)).replace(microsecond=0)),
        )  # fmt: skip
        expired = await events.webhook(
            connection, partner_id=partner_id, event="payment.expired", at=now, object_id=expired_order_id,
            data=payment_payload(expired_order, "EXPIRED", None, None),
        )  # fmt: skip
    return paid, expired, paid_order_id


def _last_arrival(receiver: Receiver, event_id: uuid.UUID | str) -> Received:
    return [r for r in receiver.received if r.headers["webhook-id"] == str(event_id)][-1]


def test_the_examples_tell_one_story() -> None:
    """The examples tell one story: the events in the console answers are the payload examples."""
    paid, expired = example("payment.paid"), example("payment.expired")
    for payload in (paid, expired):
        assert payload["timestamp"].endswith("+07:00")
        assert re.fullmatch(r"[0-9a-f]{32}", payload["nonce"])
    assert paid["netAmount"] == paid["grossAmount"] - paid["fee"]
    assert paid["paidAt"].endswith("+07:00")
    detail, [listed] = example("delivery-detail"), example("deliveries-response")
    for delivery, payload in ((detail, paid), (listed, expired)):
        assert delivery["payload"] == payload
        assert (delivery["id"], delivery["eventType"], delivery["objectId"]) == (
            payload["id"], payload["event"], payload["orderId"])  # fmt: skip
    assert example("endpoint-get")["url"] == example("endpoint-put")["webhookUrl"]
    assert example("test-response")["id"] == example("test")["id"]


async def test_the_examples_against_real_webhooks_and_the_real_console(
    app: FastAPI, client: httpx.AsyncClient, database: Database, receiver: Receiver, make_partner: MakePartner,
    emit: Emit, start_worker: StartWorker, tmp_path: Path,
) -> None:  # fmt: skip
    partner = await make_partner(receiver.url)
    secret = partner.webhook_secret
    console = await _developer(client, database, partner.partner_id)

    # The endpoint settings as the guide sets them, and the answer it shows.
    put = await client.put("/api/v1/client/webhook", json=example("endpoint-put"), headers=console)
    assert put.status_code == 200, put.text
    assert put.json() == example("endpoint-get")
    assert (await client.get("/api/v1/client/webhook", headers=console)).json() == example("endpoint-get")
    async with database.transaction() as connection:  # back to the receiver (the API wants https)
        await connection.execute("UPDATE partners SET webhook_url = $2 WHERE id = $1", partner.partner_id, receiver.url)

    paid_id, expired_id, paid_order = await _payment_events(database, partner.partner_id)
    sent = await client.post("/api/v1/client/webhooks/test", headers=console)
    assert sent.status_code == 201, sent.text
    assert_same_shape(example("test-response"), sent.json(), "test-response")
    test_id = uuid.UUID(sent.json()["id"])
    ids = [paid_id, expired_id, test_id]

    # The delivery log's filters as the guide writes them, while all three wait.
    (method, target, _), _, _ = http_example("deliveries-request")
    path, query = urlsplit(target).path, dict(parse_qsl(urlsplit(target).query, strict_parsing=True))
    assert method == "GET"
    assert datetime.fromisoformat(query["since"]).utcoffset() == timedelta(hours=7)  # the + was written %2B
    assert (await client.get(target, headers=console)).status_code == 200
    an_hour_ago = (utcnow() - timedelta(hours=1)).astimezone(JAKARTA).replace(microsecond=0).isoformat()
    pending = await client.get(f"{path}?{urlencode(query | {'since': an_hour_ago})}", headers=console)
    assert pending.status_code == 200, pending.text
    assert [d["id"] for d in pending.json()] == [str(i) for i in reversed(ids)]  # newest first
    by_type = {d["eventType"]: d for d in pending.json()}
    for documented in example("deliveries-response"):
        assert_same_shape(documented, by_type[documented["eventType"]], "deliveries-response")
    by_order = await client.get(path, params={"objectId": str(paid_order)}, headers=console)
    assert [d["id"] for d in by_order.json()] == [str(paid_id)]

    receiver.plan = [(503, {"Retry-After": "1"})]  # the first attempt (payment.paid, FIFO) is refused once
    async with start_worker():
        await wait_for(lambda: _all_delivered(database, ids), what="the three deliveries")
        arrivals = {event_id: _last_arrival(receiver, event_id) for event_id in ids}

        # A rotation: both secrets sign the next event; X-Callback-Signature only the new one.
        rotated = await client.post(
            "/api/v1/client/webhook-secret/rotate", json=example("rotate-body"), headers=console
        )
        assert rotated.status_code == 200, rotated.text
        assert_same_shape(example("rotate-response"), rotated.json(), "rotate-response")
        new_secret = rotated.json()["webhookSecret"]
        [after_rotation] = await emit(partner.partner_id)
        await wait_for(lambda: _all_delivered(database, [after_rotation]), what="the delivery after the rotation")

        # A resend: the same webhook-id and body, signed afresh.
        resent = await client.post(f"/api/v1/client/webhooks/deliveries/{test_id}/resend", headers=console)
        assert resent.status_code == 200, resent.text
        await wait_for(lambda: _delivered_twice(database, receiver, test_id), what="the resent test event")

    # What arrived is what the guide shows.
    headers_sent = {name.lower() for name in arrivals[paid_id].headers}
    _, vector_headers, _ = http_example("test-vector")
    assert {name.lower() for name in vector_headers} - {"host"} <= headers_sent
    assert {name.lower() for name in signed_headers("x", b"", [secret], 0)} <= {n.lower() for n in vector_headers}
    for name, event_id in (("payment.paid", paid_id), ("payment.expired", expired_id), ("test", test_id)):
        real = json.loads(arrivals[event_id].body)
        assert_same_shape(example(name), real, name, nulls_must_match=True)
        assert (real["event"], real["id"]) == (name, str(event_id))
    assert json.loads(arrivals[paid_id].body)["paidAt"].endswith("+07:00")
    assert json.loads(arrivals[test_id].body)["message"] == example("test")["message"]
    first_test, second_test = [r for r in receiver.received if r.headers["webhook-id"] == str(test_id)]
    assert first_test.body == second_test.body
    assert int(first_test.headers["webhook-timestamp"]) <= int(second_test.headers["webhook-timestamp"])

    # The guide's code on those real webhooks.
    cases = []
    for name, event_id in (("payment.paid", paid_id), ("payment.expired", expired_id), ("test", test_id)):
        cases += cases_for(arrivals[event_id], secret, name)
    rotation = _last_arrival(receiver, after_rotation)
    rotation_id, rotation_time = rotation.headers["webhook-id"], int(rotation.headers["webhook-timestamp"])
    assert rotation.headers["webhook-signature"].split(" ") == [  # the new secret's first, then the old one's
        signed_headers(rotation_id, rotation.body, [one], rotation_time)["webhook-signature"]
        for one in (new_secret, secret)
    ]
    cases += cases_for(rotation, new_secret, "after a rotation, new secret")
    cases += [
        Case("after a rotation, old secret", "verifyWebhook", secret, rotation.headers, rotation.body, genuine=True),
        Case(
            "after a rotation, X-Callback with the old secret", "verifyCallbackSignature", secret, rotation.headers,
            rotation.body, genuine=False,
        ),
        Case("a resent test event", "verifyWebhook", secret, second_test.headers, second_test.body, genuine=True),
    ]  # fmt: skip
    run_everywhere(cases, tmp_path)

    # The console's answers have the guide's shapes.
    detail = await client.get(f"/api/v1/client/webhooks/deliveries/{paid_id}", headers=console)
    assert detail.status_code == 200, detail.text
    assert_same_shape(example("delivery-detail"), detail.json(), "delivery-detail")
    documented_attempts = [(a["statusCode"], a["outcome"]) for a in example("delivery-detail")["attemptLog"]]
    assert [(a["statusCode"], a["outcome"]) for a in detail.json()["attemptLog"]] == documented_attempts
    replayed = await client.post(
        "/api/v1/client/webhooks/deliveries/replay", json=example("replay-body"), headers=console
    )
    assert replayed.status_code == 200, replayed.text
    assert_same_shape(example("replay-response"), replayed.json(), "replay-response")
    check = "/api/v1/auth/check"
    await client.get(check, headers=signed(partner.api_key, partner.signing_secret, "GET", check))
    await app.state.request_log.flush()
    logs = await client.get("/api/v1/client/api-logs", headers=console)
    assert logs.status_code == 200, logs.text
    by_kind = {entry["kind"]: entry for entry in reversed(logs.json())}
    for documented in example("api-logs-response"):
        assert_same_shape(documented, by_kind[documented["kind"]], "api-logs-response")


async def _all_delivered(database: Database, ids: list[uuid.UUID]) -> bool:
    return set((await statuses(database, ids)).values()) == {"delivered"}


async def _delivered_twice(database: Database, receiver: Receiver, event_id: uuid.UUID) -> bool:
    arrived = sum(r.headers["webhook-id"] == str(event_id) for r in receiver.received)
    return arrived == 2 and await _all_delivered(database, [event_id])
