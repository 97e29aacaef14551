"""Login, refresh, logout, password change and 2FA enrolment: the same routes for admins (`/auth/...`)
and partner users (`/client/...`), built by one function so the two cannot drift apart."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gerbang.audit.context import AuditTrail
from gerbang.auth import sessions, two_factor
from gerbang.auth.dependencies import current_admin, current_partner_user
from gerbang.auth.sessions import TokenPair
from gerbang.auth.tokens import Audience
from gerbang.auth.user_repository import ADMINS, PARTNER_USERS
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow


class LoginRequest(BaseModel):
    email: str = Field(max_length=254, examples=["ops@gerbang.example"])
    password: str = Field(max_length=1024)
    otp: str | None = Field(default=None, max_length=32, description="TOTP code or recovery code, when 2FA is on")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(alias="refreshToken", max_length=200)


class Tokens(BaseModel):
    access_token: str = Field(serialization_alias="accessToken")
    refresh_token: str = Field(serialization_alias="refreshToken")
    token_type: str = Field(default="Bearer", serialization_alias="tokenType")
    expires_in: int = Field(serialization_alias="expiresIn")
    """Seconds until the access token expires."""


class PasswordChange(BaseModel):
    current_password: str = Field(alias="currentPassword", max_length=1024)
    new_password: str = Field(alias="newPassword", max_length=1024)
    otp: str | None = Field(default=None, max_length=32, description="A current TOTP code, when 2FA is on")


class TwoFactorSetupRequest(BaseModel):
    proof: str | None = Field(
        default=None, max_length=32, description="A current TOTP code or a recovery code, when 2FA is already on"
    )


class TwoFactorSetup(BaseModel):
    secret: str
    otpauth_uri: str = Field(serialization_alias="otpauthUri")


class TwoFactorConfirm(BaseModel):
    code: str = Field(max_length=16)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(serialization_alias="recoveryCodes")
    """Shown once: each replaces a TOTP code one time."""


class _User(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def session_id(self) -> uuid.UUID: ...


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


def session_router(audience: Audience, prefix: str, current_user: Callable[..., Awaitable[_User]]) -> APIRouter:
    router = APIRouter(
        prefix=prefix, tags=["admin authentication" if audience is Audience.admin else "partner console"]
    )
    users = ADMINS if audience is Audience.admin else PARTNER_USERS
    who = "admin" if audience is Audience.admin else "partner_user"
    # Route signatures are read from strings (postponed annotations), which cannot see this function's
    # locals: the dependency goes in as a default value.
    authenticated = Depends(current_user)

    @router.post(
        "/login",
        operation_id=f"{who}-login",
        summary=f"Log in ({who.replace('_', ' ')})",
        response_model_by_alias=True,
        responses={
            401: {"description": "`invalid_credentials`, `otp_required` or `invalid_otp`"},
            403: {"description": "`account_inactive`"},
            429: {"description": "`rate_limited`"},
        },
    )
    async def login(*, body: LoginRequest, request: Request, connection: DbConnection) -> Tokens:
        settings = request.app.state.settings
        pair = await sessions.login(
            connection, settings.secret_key_value, request.app.state.key_ring, audience, email=body.email,
            password=body.password, otp=body.otp, now=utcnow(),
        )  # fmt: skip
        return _tokens(pair)

    @router.post(
        "/refresh",
        operation_id=f"{who}-refresh",
        summary="New tokens for a refresh token (which is then spent)",
        response_model_by_alias=True,
        responses={401: {"description": "`invalid_refresh_token`"}, 403: {"description": "`account_inactive`"}},
    )
    async def refresh(*, body: RefreshRequest, request: Request, connection: DbConnection) -> Tokens:
        pair = await sessions.refresh(
            connection, request.app.state.settings.secret_key_value, audience=audience,
            refresh_token=body.refresh_token, now=utcnow(),
        )  # fmt: skip
        return _tokens(pair)

    @router.post("/logout", operation_id=f"{who}-logout", summary="End this session", status_code=204)
    async def logout(*, user: _User = authenticated, connection: DbConnection) -> None:
        await sessions.logout(connection, user.session_id, utcnow())

    @router.post(
        "/password",
        operation_id=f"{who}-change_password",
        summary="Change the password (ends every other session)",
        status_code=204,
        responses={
            401: {"description": "`invalid_credentials` or `invalid_otp`"},
            422: {"description": "`weak_password`"},
        },
    )
    async def change_password(
        *,
        body: PasswordChange,
        user: _User = authenticated,
        request: Request,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> None:
        await sessions.change_password(
            connection, request.app.state.key_ring, audience, user_id=user.id, session_id=user.session_id,
            current_password=body.current_password, new_password=body.new_password, otp=body.otp, now=utcnow(),
        )  # fmt: skip
        await audit.record(connection, f"{who}.password_changed", who, user.id, changes={"password": ("***", "***")})

    @router.post(
        "/2fa/setup",
        operation_id=f"{who}-2fa_setup",
        summary="Start enrolling a TOTP authenticator",
        response_model_by_alias=True,
        responses={403: {"description": "`second_factor_required`"}, 401: {"description": "`invalid_otp`"}},
    )
    async def two_factor_setup(
        *, body: TwoFactorSetupRequest, user: _User = authenticated, request: Request, connection: DbConnection
    ) -> TwoFactorSetup:
        secret, uri = await two_factor.start_enrolment(
            connection, request.app.state.key_ring, users, user_id=user.id, proof=body.proof, now=utcnow()
        )
        return TwoFactorSetup(secret=secret, otpauth_uri=uri)

    @router.post(
        "/2fa/enable",
        operation_id=f"{who}-2fa_enable",
        summary="Confirm the authenticator with a code from it; returns recovery codes once",
        response_model_by_alias=True,
        responses={409: {"description": "`no_pending_enrolment`"}, 422: {"description": "`invalid_otp`"}},
    )
    async def two_factor_enable(
        *,
        body: TwoFactorConfirm,
        user: _User = authenticated,
        request: Request,
        connection: DbConnection,
        audit: AuditTrail,
    ) -> RecoveryCodes:
        codes = await two_factor.confirm_enrolment(
            connection, request.app.state.key_ring, users, user_id=user.id, code=body.code, now=utcnow()
        )
        await audit.record(connection, f"{who}.2fa_enabled", who, user.id, changes={"totp": ("***", "***")})
        return RecoveryCodes(recovery_codes=codes)

    return router


admin_router = session_router(Audience.admin, "/auth", current_admin)
partner_user_router = session_router(Audience.partner, "/client", current_partner_user)
