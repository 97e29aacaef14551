"""ING1 ("Billers Engine"): QRIS cash-in, bank cash-out (inquiry then payment) and their status checks
(seed inventory 4.4).

Every call is a JSON `POST <baseUrl>/<apiVersion>/<path>` with `Authorization: Bearer <token>`. The token
comes from `POST user/login {email, password}` (or is the account's `permanent_token`); the JWT's `exp` is
read and the token is renewed 60 s before it. One login at a time per account (an asyncio lock keyed by
the account id): concurrent calls that find no valid token wait for the same login. On `rc 98` (invalid
token), 401 or 403 the token is dropped, a new one is fetched and the call is retried once (a refused
permanent token gives way to the login, if the account has email and password). The token is
never logged nor put in an error message.

ING1's callbacks (`GET /api/v1/transaction/callback/ing1?client_reff&reff&rc&status&amount|total&...` and
`GET /api/v1/withdrawals/callback/ing1`) are plain GETs with no signature: they are never believed
(`callbacks_signed` and `disbursement_callbacks_signed` False). The framework stores them unverified and
asks `transaction/cashin/check` (`transaction/cashout/check`) with the account that owns the order
(withdrawal); only that answer moves anything. The original trusted the GET as-is (section 14).

Cash-out is two steps: `transaction/cashout/inquiry` (with our withdrawal id as `client_reff`) answers a
`reff` and the holder's name; `transaction/cashout/payment {reff, client_reff, amount}` confirms it. A
resubmission of the same withdrawal repeats both steps under the same `client_reff`: ING1 is assumed to
answer the inquiry with the same `reff` and the payment with the cash-out's current state, or to refuse it
as a duplicate, in which case `transaction/cashout/check` is asked and its answer returned. We never make up
another `client_reff`, so a retry can never be a second cash-out.

Result codes: rc 0 paid / success, 91 pending, 99 failed, 98 invalid token. On a create call any other rc
is a refusal. In a status answer any other rc falls back to the status text (success/paid/complete/
completed/done: paid; pending/process/processing: pending; failed/cancel/cancelled/expired/reject/void:
failed); an unknown text is logged and pending, never paid (the original made it FAILED).

Assumptions (the reference leaves them open; confirm with ING1):
- answers are `{rc, message, reff?, data: {...}}`; the login token at `data.token` (else `token`,
  `data.access_token`); status text at `data.status` (else `status`); amounts at `data.amount` (else
  `data.total`, `amount`, `total`);
- `expiry_time` is in minutes (from the order's expiry); `remark` is `order <id>`;
- `apiVersion` defaults to `v1`; `productCode` defaults to `QRIS`; the account's own base URL is the
  `baseUrl` (a `baseUrl` inside the credentials is refused as unknown);
- a token whose `exp` cannot be read is kept for 5 minutes;
- the cash-out inquiry answers the holder at `data.account_name` (else `data.customer_name`); an account
  inquiry on its own (validation before a withdrawal) is a cash-out inquiry for 10,000 under a `client_reff`
  of its own (`inq-<hex>`) that is never paid;
- rc 0 on a cash-out payment means the transfer is done; 91 that it is processing;
- a balance query is not documented: `balance` raises `BalanceNotOffered`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from gerbang.provider.base import (
    AccountInquiry,
    AccountInquiryResult,
    Acknowledgement,
    BalanceNotOffered,
    Charge,
    ChargeRequest,
    Disbursement,
    DisbursementCallback,
    DisbursementRequest,
    DisbursementStatus,
    DisbursementStatusResult,
    InboundCallback,
    PaymentCallback,
    PaymentMethod,
    PaymentStatus,
    ProviderAccount,
    ProviderDuplicate,
    ProviderRejected,
    ProviderResponseInvalid,
    StatusResult,
)
from gerbang.provider.common import (
    TimedAdapter,
    TokenCache,
    amount_of,
    call_json,
    credentials_of,
    refusal,
    text_of,
    unknown_status,
)

NAME = "ing1"
REFRESH_EARLY_S = 60
UNKNOWN_EXPIRY_S = 300
INQUIRY_AMOUNT = 10_000
RC_OK, RC_PENDING, RC_TOKEN, RC_FAILED = 0, 91, 98, 99


def rc_of(data: Mapping[str, Any]) -> int | None:
    value = data.get("rc")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text_status(value: object) -> PaymentStatus | None:
    match value.strip().lower() if isinstance(value, str) else value:
        case "success" | "paid" | "complete" | "completed" | "done":
            return PaymentStatus.paid
        case "pending" | "process" | "processing":
            return PaymentStatus.pending
        case "failed" | "cancel" | "cancelled" | "canceled" | "expired" | "reject" | "rejected" | "void":
            return PaymentStatus.failed
        case _:
            return None


def payment_status(rc: object, text: object) -> PaymentStatus:
    """An ING1 status answer onto ours: rc first, then the status text; unknown: logged and pending."""
    match rc:
        case 0:
            return PaymentStatus.paid
        case 91:
            return PaymentStatus.pending
        case 99:
            return PaymentStatus.failed
    mapped = _text_status(text)
    if mapped is None:
        unknown_status(NAME, "payment", f"rc={rc} status={text}")
        return PaymentStatus.pending
    return mapped


def cashout_status(rc: object, text: object) -> DisbursementStatus:
    """An ING1 cash-out answer onto ours: rc first, then the status text; unknown: logged and pending, never
    completed."""
    match rc:
        case 0:
            return DisbursementStatus.completed
        case 91:
            return DisbursementStatus.processing
        case 99:
            return DisbursementStatus.failed
    match _text_status(text):
        case PaymentStatus.paid:
            return DisbursementStatus.completed
        case PaymentStatus.pending:
            return DisbursementStatus.processing
        case PaymentStatus.failed:
            return DisbursementStatus.failed
        case _:
            unknown_status(NAME, "cashout", f"rc={rc} status={text}")
            return DisbursementStatus.pending


def _data(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    data = answer.get("data")
    return data if isinstance(data, Mapping) else {}


def _amount(answer: Mapping[str, Any]) -> int | None:
    data = _data(answer)
    for value in (data.get("amount"), data.get("total"), answer.get("amount"), answer.get("total")):
        if value is not None:
            return amount_of(value)
    return None


def _status_text(answer: Mapping[str, Any]) -> object:
    status = _data(answer).get("status")
    return status if status is not None else answer.get("status")


def _reff(answer: Mapping[str, Any]) -> str | None:
    value = answer.get("reff", _data(answer).get("reff"))
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def token_expiry(token: str, now: float) -> float:
    """The JWT's `exp` (seconds since the epoch); a token we cannot read is kept UNKNOWN_EXPIRY_S."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims["exp"]
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return float(exp)
    except (IndexError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        pass
    return now + UNKNOWN_EXPIRY_S


def _query(callback: InboundCallback) -> dict[str, str]:
    fields = urllib.parse.parse_qs(callback.query, keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


class Ing1Provider(TimedAdapter):
    name: ClassVar[str] = NAME
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset({PaymentMethod.qris})
    callbacks_signed: ClassVar[bool] = False
    callbacks_confirmed: ClassVar[bool] = True
    disbursement_callbacks_signed: ClassVar[bool] = False

    def __init__(self) -> None:
        self._tokens = TokenCache(REFRESH_EARLY_S)
        self._refused_permanent: set[tuple[uuid.UUID, str]] = set()
        """Permanent tokens ING1 refused: the account's email and password are used instead, if it has them."""

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        found = credentials_of(
            credentials,
            {
                "email": (), "password": (), "product_code": ("productCode",), "merchant_id": ("merchantId",),
                "api_version": ("apiVersion",), "permanent_token": ("permanentToken",),
            },
            optional=("email", "password", "product_code", "merchant_id", "api_version", "permanent_token"),
        )  # fmt: skip
        if "permanent_token" not in found and not ("email" in found and "password" in found):
            raise ValueError("required credential fields: ['email', 'password'] (or permanent_token)")
        if ("email" in found) != ("password" in found):
            raise ValueError("email and password go together")
        if "/" in found.get("api_version", "v1") or "?" in found.get("api_version", "v1"):
            raise ValueError("api_version must be one path segment")
        return found

    def _base(self, account: ProviderAccount) -> str:
        version = account.credentials.get("api_version", "v1")
        return f"{account.base_url.rstrip('/')}/{version}/"

    def _key(self, account: ProviderAccount) -> tuple[uuid.UUID, str]:
        who = f"{account.credentials.get('email', '')}\0{account.credentials.get('password', '')}"
        return account.id, hashlib.sha256(who.encode()).hexdigest()

    async def _login(self, session: aiohttp.ClientSession, account: ProviderAccount) -> str:
        body = orjson.dumps({"email": account.credentials["email"], "password": account.credentials["password"]})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        status, answer = await call_json(
            session, NAME, "POST", self._base(account) + "user/login", body=body, headers=headers, limit=self.timeout
        )
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered the login with something other than an object")
        data = _data(answer)
        token = text_of(data.get("token")) or text_of(answer.get("token")) or text_of(data.get("access_token"))
        if status >= 400 or rc_of(answer) not in (None, RC_OK) or token is None:
            raise ProviderRejected(f"{NAME} refused the login ({status}, rc {rc_of(answer)})")
        return token

    async def _token(self, session: aiohttp.ClientSession, account: ProviderAccount, refused: str | None = None) -> str:
        """A valid token: the cached one unless it is near its `exp` or is the one just refused; else one
        login, shared by every call waiting on this account's lock."""
        permanent = account.credentials.get("permanent_token")
        can_login = "email" in account.credentials and "password" in account.credentials
        key = self._key(account)
        if permanent:
            marker = (account.id, hashlib.sha256(permanent.encode()).hexdigest())
            if refused == permanent:
                self._refused_permanent.add(marker)
            if marker not in self._refused_permanent or not can_login:
                if refused == permanent:
                    raise ProviderRejected(f"{NAME} refused the account's permanent token")
                return permanent

        async def login() -> tuple[str, float]:
            now = time.time()
            token = await self._login(session, account)
            return token, token_expiry(token, now)

        return await self._tokens.get(key, login, refused=refused)

    async def _post(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, body: Mapping[str, Any], token: str
    ) -> tuple[int, Any]:
        headers = {
            "Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}",
        }  # fmt: skip
        return await call_json(
            session, NAME, "POST", self._base(account) + path, body=orjson.dumps(body), headers=headers,
            limit=self.timeout,
        )  # fmt: skip

    async def _call(
        self, session: aiohttp.ClientSession, account: ProviderAccount, path: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One call; on an invalid-token answer, a fresh token and one retry. Answers with rc 98 again are
        refused (never looping)."""
        token = await self._token(session, account)
        status, answer = await self._post(session, account, path, body, token)
        if _token_refused(status, answer):
            token = await self._token(session, account, refused=token)
            status, answer = await self._post(session, account, path, body, token)
            if _token_refused(status, answer):
                raise ProviderRejected(f"{NAME} refused a fresh token ({status})")
        if not isinstance(answer, dict):
            raise ProviderResponseInvalid(f"{NAME} answered {status} with something other than an object")
        if status >= 400:
            raise refusal(NAME, status, text_of(answer.get("message")) or f"rc {rc_of(answer)}")
        return answer

    async def create_payment(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: ChargeRequest
    ) -> Charge:
        if request.method is not PaymentMethod.qris:
            raise refusal(NAME, 400, f"method {request.method.value} is not offered")
        body: dict[str, Any] = {
            "product_code": account.credentials.get("product_code", "QRIS"), "amount": request.amount,
            "client_reff": str(request.order_id), "remark": f"order {request.order_id}"[:100],
            "expiry_time": max(1, int((request.expires_at.timestamp() - time.time()) // 60)),
        }  # fmt: skip
        if request.return_url:
            body["return_url"] = request.return_url
        if account.credentials.get("merchant_id"):
            body["merchant_id"] = account.credentials["merchant_id"]
        answer = await self._call(session, account, "transaction/cashin/create", body)
        rc = rc_of(answer)
        if rc not in (RC_OK, RC_PENDING):
            raise refusal(NAME, 400, text_of(answer.get("message")) or f"rc {rc}")
        data = _data(answer)
        amount = _amount(answer)
        if amount is not None and amount != request.amount:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount")
        reff, qr = _reff(answer), text_of(data.get("content"))
        if reff is None or qr is None:
            raise ProviderResponseInvalid(f"{NAME} answered without a reff or a QR")
        return Charge(
            provider_reference=reff, amount=request.amount, qr_payload=qr,
            redirect_url=text_of(data.get("payment_url")), raw=answer,
        )  # fmt: skip

    async def payment_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        order_id: uuid.UUID,
        provider_reference: str | None,
    ) -> StatusResult:
        body = {"reff": provider_reference or "", "client_reff": str(order_id)}
        answer = await self._call(session, account, "transaction/cashin/check", body)
        client_reff = answer.get("client_reff", _data(answer).get("client_reff"))
        if client_reff is not None and str(client_reff) != str(order_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another order")
        data = _data(answer)
        return StatusResult(
            status=payment_status(rc_of(answer), _status_text(answer)),
            amount=_amount(answer),
            provider_reference=_reff(answer) or provider_reference,
            paid_at=_time(data.get("paid_at")),
            settled=_time(data.get("settlement_time")) is not None,
        )

    def parse_callback(self, callback: InboundCallback) -> PaymentCallback:
        """What the GET's query claims, to know which order to ask about: never acted on by itself."""
        fields = _query(callback)
        try:
            order_id = uuid.UUID(fields["client_reff"])
        except (KeyError, ValueError):
            raise ValueError("not an ING1 callback") from None
        if "rc" not in fields and "status" not in fields:
            raise ValueError("not an ING1 callback")
        rc = rc_of({"rc": fields.get("rc")})
        status = payment_status(rc, fields.get("status"))
        return PaymentCallback(
            event_id=f"{order_id}:{fields.get('reff', '')}:{rc}:{fields.get('status', '').upper()}"[:200],
            order_id=order_id,
            provider_reference=fields.get("reff") or None,
            status=status,
            amount=amount_of(fields.get("amount", fields.get("total"))),
            paid_at=_time(fields.get("paid_at")),
        )

    def verify_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # ING1 does not sign: the framework asks ING1 instead (`callbacks_signed` False)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200 if accepted else 400, orjson.dumps({"success": accepted}))

    async def _inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, bank: str, number: str, amount: int,
        client_reff: str,
    ) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"bank_code": bank, "account_no": number, "amount": amount, "client_reff": client_reff}
        if account.credentials.get("merchant_id"):
            body["merchant_id"] = account.credentials["merchant_id"]
        return await self._call(session, account, "transaction/cashout/inquiry", body)

    async def account_inquiry(
        self, session: aiohttp.ClientSession, account: ProviderAccount, inquiry: AccountInquiry
    ) -> AccountInquiryResult:
        client_reff = "inq-" + secrets.token_hex(12)
        answer = await self._inquiry(
            session, account, inquiry.bank_code, inquiry.account_number, INQUIRY_AMOUNT, client_reff
        )
        message = text_of(answer.get("message")) or ""
        if rc_of(answer) != RC_OK and "bank" in message.lower() and "account" not in message.lower():
            raise ProviderRejected(f"{NAME} does not know bank {inquiry.bank_code!r}")
        data = _data(answer)
        holder = text_of(data.get("account_name")) or text_of(data.get("customer_name"))
        valid = rc_of(answer) == RC_OK and holder is not None
        return AccountInquiryResult(
            valid=valid, holder_name=holder if valid else None,
            bank_code=text_of(data.get("bank_code")) or inquiry.bank_code, account_number=inquiry.account_number,
            reason=None if valid else (text_of(answer.get("message")) or "account_not_found"),
        )  # fmt: skip

    async def create_disbursement(
        self, session: aiohttp.ClientSession, account: ProviderAccount, request: DisbursementRequest
    ) -> Disbursement:
        client_reff = str(request.withdrawal_id)
        try:
            inquiry = await self._inquiry(
                session, account, request.bank_code, request.account_number, request.amount, client_reff
            )
            if rc_of(inquiry) != RC_OK:
                raise refusal(NAME, 400, text_of(inquiry.get("message")) or f"rc {rc_of(inquiry)}")
            reff = _reff(inquiry)
            if reff is None:
                raise ProviderResponseInvalid(f"{NAME} answered the inquiry without a reff")
            body: dict[str, Any] = {"reff": reff, "client_reff": client_reff, "amount": request.amount,
                                    "remark": (request.note or "withdrawal")[:100]}  # fmt: skip
            answer = await self._call(session, account, "transaction/cashout/payment", body)
            rc = rc_of(answer)
            if rc not in (RC_OK, RC_PENDING, RC_FAILED):
                raise refusal(NAME, 400, text_of(answer.get("message")) or f"rc {rc}")
        except ProviderDuplicate:
            # Sent before (a retry of ours): what became of it is the answer.
            known = await self.disbursement_status(session, account, request.withdrawal_id, None)
            if known.amount != request.amount or known.provider_reference is None:
                raise ProviderResponseInvalid(f"{NAME} holds another cash-out under this id") from None
            return Disbursement(known.provider_reference, known.status, request.amount)
        amount = _amount(answer)
        if amount is not None and amount != request.amount:
            raise ProviderResponseInvalid(f"{NAME} answered for another amount")
        status = cashout_status(rc, _status_text(answer))
        if status is DisbursementStatus.pending:
            status = DisbursementStatus.processing  # accepted: ING1 has it
        return Disbursement(provider_reference=_reff(answer) or reff, status=status, amount=request.amount, raw=answer)

    async def disbursement_status(
        self,
        session: aiohttp.ClientSession,
        account: ProviderAccount,
        withdrawal_id: uuid.UUID,
        provider_reference: str | None,
    ) -> DisbursementStatusResult:
        body = {"reff": provider_reference or "", "client_reff": str(withdrawal_id)}
        answer = await self._call(session, account, "transaction/cashout/check", body)
        client_reff = answer.get("client_reff", _data(answer).get("client_reff"))
        if client_reff is not None and str(client_reff) != str(withdrawal_id):
            raise ProviderResponseInvalid(f"{NAME} answered for another cash-out")
        rc = rc_of(answer)
        status = cashout_status(rc, _status_text(answer))
        return DisbursementStatusResult(
            status=status, amount=_amount(answer), provider_reference=_reff(answer) or provider_reference,
            reason=text_of(answer.get("message")) if status is DisbursementStatus.failed else None,
        )  # fmt: skip

    async def balance(self, session: aiohttp.ClientSession, account: ProviderAccount) -> int:
        raise BalanceNotOffered(f"{NAME} offers no balance query")

    def parse_disbursement_callback(self, callback: InboundCallback) -> DisbursementCallback:
        """What the GET's query claims, to know which withdrawal to ask about: never acted on by itself."""
        fields = _query(callback)
        try:
            withdrawal_id = uuid.UUID(fields["client_reff"])
        except (KeyError, ValueError):
            raise ValueError("not an ING1 cash-out callback") from None
        if "rc" not in fields and "status" not in fields:
            raise ValueError("not an ING1 cash-out callback")
        rc = rc_of({"rc": fields.get("rc")})
        return DisbursementCallback(
            event_id=f"{withdrawal_id}:{fields.get('reff', '')}:{rc}:{fields.get('status', '').upper()}"[:200],
            withdrawal_id=withdrawal_id,
            provider_reference=fields.get("reff") or None,
            status=cashout_status(rc, fields.get("status")),
            amount=amount_of(fields.get("amount", fields.get("total"))),
            reason=fields.get("message") or None,
        )

    def verify_disbursement_callback(self, account: ProviderAccount, callback: InboundCallback) -> bool:
        return False  # not signed: only ever a prompt to ask (`disbursement_callbacks_signed` False)


def _token_refused(status: int, answer: object) -> bool:
    return status in (401, 403) or (isinstance(answer, dict) and rc_of(answer) == RC_TOKEN)
