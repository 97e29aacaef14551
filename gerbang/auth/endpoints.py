from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gerbang.auth.dependencies import CurrentAdmin, SignedPartner
from gerbang.auth.service import AuthenticatedPartner

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


class AdminMe(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    two_factor_required: bool = Field(serialization_alias="twoFactorEnrolmentRequired")


@router.get("/auth/me", operation_id="admin-me", summary="The logged-in admin", response_model_by_alias=True)
async def admin_me(admin: CurrentAdmin) -> AdminMe:
    return AdminMe(
        id=admin.id, email=admin.email, role=admin.role.value, two_factor_required=admin.missing_required_2fa
    )
