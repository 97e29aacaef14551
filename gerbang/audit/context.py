"""The audit trail as a route dependency: it knows the actor, the client address and the request id, so
a route only says what happened."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request

from gerbang.audit import service
from gerbang.kit.sql import Connection


class RequestAudit:
    def __init__(self, request: Request) -> None:
        self._request = request

    def _actor(self) -> tuple[str, uuid.UUID | None, str | None, uuid.UUID | None]:
        # Set by the authentication dependency that ran for this route (duck-typed to stay below auth).
        actor = getattr(self._request.state, "actor", None)
        if actor is None:
            return "system", None, None, None
        if hasattr(actor, "api_key_id"):
            return "api_key", actor.api_key_id, None, actor.partner_id
        if hasattr(actor, "partner_id"):
            return "partner_user", actor.id, actor.email, actor.partner_id
        return "admin", actor.id, actor.email, None

    async def record(
        self,
        connection: Connection,
        action: str,
        target_type: str,
        target_id: object | None,
        *,
        partner_id: uuid.UUID | None = None,
        changes: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> None:
        """Write an audit event in the request's transaction: it commits with the change or not at all."""
        actor_type, actor_id, actor_email, actor_partner = self._actor()
        await service.record(
            connection, actor_type=actor_type, actor_id=actor_id, actor_email=actor_email,
            partner_id=partner_id or actor_partner, action=action, target_type=target_type,
            target_id=None if target_id is None else str(target_id), changes=changes or {},
            ip=getattr(self._request.state, "client_ip", None),
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
        )  # fmt: skip


AuditTrail = Annotated[RequestAudit, Depends(RequestAudit)]
