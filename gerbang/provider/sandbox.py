"""The adapter for the sandbox provider (`gerbang.sandbox`), written as for any real one: bearer-key
requests, callbacks signed with HMAC-SHA256 of the raw body under the merchant key."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.kit.crypto import equal
from gerbang.provider.base import (
    Acknowledgement,
    Charge,
    ChargeRequest,
    InboundCallback,
    PaymentCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
    StatusResult,
)
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign

_TIMEOUT = aiohttp.ClientTimeout(total=10)


def _status(value: object) -> PaymentStatus:
    match value:
        case "PENDING":
            return PaymentStatus.pending
        case "PAID":
            return PaymentStatus.paid
        case "FAILED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            raise ProviderResponseInvalid(f"unknown sandbox status {value!r}")


class SandboxProvider:
    name: ClassVar[str] = "sandbox"
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset(PaymentMethod)

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        key = credentials.get("merchant_key")
        if not isinstance(key, str) or not 16 <= len(key) <= 200:
            raise ValueError("merchant_key is required (16 to 200 characters)")
        unknown = set(credentials) - {"merchant_key"}
        if unknown:
            raise ValueError(f"unknown credential fields: {sorted(unknown)}")
        return {"merchant_key": key}

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.credentials['merchant_key']}"}
        try:
            async with session.request(
                method, account.base_url.rstrip("/") + path, json=body, headers=headers, timeout=_TIMEOUT
            ) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ProviderUnavailable(f"sandbox unreachable: {type(error).__name__}") from None
        if status >= 500:
            raise ProviderUnavailable(f"sandbox answered {status}")
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ProviderResponseInvalid(f"sandbox answered {status} with a body that is not JSON") from None
        if status >= 400 or not isinstance(data, dict):
            reason = data.get("error") if isinstance(data, dict) else None
            raise ProviderRejected(f"sandbox refused ({status}): {reason}")
        return data

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        data = await self._call(session, account, "POST", "/api/charges", {
            "merchant_ref": str(request.order_id),
            "amount": request.amount,
            "method": request.method.value,
            "channel": request.channel,
            "expires_at": request.expires_at.isoformat(),
            "callback_url": request.callback_url,
            "merchant_name": account.merchant_name,
        })  # fmt: skip
        if data.get("amount") != request.amount or data.get("merchant_ref") != str(request.order_id):
            raise ProviderResponseInvalid("sandbox answered for another amount or order")
        return Charge(
            provider_reference=str(data["charge_id"]),
            amount=request.amount,
            qr_payload=data.get("qr_string"),
            va_number=data.get("va_number"),
            redirect_url=data.get("redirect_url"),
            raw=data,
        )

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        data = await self._call(session, account, "GET", f"/api/charges/{order_id}")
        paid_at = data.get("paid_at")
        return StatusResult(
            status=_status(data.get("status")),
            amount=data.get("amount") if isinstance(data.get("amount"), int) else None,
            provider_reference=str(data.get("charge_id")),
            paid_at=datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else None,
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            paid_at = data.get("paid_at")
            return PaymentCallback(
                event_id=str(data["event_id"]),
                order_id=uuid.UUID(str(data["merchant_ref"])),
                provider_reference=str(data["charge_id"]),
                status=_status(data["status"]),
                amount=data["amount"]
                if isinstance(data["amount"], int) and not isinstance(data["amount"], bool)
                else None,
                paid_at=datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, ProviderResponseInvalid):
            raise ValueError("not a sandbox callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        presented = callback.headers.get(SIGNATURE_HEADER, "")
        return bool(presented) and equal(presented.lower(), sign(account.credentials["merchant_key"], callback.body))

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 401, orjson.dumps({"received": accepted}))
