from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gerbang.auth import sessions, two_factor
from gerbang.auth.dependencies import CurrentAdmin, SignedPartner
from gerbang.auth.service import AuthenticatedPartner
from gerbang.auth.sessions import TokenPair
from gerbang.auth.tokens import Audience
from gerbang.db import DbConnection
from gerbang.kit.time import utcnow

router = APIRouter(tags=["authentication"])


class SignatureCheck(BaseModel):
    """Who the request authenticated as."""

    partner_id: uuid.UUID = Field(alias="partnerId")
    api_key_id: uuid.UUID = Field(alias="apiKeyId")
    signed: bool


_ERRORS = {
    400: {"description": "`invalid_timestamp` or `malformed_signature`"},
    401: {
        "description": "`missing_api_key`, `invalid_api_key`, `api_key_revoked`, `missing_signature_headers`, "
        "`timestamp_out_of_window`, `invalid_signature` or `replayed_request`"
    },
    403: {"description": "`partner_inactive`"},
}


_CHECK = {
    "summary": "Check a request signature",
    "description": "Send any signed request here while building an integration: 200 means the API key, "
    "timestamp and signature are right; otherwise the error code says what is wrong. Sign the body you send "
    "with POST; GET signs an empty body.",
    "responses": _ERRORS,
}


@router.get("/auth/check", operation_id="auth-check_signature_get", **_CHECK)  # type: ignore[arg-type]
async def check_signature_get(partner: SignedPartner) -> SignatureCheck:
    return _check(partner)


@router.post("/auth/check", operation_id="auth-check_signature_post", **_CHECK)  # type: ignore[arg-type]
async def check_signature_post(partner: SignedPartner) -> SignatureCheck:
    return _check(partner)


def _check(partner: AuthenticatedPartner) -> SignatureCheck:
    return SignatureCheck(partnerId=partner.partner_id, apiKeyId=partner.api_key_id, signed=partner.signed)


# -- admin login -------------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    email: str = Field(max_length=254, examples=["ops@gerbang.example"])
    password: str = Field(max_length=1024)
    otp: str | None = Field(default=None, max_length=32, description="TOTP code or recovery code, when 2FA is on")


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


class RefreshRequest(BaseModel):
    refresh_token: str = Field(alias="refreshToken", max_length=200)


class Tokens(BaseModel):
    access_token: str = Field(serialization_alias="accessToken")
    refresh_token: str = Field(serialization_alias="refreshToken")
    token_type: str = Field(default="Bearer", serialization_alias="tokenType")
    expires_in: int = Field(serialization_alias="expiresIn")
    """Seconds until the access token expires."""


class AdminMe(BaseModel):
    id: uuid.UUID
    email: str
    role: str


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post(
    "/auth/login",
    operation_id="auth-admin_login",
    summary="Admin login",
    response_model_by_alias=True,
    responses={
        401: {"description": "`invalid_credentials`, `otp_required` or `invalid_otp`"},
        403: {"description": "`account_inactive`"},
    },
)
async def admin_login(body: LoginRequest, request: Request, connection: DbConnection) -> Tokens:
    settings = request.app.state.settings
    pair = await sessions.admin_login(
        connection, settings.secret_key_value, request.app.state.key_ring, email=body.email, password=body.password,
        otp=body.otp, now=utcnow(),
    )  # fmt: skip
    return _tokens(pair)


@router.post(
    "/auth/refresh",
    operation_id="auth-admin_refresh",
    summary="New tokens for a refresh token (which is then spent)",
    response_model_by_alias=True,
    responses={401: {"description": "`invalid_refresh_token`"}, 403: {"description": "`account_inactive`"}},
)
async def admin_refresh(body: RefreshRequest, request: Request, connection: DbConnection) -> Tokens:
    settings = request.app.state.settings
    pair = await sessions.refresh(
        connection, settings.secret_key_value, audience=Audience.admin, refresh_token=body.refresh_token, now=utcnow()
    )
    return _tokens(pair)


@router.post("/auth/logout", operation_id="auth-admin_logout", summary="End this session", status_code=204)
async def admin_logout(admin: CurrentAdmin, connection: DbConnection) -> None:
    await sessions.logout(connection, admin.session_id, utcnow())


@router.get("/auth/me", operation_id="auth-admin_me", summary="The logged-in admin")
async def admin_me(admin: CurrentAdmin) -> AdminMe:
    return AdminMe(id=admin.id, email=admin.email, role=admin.role.value)


@router.post(
    "/auth/2fa/setup",
    operation_id="auth-admin_2fa_setup",
    summary="Start enrolling a TOTP authenticator",
    response_model_by_alias=True,
    responses={403: {"description": "`second_factor_required`"}, 401: {"description": "`invalid_otp`"}},
)
async def admin_2fa_setup(
    body: TwoFactorSetupRequest, admin: CurrentAdmin, request: Request, connection: DbConnection
) -> TwoFactorSetup:
    secret, uri = await two_factor.start_enrolment(
        connection, request.app.state.key_ring, admin_id=admin.id, proof=body.proof, now=utcnow()
    )
    return TwoFactorSetup(secret=secret, otpauth_uri=uri)


@router.post(
    "/auth/2fa/enable",
    operation_id="auth-admin_2fa_enable",
    summary="Confirm the authenticator with a code from it; returns recovery codes once",
    response_model_by_alias=True,
    responses={409: {"description": "`no_pending_enrolment`"}, 422: {"description": "`invalid_otp`"}},
)
async def admin_2fa_enable(
    body: TwoFactorConfirm, admin: CurrentAdmin, request: Request, connection: DbConnection
) -> RecoveryCodes:
    codes = await two_factor.confirm_enrolment(
        connection, request.app.state.key_ring, admin_id=admin.id, code=body.code, now=utcnow()
    )
    return RecoveryCodes(recovery_codes=codes)
