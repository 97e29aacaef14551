"""Health, readiness, metrics, request ids and the error envelope, through the real app and database."""

from __future__ import annotations

import httpx
import pytest
from alembic import command
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from structlog.testing import capture_logs

from gerbang.app import create_app
from gerbang.config import Settings
from gerbang.exceptions import Conflict
from gerbang.migration import alembic_config, head_revision


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_migration_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migration": head_revision()}


async def test_readyz_is_503_when_schema_is_behind(client: httpx.AsyncClient, database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "error": "not_ready",
        "detail": f"database has no schema; run `gerbang migrate` (head is {head_revision()})",
    }


async def test_readyz_is_503_when_database_unreachable(settings: Settings) -> None:
    unreachable = "postgresql+asyncpg://postgres@/gerbang?host=/nonexistent-socket-dir&port=5432"
    app = create_app(settings, unreachable)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "not_ready"
    assert "unreachable" in response.json()["detail"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path/123")
    text = (await client.get("/metrics")).text
    assert 'gerbang_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'gerbang_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'gerbang_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/healthz"}' in text
    assert "/no/such/path" not in text
    assert 'python_gc_collections_total{generation="2"}' in text


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("abc-123.XYZ:9_z", True), ("x" * 129, False), ("has space", False), ("semi;colon", False)],
)
async def test_request_id_is_echoed_only_when_sane(client: httpx.AsyncClient, sent: str, echoed: bool) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": sent})
    returned = response.headers["X-Request-ID"]
    assert (returned == sent) is echoed
    if not echoed:
        assert len(returned) == 32


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["X-Request-ID"]
    second = (await client.get("/healthz")).headers["X-Request-ID"]
    assert first != second


async def test_not_found_and_method_not_allowed_use_the_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong_method = await client.post("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method_not_allowed", "detail": "Method Not Allowed"}


class _Item(BaseModel):
    amount: int = Field(gt=0)
    reference: str


class _ItemTaken(Conflict):
    code = "item_taken"


def _probe_router() -> APIRouter:
    router = APIRouter()

    @router.post("/probe/items")
    async def create_item(item: _Item) -> _Item:
        return item

    @router.post("/probe/taken")
    async def taken() -> None:
        raise _ItemTaken("the item is taken")

    @router.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals must not leak")

    return router


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    app.include_router(_probe_router())
    return app


async def test_validation_error_lists_fields(probe_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/probe/items", json={"amount": -5})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert {(f["field"], f["location"]) for f in body["fields"]} == {("amount", "body"), ("reference", "body")}
    assert "amount" in body["detail"]


async def test_malformed_json_is_a_validation_error(probe_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/probe/items", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_domain_error_renders_its_status_and_code(probe_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/probe/taken")
    assert response.status_code == 409
    assert response.json() == {"error": "item_taken", "detail": "the item is taken"}


async def test_unhandled_error_is_a_500_envelope_without_internals(
    probe_app: FastAPI, client: httpx.AsyncClient
) -> None:
    with capture_logs() as logs:
        response = await client.get("/probe/boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "An unexpected error occurred.",
        "request_id": "trace-me",
    }
    assert response.headers["X-Request-ID"] == "trace-me"
    assert "secret internals" not in response.text
    [error] = [line for line in logs if line["event"] == "http.unhandled_error"]
    assert error["log_level"] == "error"
    assert error["exc_info"] is True  # the traceback goes to the log, never to the client
    access = [line for line in logs if line["event"] == "http.request"]
    assert access[0]["status"] == 500
    assert access[0]["route"] == "/probe/boom"


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "gerbang"
    assert "/readyz" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
