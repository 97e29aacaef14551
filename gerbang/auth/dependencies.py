"""FastAPI dependencies that authenticate partner API requests. Routes declare them; nobody hand-checks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from gerbang.access.allow_lists import S2S, AllowLists
from gerbang.access.request_log import PartnerRequest as LoggedRequest
from gerbang.auth import service, sessions
from gerbang.auth.service import AuthenticatedPartner
from gerbang.auth.sessions import AdminPrincipal, PartnerUserPrincipal
from gerbang.auth.signing import SignedRequest
from gerbang.auth.tokens import AccessClaims, Audience, read_access_token
from gerbang.db import Database, DbConnection
from gerbang.exceptions import Forbidden, Unauthorized
from gerbang.kit.time import utcnow


class MissingToken(Unauthorized):
    code = "missing_token"


def _path_as_sent(request: Request) -> str:
    # The signature covers the path the partner sent, before any percent-decoding, without the query.
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return raw.split(b"?", 1)[0].decode("latin-1")


class IpNotAllowed(Forbidden):
    code = "ip_not_allowed"


async def _authenticate(
    request: Request, *, unsigned_allowed: bool, scopes: tuple[str, ...] = ()
) -> AuthenticatedPartner:
    """Outside the route's work, committed before the route runs: a seen signature stays seen even if
    the request then fails, and a route that calls a provider holds no connection while it waits. The
    key is read and the signature remembered by one statement each, with no transaction around them
    (each commits on its own; a key read needs no commit)."""
    body = await request.body()
    signed = SignedRequest(
        method=request.method,
        path=_path_as_sent(request),
        timestamp=request.headers.get("x-timestamp"),
        body=body,
        signature=request.headers.get("x-signature"),
    )

    def identified(partner_id: uuid.UUID, api_key_id: uuid.UUID) -> None:
        request.state.partner_request = LoggedRequest(partner_id, api_key_id, body)

    database: Database = request.app.state.database
    async with database.connection() as connection:
        partner = await service.authenticate(
            connection,
            request.app.state.key_ring,
            api_key=request.headers.get("x-api-key"),
            request=signed,
            now=utcnow(),
            unsigned_allowed=unsigned_allowed,
            identified=identified,
            keys=request.app.state.api_key_cache,
        )
    lists: AllowLists = request.app.state.allow_lists
    client_ip: str | None = getattr(request.state, "client_ip", None)
    for allow_list in (lists.partner(partner.partner_id), *(lists.scope(name) for name in scopes)):
        if not allow_list.is_empty and (client_ip is None or not allow_list.allows(client_ip)):
            raise IpNotAllowed(f"requests from {client_ip} are not allowed for this API key")
    request.state.actor = partner
    return partner


async def signed_partner(request: Request) -> AuthenticatedPartner:
    """Always signed: withdrawals and anything else that moves money out."""
    return await _authenticate(request, unsigned_allowed=False)


async def partner_request(request: Request) -> AuthenticatedPartner:
    """Signed, or unsigned for partners whose legacy integration is allowed to skip the signature."""
    return await _authenticate(request, unsigned_allowed=True)


async def server_to_server_partner(request: Request) -> AuthenticatedPartner:
    """Signed, from an address on the partner's list and on the platform's S2S list (payouts)."""
    return await _authenticate(request, unsigned_allowed=False, scopes=(S2S,))


SignedPartner = Annotated[AuthenticatedPartner, Depends(signed_partner)]
ServerToServerPartner = Annotated[AuthenticatedPartner, Depends(server_to_server_partner)]
PartnerRequest = Annotated[AuthenticatedPartner, Depends(partner_request)]


def _bearer_claims(request: Request, audience: Audience) -> AccessClaims:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise MissingToken("Authorization: Bearer <access token> is required")
    return read_access_token(request.app.state.settings.secret_keys, audience, token.strip())


async def current_admin(request: Request, connection: DbConnection) -> AdminPrincipal:
    """The admin behind `Authorization: Bearer <access token>`, checked against the database each time."""
    claims = _bearer_claims(request, Audience.admin)
    admin = await sessions.current_admin(connection, claims.subject_id, claims.session_id, utcnow())
    request.state.actor = admin
    return admin


async def current_partner_user(request: Request, connection: DbConnection) -> PartnerUserPrincipal:
    """The partner user behind a partner-audience bearer token; an admin token does not open these routes."""
    claims = _bearer_claims(request, Audience.partner)
    user = await sessions.current_partner_user(connection, claims.subject_id, claims.session_id, utcnow())
    request.state.actor = user
    return user


CurrentAdmin = Annotated[AdminPrincipal, Depends(current_admin)]
CurrentPartnerUser = Annotated[PartnerUserPrincipal, Depends(current_partner_user)]
