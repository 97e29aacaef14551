"""Webhook routes: the partner console's (`/api/v1/client/...`, own partner; reads reach its children) and
the admin console's (`/api/v1/admin/...`, every partner). Each declares its permission (docs/security.md)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from gerbang.access import service as access_service
from gerbang.audit.context import AuditTrail
from gerbang.audit.service import changes_between
from gerbang.auth.permissions import PartnerPermission, Permission, require, require_partner
from gerbang.auth.sessions import AdminPrincipal, PartnerUserPrincipal
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow
from gerbang.partner import service as partner_service
from gerbang.webhook import service
from gerbang.webhook.schemas import (
    ApiLogEntry,
    Delivery,
    DeliveryDetail,
    DeliveryStatus,
    Replayed,
    ReplayRequest,
    TestEvent,
    WebhookEndpoint,
    WebhookEndpointChanges,
)

# Included by the two consoles' routers (`/api/v1/client`, `/api/v1/admin`).
client_router = APIRouter(tags=["partner console: webhooks"])
admin_router = APIRouter(tags=["admin: webhooks"])

Developer = Annotated[PartnerUserPrincipal, Depends(require_partner(PartnerPermission.developer))]
LogsRead = Annotated[AdminPrincipal, Depends(require(Permission.logs_read))]
PartnersRead = Annotated[AdminPrincipal, Depends(require(Permission.partners_read))]
WebhooksReplay = Annotated[AdminPrincipal, Depends(require(Permission.webhooks_replay))]
Limit = Annotated[int, Query(ge=1, le=500)]


@dataclass
class DeliveryFilters:
    """The delivery log's filters, the same for partners and admins."""

    event_type: Annotated[str | None, Query(alias="eventType", max_length=40)] = None
    status: DeliveryStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    object_id: Annotated[uuid.UUID | None, Query(alias="objectId", description="An order or withdrawal id")] = None
    before_sequence: Annotated[int | None, Query(alias="beforeSequence", ge=1)] = None
    limit: Limit = 100

    def values(self) -> dict[str, Any]:
        return asdict(self)


Filters = Annotated[DeliveryFilters, Depends()]


@client_router.get("/webhook", operation_id="partner_user-webhook_get", summary="My webhook endpoint")
async def get_endpoint(user: Developer, connection: DbConnection) -> WebhookEndpoint:
    return await service.get_endpoint(connection, user.partner_id)


@client_router.put(
    "/webhook",
    operation_id="partner_user-webhook_set",
    summary="Change my webhook endpoint: URL, subscribed events, FIFO, on/off",
)
async def change_endpoint(
    body: WebhookEndpointChanges, user: Developer, request: Request, connection: DbConnection, audit: AuditTrail
) -> WebhookEndpoint:
    before, after = await service.change_endpoint(
        connection, user.partner_id, body, require_https=request.app.state.settings.webhooks_require_https,
        now=utcnow(),
    )  # fmt: skip
    await audit.record(
        connection, "partner.webhook_endpoint_changed", "partner", user.partner_id,
        changes=changes_between(before.model_dump(), after.model_dump()),
    )  # fmt: skip
    return after


@client_router.post(
    "/webhooks/test", operation_id="partner_user-webhooks_test", summary="Send a `test` event", status_code=201
)
async def send_test(user: Developer, connection: DbConnection, audit: AuditTrail) -> TestEvent:
    event_id = await service.send_test(connection, user.partner_id, utcnow())
    await audit.record(connection, "webhook.test_sent", "webhook_event", event_id)
    return TestEvent(id=event_id)


@client_router.get(
    "/webhooks/deliveries", operation_id="partner_user-webhooks_deliveries", summary="My webhook events, newest first"
)
async def list_deliveries(user: Developer, connection: DbConnection, filters: Filters) -> list[Delivery]:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return await service.list_deliveries(connection, partner_ids=visible, **filters.values())


@client_router.get(
    "/webhooks/deliveries/{event_id}",
    operation_id="partner_user-webhooks_delivery",
    summary="One webhook event with every attempt",
    responses={404: {"description": "`delivery_not_found`"}},
)
async def get_delivery(event_id: uuid.UUID, user: Developer, connection: DbConnection) -> DeliveryDetail:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    return await service.get_delivery(connection, event_id, partner_ids=visible)


