"""The partner API for pay-ins (paths compatible with the original system)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gerbang.access import idempotency
from gerbang.auth.dependencies import PartnerRequest
from gerbang.db import DbConnection
from gerbang.exceptions import NotFound
from gerbang.order import callbacks, service, status_check
from gerbang.order.schemas import OrderView, PaymentCreate, PaymentCreated, PaymentResult
from gerbang.order.service import PayIn, checkout_url
from gerbang.provider import inbound
from gerbang.provider.registry import UnknownProvider, provider

router = APIRouter(tags=["payments"])

_CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    303: {"description": "`flow: redirect`: `Location` is the hosted checkout"},
    409: {"description": "`duplicate_reference` (with the existing order id) or `idempotency_in_progress`"},
    422: {"description": "`no_provider_available`, `method_not_allowed`, `channel_required`, `idempotency_mismatch`"},
    502: {"description": "`provider_error`: every provider account failed; the order is FAILED"},
}


class ProviderNotFound(NotFound):
    code = "provider_not_found"


IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _result(pay_in: PayIn, order: OrderView) -> PaymentResult:
    return PaymentResult(
        order_id=order.id, reference=order.reference, status=order.status,
        checkout_url=checkout_url(pay_in.public_url, order.id), qr_payload=order.qr_payload,
        va_number=order.va_number, redirect_url=order.redirect_url, amount=order.amount, expires_at=order.expires_at,
        player_id=order.player_id,
    )  # fmt: skip


async def _create(
    request: Request, partner_id: uuid.UUID, body: PaymentCreate, key: str | None, *, with_method: bool
) -> Response:
    pay_in: PayIn = request.app.state.pay_in

    async def produce() -> Any:
        order = await service.create_order(pay_in, partner_id, body, with_method=with_method)
        return orjson.loads(PaymentCreated(result=_result(pay_in, order)).model_dump_json(by_alias=True))

    status_code, content = await idempotency.once(
        pay_in.database, partner_id, key, await request.body(), request.url.path, 201, produce
    )
    return _response(body.flow, status_code, content)


def _response(flow: str, status_code: int, content: Any) -> Response:
    if flow == "redirect" and status_code == 201:
        return RedirectResponse(content["result"]["checkoutUrl"], status_code=303)
    return JSONResponse(content, status_code=status_code)


@router.post(
    "/payments",
    operation_id="payments-create",
    summary="Create a pay-in with a chosen method",
    status_code=201,
    response_model=PaymentCreated,
    responses=_CREATE_ERRORS,
)
async def create_payment(
    body: PaymentCreate, partner: PartnerRequest, request: Request, idempotency_key: IdempotencyKeyHeader = None
) -> Response:
    return await _create(request, partner.partner_id, body, idempotency_key, with_method=True)


@router.post(
    "/payments/create-order",
    operation_id="payments-create_order",
    summary="Create a pay-in; the customer picks the method on the hosted checkout",
    status_code=201,
    response_model=PaymentCreated,
    responses=_CREATE_ERRORS,
)
async def create_order(
    body: PaymentCreate, partner: PartnerRequest, request: Request, idempotency_key: IdempotencyKeyHeader = None
) -> Response:
    return await _create(request, partner.partner_id, body, idempotency_key, with_method=False)


@router.get(
    "/payments/order/{order_id}",
    operation_id="payments-order",
    summary="An order (yours or a child partner's)",
    responses={404: {"description": "`order_not_found`"}},
)
async def get_order(order_id: uuid.UUID, partner: PartnerRequest, connection: DbConnection) -> OrderView:
    return await service.get_visible_order(connection, order_id, partner.partner_id)


@router.get(
    "/payments/order/{order_id}/status",
    operation_id="payments-order_status",
    summary="An order's status",
    description="For a PENDING order not checked in the last 30 seconds, the provider is asked first, so a "
    "lost callback cannot leave a paid order pending.",
    responses={404: {"description": "`order_not_found`"}},
)
async def get_order_status(order_id: uuid.UUID, partner: PartnerRequest, request: Request) -> dict[str, Any]:
    pay_in: PayIn = request.app.state.pay_in
    async with pay_in.database.transaction() as connection:  # not held while the provider answers
        order = await service.get_visible_order(connection, order_id, partner.partner_id)
    if order.status == "PENDING" and await status_check.refresh_from_provider(pay_in, order_id):
        order = await service.get_order(pay_in.database, order_id)
    return {"success": True, "result": {"orderId": str(order.id), "status": order.status}}


@router.post(
    "/transaction/callback/{provider_name}",
    operation_id="callbacks-receive",
    summary="Provider callbacks (verified by the provider's own scheme)",
    tags=["provider callbacks"],
    responses={
        401: {"description": "the callback failed verification; nothing changed"},
        404: {"description": "`provider_not_found`"},
    },
)
async def receive_callback(provider_name: str, request: Request) -> Response:
    try:
        adapter = provider(provider_name)
    except UnknownProvider:
        raise ProviderNotFound(f"no provider {provider_name!r}") from None
    inbound.check_source(request, adapter.name)
    ack = await callbacks.receive(request.app.state.pay_in, adapter, await inbound.read(request))
    return Response(ack.body, status_code=ack.status_code, media_type=ack.content_type)


@router.post(
    "/transactions/callback",
    operation_id="callbacks-hilogate",
    summary="Hilogate's pay-in callbacks, at the original's path (`X-Signature`, then Hilogate is asked)",
    tags=["provider callbacks"],
    responses={401: {"description": "the callback failed verification; nothing changed"}},
)
async def receive_hilogate_callback(request: Request) -> Response:
    return await receive_callback("hilogate", request)


@router.post(
    "/transaction/callback",
    operation_id="callbacks-hilogate_singular",
    summary="Hilogate's pay-in callbacks, at the original's singular path",
    tags=["provider callbacks"],
    responses={401: {"description": "the callback failed verification; nothing changed"}},
)
async def receive_hilogate_callback_singular(request: Request) -> Response:
    return await receive_callback("hilogate", request)


@router.get(
    "/transaction/callback/ing1",
    operation_id="callbacks-ing1",
    summary="ING1's pay-in callbacks, at the original's path: a plain GET, unsigned, so ING1 is asked instead",
    tags=["provider callbacks"],
    responses={400: {"description": "not an ING1 callback"}},
)
async def receive_ing1_callback(request: Request) -> Response:
    return await receive_callback("ing1", request)
