"""GudangVoucher: QRIS pay-ins (seed inventory 4.8). No disbursement, no balance query here.

Documented (the reference): a QRIS charge is a form post (`application/x-www-form-urlencoded`) signed with
`signature` = lowercase hex MD5(merchantId + amount + merchantKey + custom); success is `status_code "00"`.
`custom` is the merchant's own reference for the charge: ours is the order id as 32 lowercase hex digits
(`order_id.hex`), so any answer or callback naming a `custom` finds its order again (the original used
`GVQ<ms>`, which nothing could map back to an order).

GudangVoucher's callback is not documented in the reference, so GudangVoucher payments are verified by
status query only: a callback at `POST /api/v1/transaction/callback/gudangvoucher` is a prompt
(`callbacks_signed` False). It is stored unverified, and the framework asks the status with the credentials
of the provider account that owns the order; only that answer (its amount checked against the order)
moves money.

Assumptions (the reference leaves them open; confirm with GudangVoucher):
- the account's base URL is GudangVoucher's host (`GERBANG_GUDANGVOUCHER_BASE_URL`, default
  `https://www.gudangvoucher.com`; it replaces the original's `GV_QRIS_URL`); the QRIS charge is
  `POST /payment_channel/gv_connect/qris/create_qr` with the fields `merchantid`, `amount`, `custom`,
  `product`, `email`, `custom_callback`, `custom_redirect`, `expired_time` (WIB, `YYYY-MM-DD HH:mm:ss`) and
  `signature`; the original's `GV_STORE_URL` is not used (the reference does not say what for);
- answers are JSON `{"status_code", "status_desc", "responddata": {...}}`; a charge answers `custom`,
  `reference_label` (GudangVoucher's id), `amount` and the QR payload at `data_qr`;
- the status query is a form post to `/payment_channel/gv_connect/qris/check_status` with `merchantid`,
  `custom` and `signature` = MD5(merchantKey + merchantId + custom) (the order GudangVoucher's older
  payment check `cpayment.php` uses), answered in the same envelope with `responddata.status` SUCCESS,
  PENDING, WAITING, UNPAID, FAILED, CANCEL(L)ED or EXPIRED, `amount` and `payment_time` (WIB);
- a callback is a form post with at least `custom` (optionally `status`, `amount`, `reference_label`),
  acknowledged `200 {"status": "ok"}`; GudangVoucher does not report settlement (`settled` stays False).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.provider.base import (
    Acknowledgement,
    Charge,
    ChargeRequest,
    InboundCallback,
    PaymentCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderResponseInvalid,
    StatusResult,
)
from gerbang.provider.common import TimedAdapter, amount_of, call_json, credentials_of, refusal, text_of, unknown_status

NAME = "gudangvoucher"
CREATE_PATH = "/payment_channel/gv_connect/qris/create_qr"
STATUS_PATH = "/payment_channel/gv_connect/qris/check_status"
_WIB = timezone(timedelta(hours=7))
_CUSTOM = re.compile(r"[0-9a-f]{32}")


def custom_of(order_id: uuid.UUID) -> str:
    """Our `custom` for an order: its id as 32 lowercase hex digits."""
    return order_id.hex


def order_of(custom: object) -> uuid.UUID:
    """The order a `custom` names; ValueError if it is not one of ours."""
    if not isinstance(custom, str) or not _CUSTOM.fullmatch(custom):
        raise ValueError("not one of our custom references")
    return uuid.UUID(hex=custom)


def charge_signature(merchant_id: str, amount: int, merchant_key: str, custom: str) -> str:
    """The documented charge signature: MD5 hex of merchantId + amount + merchantKey + custom."""
    return _md5(f"{merchant_id}{amount}{merchant_key}{custom}")


def status_signature(merchant_id: str, merchant_key: str, custom: str) -> str:
    """The status query's signature (assumed): MD5 hex of merchantKey + merchantId + custom."""
    return _md5(f"{merchant_key}{merchant_id}{custom}")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def payment_status(value: object) -> PaymentStatus:
    """GudangVoucher's transaction statuses onto ours; an unknown one is logged and pending, never paid."""
    match value.upper() if isinstance(value, str) else value:
        case "SUCCESS":
            return PaymentStatus.paid
        case "PENDING" | "WAITING" | "UNPAID":
            return PaymentStatus.pending
        case "FAILED" | "CANCEL" | "CANCELLED" | "CANCELED":
            return PaymentStatus.failed
        case "EXPIRED":
            return PaymentStatus.expired
        case _:
            unknown_status(NAME, "payment", value)
            return PaymentStatus.pending


