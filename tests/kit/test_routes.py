"""`RoutedApp` dispatches and documents exactly as FastAPI's nested routers do, only cheaper."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

import gerbang.app
from gerbang.app import create_app
from gerbang.config import Settings
from gerbang.kit.routes import RoutedApp, RouteGroup, literal_prefix


def _require_token(x_token: str = Header()) -> None:
    if x_token != "ok":
        raise HTTPException(status_code=403, detail="bad token")


def _tree() -> APIRouter:
    """Nested routers giving prefixes, tags, dependencies, responses and hiding at their includes, with
    overlapping paths whose order decides the winner."""
    items = APIRouter(prefix="/items", tags=["items"])

    @items.get("/special", operation_id="items-special")
    async def special() -> dict[str, str]:
        return {"route": "special"}

    @items.get("/{item_id}", operation_id="items-get")
    async def get_item(item_id: int) -> dict[str, Any]:
        return {"route": "item", "id": item_id}

    @items.post("/{item_id}", operation_id="items-post", status_code=201)
    async def post_item(item_id: int) -> dict[str, Any]:
        return {"route": "posted", "id": item_id}

    hidden = APIRouter()

    @hidden.get("/hidden", operation_id="hidden")
    async def hidden_route() -> dict[str, str]:
        return {"route": "hidden"}

    guarded = APIRouter()

    @guarded.get("/guarded", operation_id="guarded")
    async def guarded_route() -> dict[str, str]:
        return {"route": "guarded"}

    catch_all = APIRouter()

    @catch_all.get("/{anything}/{item_id}", operation_id="catch-all")
    async def anything(anything: str, item_id: str) -> dict[str, str]:
        return {"route": "catch-all", "anything": anything}

    v1 = APIRouter(prefix="/v1")
    v1.include_router(items)
    v1.include_router(hidden, include_in_schema=False)
    v1.include_router(guarded, tags=["guarded"], dependencies=[Depends(_require_token)], responses={403: {}})
    v1.include_router(catch_all)
    top = APIRouter()
    top.include_router(v1, prefix="/api")
    return top


def _apps() -> tuple[FastAPI, RoutedApp]:
    nested = FastAPI(title="t", version="1")
    nested.include_router(_tree())
    routed = RoutedApp(title="t", version="1")
    routed.include_router(_tree())
    return nested, routed


REQUESTS = [
    ("GET", "/api/v1/items/special", {}),
    ("GET", "/api/v1/items/7", {}),
    ("GET", "/api/v1/items/seven", {}),  # the int path parameter fails validation: 422
    ("POST", "/api/v1/items/7", {}),
    ("DELETE", "/api/v1/items/7", {}),  # the path matches, the method does not: 405
    ("GET", "/api/v1/hidden", {}),
    ("GET", "/api/v1/guarded", {"x-token": "ok"}),
    ("GET", "/api/v1/guarded", {"x-token": "no"}),
    ("GET", "/api/v1/other/7", {}),  # only the catch-all, after the groups it shares no prefix with
    ("GET", "/api/v1/items", {}),
    ("GET", "/api/v1/items/7/", {}),  # redirect_slashes
    ("GET", "/nowhere", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
async def test_a_request_reaches_the_same_route_with_the_same_answer(
    method: str, path: str, headers: dict[str, str]
) -> None:
    answers = []
    for app in _apps():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.request(method, path, headers=headers)
        answers.append(
            (response.status_code, response.headers.get("allow"), response.headers.get("location"), response.text)
        )
    assert answers[0] == answers[1]


def test_the_openapi_document_is_the_same() -> None:
    nested, routed = _apps()
    assert json.dumps(routed.openapi(), sort_keys=True) == json.dumps(nested.openapi(), sort_keys=True)
    assert "/api/v1/hidden" not in routed.openapi()["paths"]
    assert routed.openapi()["paths"]["/api/v1/guarded"]["get"]["tags"] == ["guarded"]


def test_dispatch_tries_groups_by_literal_prefix() -> None:
    _, routed = _apps()
    (api,) = [route for route in routed.router.routes if isinstance(route, RouteGroup)]
    assert api.prefix == "/api"
    assert [group.prefix for group in api.routes] == ["/api/v1/items", "/api/v1/hidden", "/api/v1/guarded", "/api/v1"]  # type: ignore[attr-defined]
    assert literal_prefix("/api/v1/items/{id}/x", 3) == "/api/v1/items"
    assert literal_prefix("/{anything}", 3) == ""
    assert routed.url_path_for("get_item", item_id="3") == "/api/v1/items/3"


def test_a_router_included_late_is_dispatched_and_documented() -> None:
    _, routed = _apps()
    routed.openapi()
    late = APIRouter()

    @late.get("/late", operation_id="late")
    async def late_route() -> None:
        return None

    routed.include_router(late)
    assert "/late" in routed.openapi()["paths"]


def test_the_gateways_openapi_document_is_what_fastapis_nested_routers_give(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"  # never connected: the app is only built
    routed = create_app(settings, url)
    monkeypatch.setattr(gerbang.app, "RoutedApp", FastAPI)
    nested = create_app(settings, url)
    assert not isinstance(nested, RoutedApp)
    assert json.dumps(routed.openapi(), sort_keys=True) == json.dumps(nested.openapi(), sort_keys=True)