@client_router.post(
    "/webhooks/deliveries/{event_id}/resend",
    operation_id="partner_user-webhooks_resend",
    summary="Send one event again now (freshly signed)",
    responses={404: {"description": "`delivery_not_found`"}, 409: {"description": "`delivery_already_pending`"}},
)
async def resend(event_id: uuid.UUID, user: Developer, connection: DbConnection, audit: AuditTrail) -> DeliveryDetail:
    resent = await service.resend(connection, event_id, partner_ids=[user.partner_id], now=utcnow())
    await audit.record(connection, "webhook.resent", "webhook_event", event_id)
    return resent


@client_router.post(
    "/webhooks/deliveries/replay",
    operation_id="partner_user-webhooks_replay",
    summary="Send again every dead-lettered (or other) event of a time range",
)
async def replay(body: ReplayRequest, user: Developer, connection: DbConnection, audit: AuditTrail) -> Replayed:
    count = await service.replay(
        connection, user.partner_id, statuses=body.statuses, since=body.since, until=body.until, now=utcnow()
    )
    await audit.record(connection, "webhook.replayed", "partner", user.partner_id, changes={"replayed": (0, count)})
    return Replayed(replayed=count)


@client_router.get(
    "/api-logs",
    operation_id="partner_user-api_logs",
    summary="My API requests and the webhook attempts to me, together, newest first",
)
async def api_logs(
    user: Developer, connection: DbConnection, before: datetime | None = None, limit: Limit = 100
) -> list[ApiLogEntry]:
    visible = await partner_service.visible_partner_ids(connection, user.partner_id)
    requests = await access_service.list_request_logs(connection, partner_ids=visible, before=before, limit=limit)
    return await service.api_log(connection, requests, visible, before, limit)


@admin_router.get(
    "/webhooks/deliveries", operation_id="admin-webhooks_deliveries", summary="Webhook events of every partner"
)
async def admin_list_deliveries(
    _: LogsRead,
    connection: DbConnection,
    filters: Filters,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
) -> list[Delivery]:
    partner_ids = [partner_id] if partner_id else None
    return await service.list_deliveries(connection, partner_ids=partner_ids, **filters.values())


@admin_router.get(
    "/webhooks/deliveries/{event_id}",
    operation_id="admin-webhooks_delivery",
    summary="One webhook event with every attempt",
    responses={404: {"description": "`delivery_not_found`"}},
)
async def admin_get_delivery(event_id: uuid.UUID, _: LogsRead, connection: DbConnection) -> DeliveryDetail:
    return await service.get_delivery(connection, event_id, partner_ids=None)


@admin_router.post(
    "/webhooks/deliveries/{event_id}/resend",
    operation_id="admin-webhooks_resend",
    summary="Send one event again now (freshly signed)",
    responses={404: {"description": "`delivery_not_found`"}, 409: {"description": "`delivery_already_pending`"}},
)
async def admin_resend(
    event_id: uuid.UUID, _: WebhooksReplay, connection: DbConnection, audit: AuditTrail
) -> DeliveryDetail:
    resent = await service.resend(connection, event_id, partner_ids=None, now=utcnow())
    await audit.record(connection, "webhook.resent", "webhook_event", event_id, partner_id=resent.partner_id)
    return resent


@admin_router.post(
    "/partners/{partner_id}/webhooks/replay",
    operation_id="admin-webhooks_replay",
    summary="Send again every dead-lettered (or other) event of a partner in a time range",
)
async def admin_replay(
    partner_id: uuid.UUID, body: ReplayRequest, _: WebhooksReplay, connection: DbConnection, audit: AuditTrail
) -> Replayed:
    await partner_service.get_partner(connection, partner_id)
    count = await service.replay(
        connection, partner_id, statuses=body.statuses, since=body.since, until=body.until, now=utcnow()
    )
    await audit.record(
        connection, "webhook.replayed", "partner", partner_id, partner_id=partner_id, changes={"replayed": (0, count)}
    )
    return Replayed(replayed=count)


@admin_router.get(
    "/partners/{partner_id}/webhook", operation_id="admin-partners_webhook", summary="A partner's webhook endpoint"
)
async def admin_get_endpoint(partner_id: uuid.UUID, _: PartnersRead, connection: DbConnection) -> WebhookEndpoint:
    return await service.get_endpoint(connection, partner_id)