def _wib_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_WIB)
    except ValueError:
        return None


class GudangVoucherProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = False
    callbacks_confirmed: ClassVar[bool] = True

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {"merchant_id": ("merchantId", "merchantid"), "merchant_key": ("merchantKey", "merchantkey")},
        )
        if len(found["merchant_key"]) < 8:
            raise ValueError("merchant_key is too short")
        return found

    async def _post_form(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, fields: Mapping[str, str]
    ) -> dict[str, Any]:
        """`responddata` of an answer with `status_code "00"`; any other is a refusal in the provider's words."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        body = urllib.parse.urlencode(fields).encode()
        status, data = await call_json(
            session, NAME, "POST", account.base_url.rstrip("/") + path, body=body, headers=headers, limit=self.timeout
        )
        if not isinstance(data, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} with something other than an object")
        code, message = text_of(data.get("status_code")), text_of(data.get("status_desc"))
        if status >= 400 or code != "00":
            raise refusal(NAME, status, f"{code}: {message}" if code else message)
        inner = data.get("responddata")
        if not isinstance(inner, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} without responddata")
        return inner

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        merchant_id, key = account.credentials["merchant_id"], account.credentials["merchant_key"]
        custom = custom_of(request.order_id)
        fields = {
            "merchantid": merchant_id, "amount": str(request.amount), "custom": custom,
            "product": f"order {request.order_id}", "email": request.customer.email or "",
            "custom_callback": request.callback_url, "custom_redirect": request.return_url or "",
            "expired_time": request.expires_at.astimezone(_WIB).strftime("%Y-%m-%d %H:%M:%S"),
            "signature": charge_signature(merchant_id, request.amount, key, custom),
        }  # fmt: skip
        data = await self._post_form(session, account, CREATE_PATH, fields)
        if amount_of(data.get("amount")) != request.amount or data.get("custom") != custom:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        qr = text_of(data.get("data_qr"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR payload")
        return Charge(
            provider_reference=text_of(data.get("reference_label")) or custom,
            amount=request.amount,
            qr_payload=qr,
            raw=data,
        )

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        merchant_id, key = account.credentials["merchant_id"], account.credentials["merchant_key"]
        custom = custom_of(order_id)
        fields = {"merchantid": merchant_id, "custom": custom, "signature": status_signature(merchant_id, key, custom)}
        data = await self._post_form(session, account, STATUS_PATH, fields)
        if data.get("custom") != custom:
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(data.get("status")),
            amount=amount_of(data.get("amount")),
            provider_reference=text_of(data.get("reference_label")) or provider_reference,
            paid_at=_wib_time(data.get("payment_time")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        """Which order the prompt names (and what it claims, kept for people): never acted on by itself."""
        try:
            fields = dict(urllib.parse.parse_qsl(callback.body.decode(), strict_parsing=True))
            custom = fields["custom"]
            status = fields.get("status", "")
            return PaymentCallback(
                event_id=f"{custom}:{status.upper()}",
                order_id=order_of(custom),
                provider_reference=text_of(fields.get("reference_label")),
                status=payment_status(status) if status else PaymentStatus.pending,
                amount=amount_of(fields.get("amount")),
                paid_at=_wib_time(fields.get("payment_time")),
            )
        except (UnicodeDecodeError, KeyError, ValueError):
            raise ValueError("not a GudangVoucher callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # no documented signature: the framework asks GudangVoucher instead (`callbacks_signed`)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 400, orjson.dumps({"status": "ok" if accepted else "rejected"}))
