"""Reading a provider's callback off the HTTP request, for the pay-in and the disbursement callback routes:
the exact bytes, the method and the raw query string, and the optional source-IP allow-list per provider
(`GERBANG_<PROVIDER>_CALLBACK_IPS`, empty: no check)."""

from __future__ import annotations

from fastapi import Request

from gerbang.config import Settings
from gerbang.exceptions import Forbidden
from gerbang.kit.netaccess import AllowList
from gerbang.provider.base import InboundCallback


class CallbackSourceNotAllowed(Forbidden):
    code = "callback_source_not_allowed"


async def read(request: Request) -> InboundCallback:
    return InboundCallback(
        {k.lower(): v for k, v in request.headers.items()},
        await request.body(),
        method=request.method,
        query=request.url.query,
    )


def check_source(request: Request, provider_name: str) -> None:
    """Refuses a callback from outside the provider's allow-list, if it has one."""
    settings: Settings = request.app.state.settings
    entries = settings.provider_callback_ips(provider_name)
    if not entries:
        return
    ip = getattr(request.state, "client_ip", None) or (request.client.host if request.client else None)
    if ip is None or not AllowList.parse(entries).allows(ip):
        raise CallbackSourceNotAllowed(f"callbacks for {provider_name} are not accepted from this address")
