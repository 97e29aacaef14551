"""The pay-in baselines: the same I/O as gerbang's pay-in paths with none of its logic, and the stub PSP.

- `app`: `POST /payments` reads the order, makes one HTTP call to the PSP stub and one raw asyncpg
  insert, and answers 201; `POST /callbacks/sandbox` checks one HMAC-SHA256 signature and runs one
  UPDATE and one INSERT in one transaction. Bare FastAPI, no middleware.
- `stub`: `POST /api/charges` answers a small JSON charge at once (no database). It speaks enough of the
  sandbox protocol (echoes `merchant_ref` and `amount`, a `charge_id`, a `qr_string`) that gerbang's
  sandbox adapter accepts it too, so gerbang can also be measured against the stub.

    python -m bench.apps.payin_baseline app PORT DATABASE_URL PSP_URL MERCHANT_KEY
    python -m bench.apps.payin_baseline stub PORT
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bench.apps.common import POOL_SIZE, serve
from gerbang.db import asyncpg_dsn

# The baseline's own tables (benchmark database only; created by `bench.payin_seed`).
TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_payin_orders (id UUID PRIMARY KEY, reference TEXT NOT NULL, "
    "amount BIGINT NOT NULL, qr_payload TEXT, status TEXT NOT NULL DEFAULT 'PENDING')",
    "CREATE TABLE IF NOT EXISTS bench_payin_callbacks (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, "
    "order_id UUID NOT NULL)",
)
# A static QRIS string of the usual length, for the stub's answers.
STUB_QR = "00020101021226570011ID.DANA.WWW011893600915000000000102091000000000303UMI51440014ID.CO.QRIS.WWW"
JSON = "application/json"


class PaymentIn(BaseModel):
    amount: int = Field(gt=0, le=1_000_000_000, strict=True)
    method: str = Field(default="qris", pattern="^(qris|va|ewallet)$")
    reference: str = Field(min_length=1, max_length=100)


def build_app(database_url: str, psp_url: str, merchant_key: str) -> FastAPI:
    pool: asyncpg.Pool | None = None
    session: aiohttp.ClientSession | None = None
    key = merchant_key.encode()
    charges_url = psp_url.rstrip("/") + "/api/charges"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal pool, session
        pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=POOL_SIZE, max_size=POOL_SIZE)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        yield
        await session.close()
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/payments", status_code=201)
    async def create_payment(body: PaymentIn) -> Response:
        assert pool is not None
        assert session is not None
        order_id = uuid.uuid4()
        charge_request = {"merchant_ref": str(order_id), "amount": body.amount, "method": body.method}
        async with session.post(charges_url, json=charge_request) as answer:
            charge = orjson.loads(await answer.read())
        await pool.execute(
            "INSERT INTO bench_payin_orders (id, reference, amount, qr_payload) VALUES ($1, $2, $3, $4)",
            order_id, body.reference, body.amount, charge["qr_string"],
        )  # fmt: skip
        result = {"orderId": str(order_id), "reference": body.reference, "status": "PENDING",
                  "qrPayload": charge["qr_string"], "amount": body.amount}  # fmt: skip
        return Response(orjson.dumps({"success": True, "result": result}), 201, media_type=JSON)

    @app.post("/callbacks/sandbox")
    async def callback(request: Request) -> Response:
        assert pool is not None
        body = await request.body()
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-sandbox-signature", "").encode(), expected.encode()):
            return Response(b'{"received":false}', 401, media_type=JSON)
        event = orjson.loads(body)
        async with pool.acquire() as connection, connection.transaction():
            order_id = await connection.fetchval(
                "UPDATE bench_payin_orders SET status = 'PAID' WHERE id = $1 AND status = 'PENDING' RETURNING id",
                uuid.UUID(event["merchant_ref"]),
            )
            await connection.execute(
                "INSERT INTO bench_payin_callbacks (event_id, order_id) VALUES ($1, $2)",
                event["event_id"], order_id or uuid.UUID(event["merchant_ref"]),
            )  # fmt: skip
        return Response(b'{"received":true}', 200, media_type=JSON)

    return app


def build_stub() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/charges", status_code=201)
    async def charge(request: Request) -> Response:
        asked = orjson.loads(await request.body())
        answer = {"charge_id": "stub_" + secrets.token_hex(12), "merchant_ref": asked["merchant_ref"],
                  "amount": asked["amount"], "status": "PENDING", "qr_string": STUB_QR}  # fmt: skip
        return Response(orjson.dumps(answer), 201, media_type=JSON)

    return app


if __name__ == "__main__":
    if sys.argv[1] == "stub":
        serve(build_stub(), int(sys.argv[2]))
    else:
        serve(build_app(sys.argv[3], sys.argv[4], sys.argv[5]), int(sys.argv[2]))
