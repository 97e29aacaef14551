from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.auth.people import Tenant
from tests.order.conftest import Post, add_account, admin, live, post, shop

__all__ = ["add_account", "admin", "live", "post", "shop"]  # the order tests' fixtures, shared here

MakeOrder = Callable[..., Awaitable[dict[str, Any]]]
AddAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def sandbox(add_account: AddAccount) -> dict[str, Any]:
    """A sandbox provider account for every method, reached over real HTTP."""
    return await add_account()


@pytest.fixture
def make_order(post: Post, shop: Tenant) -> MakeOrder:
    """An order of `shop`'s through the partner API: with a method, or (`pick=True`) left for the checkout."""

    async def make(*, pick: bool = False, **body: Any) -> dict[str, Any]:
        path = "/api/v1/payments/create-order" if pick else "/api/v1/payments"
        response = await post(shop, path, {"amount": 150_000} | body)
        assert response.status_code == 201, response.text
        return dict(response.json()["result"])

    return make


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the picker has no CSRF field"
    return match.group(1)
