"""The withdrawal baseline: the same I/O as gerbang's S2S withdrawal with none of its logic, and its stub PSP.

- `app`: `POST /withdrawals` validates the body gerbang takes, asks the stub PSP about the account (one
  HTTP call), moves the amount from available to held on the partner's balance row (the X-API-Key
  header names it) and inserts the withdrawal, in one raw asyncpg transaction, then sends the
  disbursement to the stub (a second HTTP call) and answers 201. No signature check, no fee rules, no
  ledger, no events. Bare FastAPI, no middleware.
- `stub`: answers `POST /api/account-inquiry` and `POST /api/disbursements` at once (no database), in
  the sandbox's protocol (an account's holder, a disbursement PROCESSING with an id, echoing the
  account, `merchant_ref` and `amount`), so gerbang's sandbox adapter accepts it too and gerbang can be
  measured against it. It never calls back: a withdrawal paid out through it stays PROCESSING.

    python -m bench.apps.withdrawal_baseline app PORT DATABASE_URL PSP_URL
    python -m bench.apps.withdrawal_baseline stub PORT
"""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import aiohttp
import asyncpg
import orjson
from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bench.apps.common import POOL_SIZE, serve
from gerbang.db import asyncpg_dsn

# The baseline's own tables (benchmark database only; created by `bench.withdrawal_seed`).
TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_withdrawal_balances (api_key TEXT PRIMARY KEY, available BIGINT NOT NULL, "
    "held BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS bench_withdrawals (id UUID PRIMARY KEY, api_key TEXT NOT NULL, "
    "reference TEXT NOT NULL, amount BIGINT NOT NULL, bank_code TEXT NOT NULL, account_number TEXT NOT NULL, "
    "holder_name TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'PENDING', UNIQUE (api_key, reference))",
)
JSON = "application/json"
STUB_HOLDER = "BUDI SANTOSO"


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10_000_000_000, strict=True)
    bank_code: str = Field(alias="bankCode", pattern=r"^[A-Z0-9_]{2,16}$")
    account_number: str = Field(alias="accountNumber", pattern=r"^[0-9]{5,20}$")
    reference: str = Field(min_length=1, max_length=100)


def build_app(database_url: str, psp_url: str) -> FastAPI:
    pool: asyncpg.Pool | None = None
    session: aiohttp.ClientSession | None = None
    inquiry_url = psp_url.rstrip("/") + "/api/account-inquiry"
    disbursements_url = psp_url.rstrip("/") + "/api/disbursements"

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

    @app.post("/withdrawals", status_code=201)
    async def create_withdrawal(body: WithdrawalIn, api_key: Annotated[str, Header(alias="X-API-Key")]) -> Response:
        assert pool is not None
        assert session is not None
        asked = {"bank_code": body.bank_code, "account_number": body.account_number}
        async with session.post(inquiry_url, json=asked) as answer:
            account = orjson.loads(await answer.read())
        withdrawal_id = uuid.uuid4()
        async with pool.acquire() as connection, connection.transaction():
            held = await connection.fetchval(
                "UPDATE bench_withdrawal_balances SET available = available - $2, held = held + $2 "
                "WHERE api_key = $1 AND available >= $2 RETURNING held",
                api_key, body.amount,
            )  # fmt: skip
            if held is None:
                return Response(b'{"success":false,"error":"insufficient_funds"}', 422, media_type=JSON)
            await connection.execute(
                "INSERT INTO bench_withdrawals (id, api_key, reference, amount, bank_code, account_number, "
                "holder_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                withdrawal_id, api_key, body.reference, body.amount, account["bank_code"], body.account_number,
                account["holder_name"],
            )  # fmt: skip
        disbursement = {"merchant_ref": str(withdrawal_id), "amount": body.amount, **asked,
                        "holder_name": account["holder_name"]}  # fmt: skip
        async with session.post(disbursements_url, json=disbursement) as answer:
            paid = orjson.loads(await answer.read())
        result = {"id": str(withdrawal_id), "reference": body.reference, "status": paid["status"],
                  "amount": body.amount, "providerReference": paid["disbursement_id"]}  # fmt: skip
        return Response(orjson.dumps({"success": True, "result": result}), 201, media_type=JSON)

    return app


def build_stub() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/account-inquiry")
    async def inquiry(request: Request) -> Response:
        asked = orjson.loads(await request.body())
        answer = {"bank_code": asked["bank_code"], "account_number": asked["account_number"], "valid": True,
                  "holder_name": STUB_HOLDER, "reason": None}  # fmt: skip
        return Response(orjson.dumps(answer), 200, media_type=JSON)

    @app.post("/api/disbursements", status_code=201)
    async def disbursement(request: Request) -> Response:
        asked = orjson.loads(await request.body())
        answer = {"disbursement_id": "stubd_" + secrets.token_hex(12), "merchant_ref": asked["merchant_ref"],
                  "amount": asked["amount"], "bank_code": asked["bank_code"],
                  "account_number": asked["account_number"], "status": "PROCESSING", "reason": None}  # fmt: skip
        return Response(orjson.dumps(answer), 201, media_type=JSON)

    return app


if __name__ == "__main__":
    if sys.argv[1] == "stub":
        serve(build_stub(), int(sys.argv[2]))
    else:
        serve(build_app(sys.argv[3], sys.argv[4]), int(sys.argv[2]))
