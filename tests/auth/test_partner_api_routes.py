"""Every `/api/v1` route outside the two consoles is either authenticated as a partner (API key, and a
signature where money moves) or on the short written list of public routes. A new route fails here until
it declares its authentication or is added, deliberately, to PUBLIC_ROUTES."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from gerbang.auth.dependencies import current_partner_user, partner_request, server_to_server_partner, signed_partner
from tests.helpers import app_routes

PARTNER_AUTHENTICATION = {partner_request, signed_partner, server_to_server_partner}
# Providers call the callback routes (each adapter verifies its own signature); customers open the QR.
PUBLIC_ROUTES = {
    ("POST", "/api/v1/transaction/callback/{provider_name}"),
    ("POST", "/api/v1/transaction/callback"),
    ("POST", "/api/v1/transactions/callback"),
    ("POST", "/api/v1/withdrawals/callback/{provider_name}"),
    ("POST", "/api/v1/withdrawals/callback"),
    ("POST", "/api/v1/withdrawals/callback/piro"),
    ("GET", "/api/v1/transaction/callback/ing1"),
    ("GET", "/api/v1/withdrawals/callback/ing1"),
    ("GET", "/api/v1/qris/{order_id}"),
}
CONSOLE_PREFIXES = ("/api/v1/admin/", "/api/v1/client/", "/api/v1/auth/")
# The partner console's withdrawal routes also answer at the original's `/api/v1/withdrawals` paths, with the
# console's login and permissions (their twins under /client are in the role matrix).
CONSOLE_ALIAS = "/api/v1/withdrawals"


def _calls(dependant: Any) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _partner_api_routes(app: FastAPI) -> dict[tuple[str, str], set[Any]]:
    routes = {}
    for path, route in app_routes(app):
        # The consoles' routes are covered, role by role, by test_route_permissions.py.
        if path.startswith("/api/v1/") and not path.startswith(CONSOLE_PREFIXES):
            for method in route.methods:
                routes[(method, path)] = _calls(route.dependant)
    return routes


def _console_aliases(app: FastAPI) -> set[tuple[str, str]]:
    twins = "/api/v1/client/withdrawals"
    consoles = {(m, p.replace(twins, CONSOLE_ALIAS, 1)) for m, p in _all_routes(app) if p.startswith(twins)}
    return consoles & set(_partner_api_routes(app))


def _all_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, path) for path, route in app_routes(app) for method in route.methods}


def test_partner_api_routes_authenticate_or_are_listed_public(app: FastAPI) -> None:
    routes = _partner_api_routes(app)
    aliases = _console_aliases(app)
    assert len(aliases) == 6
    for key in aliases:
        assert current_partner_user in routes[key], key  # the console's own authentication
    unauthenticated = {key for key, calls in routes.items() if not calls & PARTNER_AUTHENTICATION} - aliases
    assert unauthenticated == PUBLIC_ROUTES, "authenticate the new route, or list it as public"


async def test_partner_api_routes_refuse_requests_without_a_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    for method, path in sorted(set(_partner_api_routes(app)) - PUBLIC_ROUTES - _console_aliases(app)):
        concrete = re.sub(r"\{\w+\}", "00000000-0000-4000-8000-000000000000", path)
        response = await client.request(method, concrete, content=b"{}")
        assert (response.status_code, response.json()["error"]) == (401, "missing_api_key"), (method, path)
