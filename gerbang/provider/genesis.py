"""Genesis: QRIS MPM pay-ins through its SNAP "2gen" API (seed inventory 4.5). No disbursements.

Requests carry `client_id` and `x-signature`, lowercase hex MD5 of concatenated parts, amounts with two
decimals (`150000.00`):
- `POST /qrissnap2gen/v1/qr-mpm-generate-order {value, orderId}`: MD5(clientId + value + orderId +
  clientSecret);
- `POST /qrissnap2gen/v1/qr-mpm-query {orderId}`: MD5(clientId + orderId + clientSecret).
Credentials are per provider account and required: the original fell back to environment values, then to
Piro's, and finally to a default secret `abc`; none of that here.

Pay-in callbacks (`POST /api/v1/transaction/callback/genesis`): `x-signature` (or `x-piro-signature`, the
original's handler being Piro's) = MD5(clientId + amount (two decimals) + orderId + clientSecret) with the
credentials of the account that owns the order, compared in constant time. That leaves the status out, so a
verified callback could be replayed with another status: it is only a prompt (`callbacks_confirmed`), and
the order moves on Genesis's answer to `qr-mpm-query`.

Assumptions (the reference leaves them open; confirm with Genesis):
- answers are flat SNAP-style JSON `{responseCode, responseMessage, ...}`; a 4xx is a refusal sorted by
  `responseMessage` (409 or "duplicate": the order id is known already); a 2xx is taken as accepted;
- `orderId` is our order id; the generate answer has the QR at `qrContent` and Genesis's reference at
  `referenceNo`; the query answers `orderId`, `value`, a text `status` in Piro's vocabulary
  (SUCCESS, PAID, PENDING, FAILED, EXPIRED, ...) and `paidAt` (ISO 8601 with an offset);
- the callback is JSON `{orderId, amount, status, referenceNo?, paidAt?}`; its event id is
  `orderId:STATUS`; an amount that is not whole rupiah cannot be verified (refused).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
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
    ProviderAccount,
    ProviderResponseInvalid,
    StatusResult,
)
from gerbang.provider.common import TimedAdapter, amount_of, call_json, credentials_of, refusal, text_of
from gerbang.provider.piro_common import (
    amount_signature,
    md5_hex,
    payment_status,
    presented_signature,
    time_of,
    two_decimals,
)

NAME = "genesis"
GENERATE_PATH = "/qrissnap2gen/v1/qr-mpm-generate-order"
QUERY_PATH = "/qrissnap2gen/v1/qr-mpm-query"


def query_signature(client_id: str, order_id: str, client_secret: str) -> str:
    """MD5(clientId + orderId + clientSecret)."""
    return md5_hex(client_id, order_id, client_secret)


class GenesisProvider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = True
    callbacks_confirmed: ClassVar[bool] = True

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(credentials, {"client_id": ("clientId",), "client_secret": ("clientSecret",)})
        if len(found["client_secret"]) < 8:
            raise ValueError("client_secret is too short")
        return found

    async def _post(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, body: Mapping[str, Any],
        signature: str,
    ) -> dict[str, Any]:  # fmt: skip
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "client_id": account.credentials["client_id"], "x-signature": signature}  # fmt: skip
        status, answer = await call_json(
            session, NAME, "POST", account.base_url.rstrip("/") + path, body=orjson.dumps(body), headers=headers,
            limit=self.timeout,
        )  # fmt: skip
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} with something other than an object")
        if status >= 400:
            raise refusal(NAME, status, text_of(answer.get("responseMessage")))
        return answer

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        credentials, order_id, value = account.credentials, str(request.order_id), two_decimals(request.amount)
        signature = amount_signature(credentials["client_id"], value, order_id, credentials["client_secret"])
        answer = await self._post(session, account, GENERATE_PATH, {"value": value, "orderId": order_id}, signature)
        if amount_of(answer.get("value")) != request.amount or answer.get("orderId") != order_id:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount or order")
        qr = text_of(answer.get("qrContent"))
        if qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a QR")
        return Charge(provider_reference=text_of(answer.get("referenceNo")) or order_id, amount=request.amount,
                      qr_payload=qr, raw=answer)  # fmt: skip

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        credentials = account.credentials
        signature = query_signature(credentials["client_id"], str(order_id), credentials["client_secret"])
        answer = await self._post(session, account, QUERY_PATH, {"orderId": str(order_id)}, signature)
        if answer.get("orderId") != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        return StatusResult(
            status=payment_status(answer.get("status"), provider=NAME),
            amount=amount_of(answer.get("value", answer.get("amount"))),
            provider_reference=text_of(answer.get("referenceNo")) or provider_reference,
            paid_at=time_of(answer.get("paidAt")),
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        try:
            data = orjson.loads(callback.body)
            ref, status = data["orderId"], data["status"]
            if not isinstance(status, str) or "amount" not in data:
                raise ValueError("not a payment callback")
            return PaymentCallback(
                event_id=f"{ref}:{status.upper()}"[:200],
                order_id=uuid.UUID(str(ref)),
                provider_reference=text_of(data.get("referenceNo")),
                status=payment_status(status, provider=NAME),
                amount=amount_of(data.get("amount")),
                paid_at=time_of(data.get("paidAt")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise ValueError("not a Genesis payment callback") from None

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        presented = presented_signature(callback.headers)
        try:
            data = orjson.loads(callback.body)
            order_id, amount = data["orderId"], amount_of(data["amount"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return False
        if presented is None or amount is None or not isinstance(order_id, str):
            return False
        credentials = account.credentials
        expected = amount_signature(
            credentials["client_id"], two_decimals(amount), order_id, credentials["client_secret"]
        )
        return equal(presented, expected)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(
            200 if accepted else 401,
            orjson.dumps({"responseCode": "2000000" if accepted else "4010000",
                          "responseMessage": "Successful" if accepted else "Unauthorized"}),
        )  # fmt: skip
