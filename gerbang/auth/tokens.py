"""Access tokens: short-lived JWTs (HS256), one signing key per audience, derived from the secret key.

An admin token and a partner-user token differ in audience *and* key, so neither opens the other's
routes even if audience checking were ever skipped (the original shared one JWT secret for both).
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gerbang.exceptions import Unauthorized

ACCESS_TOKEN_TTL = timedelta(minutes=15)
_ISSUER = "gerbang"


class Audience(enum.StrEnum):
    admin = "admin"
    partner = "partner"


class InvalidToken(Unauthorized):
    code = "invalid_token"


class TokenExpired(Unauthorized):
    code = "token_expired"


@dataclass(frozen=True)
class AccessClaims:
    subject_id: uuid.UUID
    session_id: uuid.UUID
    audience: Audience


def _key(secret_key: str, audience: Audience) -> bytes:
    info = f"gerbang/access-token/{audience.value}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret_key.encode())


def issue_access_token(
    secret_key: str, audience: Audience, subject_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> str:
    claims = {
        "iss": _ISSUER,
        "aud": audience.value,
        "sub": str(subject_id),
        "sid": str(session_id),
        "jti": secrets.token_urlsafe(12),  # two tokens issued in the same second still differ
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_TTL).timestamp()),
    }
    return jwt.encode(claims, _key(secret_key, audience), algorithm="HS256")


def read_access_token(secret_keys: list[str], audience: Audience, token: str) -> AccessClaims:
    """Claims of a token for `audience`, signed by any key in the ring (so a key rotation logs nobody out)."""
    for secret_key in secret_keys:
        try:
            claims = jwt.decode(
                token, _key(secret_key, audience), algorithms=["HS256"], audience=audience.value, issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "aud", "iss"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the access token has expired; refresh it") from None
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise InvalidToken("the access token is not valid here") from None
        try:
            return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), audience)
        except (ValueError, TypeError):
            raise InvalidToken("the access token is not valid here") from None
    raise InvalidToken("the access token is not valid here")
