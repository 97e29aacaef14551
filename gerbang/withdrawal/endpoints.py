"""Withdrawal routes: server-to-server (`/api/v1/withdrawals/s2s/...`: API key, signature, the S2S and the
partner's IP allow-lists; no console login) and the providers' disbursement callbacks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from gerbang.access import idempotency
from gerbang.auth.dependencies import ServerToServerPartner
from gerbang.db import DbConnection
from gerbang.exceptions import BadRequest, NotFound
from gerbang.loan import service as loan_service
from gerbang.order.service import PayIn
from gerbang.partner import service as partner_service
from gerbang.provider import inbound
from gerbang.provider.piro_common import presented_signature
from gerbang.provider.registry import UnknownProvider, payout_provider
from gerbang.withdrawal import callbacks, repository, service
from gerbang.withdrawal.schemas import (
    AccountCheck,
    Balance,
    BankAccount,
    WithdrawalCreate,
    WithdrawalCreated,
    WithdrawalView,
)
from gerbang.withdrawal.service import Payouts

router = APIRouter(prefix="/withdrawals", tags=["withdrawals"])
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "`duplicate_reference` (with the existing id) or `idempotency_in_progress`"},
    422: {
        "description": "`insufficient_funds`, `amount_out_of_range`, `amount_below_fee`, `invalid_bank_account`, "
        "`unsupported_bank`, `parent_cannot_withdraw`, `no_payout_provider`, `idempotency_mismatch`"
    },
    502: {"description": "`provider_error`: the account could not be checked; nothing was held"},
}


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class UnrecognisedCallback(BadRequest):
    code = "unrecognised_callback"


class MissingCallbackSignature(BadRequest):
    code = "missing_signature"


def payouts_of(request: Request) -> Payouts:
    pay_in: PayIn = request.app.state.pay_in
    return Payouts.from_settings(
        pay_in.database, pay_in.key_ring, pay_in.session, request.app.state.settings, pay_in.public_url
    )


@router.post(
    "/s2s/withdrawals",
    operation_id="withdrawals-s2s_create",
    summary="Pay out to a bank account",
    status_code=201,
    response_model=WithdrawalCreated,
    responses=_CREATE_ERRORS,
)
async def create_withdrawal(
    body: WithdrawalCreate,
    partner: ServerToServerPartner,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    payouts = payouts_of(request)

    async def produce() -> Any:
        created = await service.request(
            payouts, partner.partner_id, body, source="s2s", requested_by=f"api_key:{partner.api_key_id}"
        )
        return orjson.loads(WithdrawalCreated(result=created).model_dump_json(by_alias=True))

    status_code, content = await idempotency.once(
        payouts.database, partner.partner_id, idempotency_key, await request.body(), request.url.path, 201, produce
    )
    return JSONResponse(content, status_code=status_code)


@router.get("/s2s/withdrawals", operation_id="withdrawals-s2s_list", summary="My withdrawals, newest first")
async def list_withdrawals(
    partner: ServerToServerPartner,
    connection: DbConnection,
    status: Annotated[str | None, Query(pattern="^(PENDING|PROCESSING|COMPLETED|FAILED)$")] = None,
    reference: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WithdrawalView]:
    query, values = repository.list_query(
        partner_ids=[partner.partner_id], status=status, reference=reference, since=since, until=until, before=before,
        limit=limit,
    )  # fmt: skip
    return [service.view(row) for row in await query.fetch(connection, **values)]


@router.get(
    "/s2s/withdrawals/{withdrawal_id}",
    operation_id="withdrawals-s2s_get",
    summary="One withdrawal",
    responses={404: {"description": "`withdrawal_not_found`"}},
)
async def get_withdrawal(
    withdrawal_id: uuid.UUID, partner: ServerToServerPartner, connection: DbConnection
) -> WithdrawalView:
    return await service.get_visible(connection, withdrawal_id, [partner.partner_id])


@router.post(
    "/s2s/withdrawals/validate-account",
    operation_id="withdrawals-s2s_validate_account",
    summary="Check a bank account and get its holder's name",
)
async def validate_account(body: BankAccount, _: ServerToServerPartner, request: Request) -> AccountCheck:
    return await service.validate_account(payouts_of(request), body.bank_code, body.account_number)


@router.get("/s2s/balance", operation_id="withdrawals-s2s_balance", summary="My balances")
async def balance(partner: ServerToServerPartner, connection: DbConnection) -> Balance:
    await partner_service.get_partner(connection, partner.partner_id)
    balances = await loan_service.balances_with_advance(connection, partner.partner_id)
    return Balance(
        available=balances.available, pending=balances.pending, held=balances.held,
        advance_outstanding=balances.advance_outstanding,
    )  # fmt: skip


@router.post(
    "/callback/piro",
    operation_id="withdrawals-callback_piro",
    summary="Piro's disbursement callbacks (`x-piro-signature` = MD5(raw body + signature key))",
    tags=["provider callbacks"],
    responses={
        400: {"description": "`missing_signature`: no `x-piro-signature` (or `x-signature`) header"},
        401: {"description": "the callback failed verification; nothing changed"},
    },
)
async def receive_piro_callback(request: Request) -> Response:
    # Registered before the generic route, which would take the path otherwise: the original refused an
    # unsigned Piro callback outright (400), rather than as a failed verification.
    if presented_signature(request.headers) is None:
        raise MissingCallbackSignature("a Piro callback carries its signature in x-piro-signature")
    return await receive_callback("piro", request)


@router.post(
    "/callback/{provider_name}",
    operation_id="withdrawals-callback",
    summary="Provider disbursement callbacks (verified by the provider's own scheme)",
    tags=["provider callbacks"],
    responses={401: {"description": "the callback failed verification; nothing changed"}},
)
async def receive_callback(provider_name: str, request: Request) -> Response:
    try:
        adapter = payout_provider(provider_name)
    except UnknownProvider:
        raise ProviderNotFound(f"no payout provider {provider_name!r}") from None
    inbound.check_source(request, adapter.name)
    ack = await callbacks.receive(payouts_of(request), adapter, await inbound.read(request))
    return Response(ack.body, status_code=ack.status_code, media_type=ack.content_type)


@router.get(
    "/callback/ing1",
    operation_id="withdrawals-callback_ing1",
    summary="ING1's cash-out callbacks, at the original's path: a plain GET, unsigned, so ING1 is asked instead",
    tags=["provider callbacks"],
)
async def receive_ing1_callback(request: Request) -> Response:
    return await receive_callback("ing1", request)


SHARED_CALLBACK_PROVIDERS = ("hilogate", "oy")
"""Who calls back at the original's `/withdrawals/callback`, told apart by payload (each adapter's parse
refuses what is not its own)."""


@router.post(
    "/callback",
    operation_id="withdrawals-callback_shared",
    summary="Hilogate's and Oy!'s disbursement callbacks, at the original's path (told apart by payload)",
    tags=["provider callbacks"],
    responses={400: {"description": "`unrecognised_callback`: neither provider's format"}},
)
async def receive_shared_callback(request: Request) -> Response:
    received = await inbound.read(request)
    for name in SHARED_CALLBACK_PROVIDERS:
        adapter = payout_provider(name)
        try:
            adapter.parse_disbursement_callback(received)
        except ValueError:
            continue
        inbound.check_source(request, adapter.name)
        ack = await callbacks.receive(payouts_of(request), adapter, received)
        return Response(ack.body, status_code=ack.status_code, media_type=ack.content_type)
    raise UnrecognisedCallback("neither a Hilogate nor an Oy! disbursement callback")
