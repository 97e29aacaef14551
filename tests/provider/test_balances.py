"""Provider balances shown to admins per provider account (`GET /api/v1/admin/provider-accounts/{id}/balance`):
asked of the provider at that moment over real HTTP, with the account's own credentials."""

from __future__ import annotations

import uuid

import httpx

from gerbang.sandbox.fakes.genesis import fake_secret as genesis_secret
from gerbang.sandbox.fakes.hilogate import fake_secret
from gerbang.sandbox.payouts import STARTING_BALANCE
from tests.helpers import free_port
from tests.provider.conftest import AddAccount, admin, live

__all__ = ["admin", "live"]


def _path(account: dict[str, str]) -> str:
    return f"/api/v1/admin/provider-accounts/{account['id']}/balance"


async def test_a_provider_with_a_balance_query_is_asked_with_the_accounts_credentials(
    client: httpx.AsyncClient, admin: dict[str, str], add_provider_account: AddAccount
) -> None:
    hilogate = await add_provider_account("hilogate", {"merchantId": "HLG-BAL", "secretKey": fake_secret("HLG-BAL")})
    oy = await add_provider_account("oy", {"username": "gerbang-oy", "apiKey": "oy-api-key-0123456789"})
    # The balance moves with payouts; no payout was made here, so it is the fakes' starting balance.
    for account in (hilogate, oy):
        response = await client.get(_path(account), headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accountId"], body["provider"], body["currency"]) == (account["id"], account["provider"], "IDR")
        assert body["balance"] == STARTING_BALANCE
        assert fake_secret("HLG-BAL") not in response.text


async def test_providers_without_one_say_so_and_an_unreachable_one_is_a_502(
    client: httpx.AsyncClient, admin: dict[str, str], add_provider_account: AddAccount
) -> None:
    ing1 = await add_provider_account("ing1", {"email": "finance@gerbang.test", "password": "ing1-password-0123"})
    genesis = await add_provider_account("genesis", {"clientId": "GEN-1", "clientSecret": genesis_secret("GEN-1")})
    for account in (ing1, genesis):
        response = await client.get(_path(account), headers=admin)
        assert (response.status_code, response.json()["error"]) == (422, "balance_not_offered"), response.text
    unreachable = await add_provider_account(
        "hilogate", {"merchantId": "HLG-OFF", "secretKey": fake_secret("HLG-OFF")}, "Gone",
        baseUrl=f"http://127.0.0.1:{free_port()}",
    )  # fmt: skip
    response = await client.get(_path(unreachable), headers=admin)
    assert (response.status_code, response.json()["error"]) == (502, "provider_unavailable")
    missing = await client.get(f"/api/v1/admin/provider-accounts/{uuid.uuid4()}/balance", headers=admin)
    assert (missing.status_code, missing.json()["error"]) == (404, "provider_account_not_found")
