"""Alerts for operators, written in the transaction of whatever raised them (listed by the admin API)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, insert

from gerbang.kit.log import get_logger
from gerbang.kit.sql import Connection, Query
from gerbang.models import Alert

log = get_logger("gerbang.alerts")

_INSERT = Query(
    insert(Alert).values(
        kind=bindparam("kind"), partner_id=bindparam("partner_id"), message=bindparam("message"),
        created_at=bindparam("now"),
    )
)  # fmt: skip


async def raise_alert(
    connection: Connection, *, kind: str, partner_id: uuid.UUID | None, message: str, now: datetime
) -> None:
    log.warning("alert.raised", kind=kind, partner_id=str(partner_id) if partner_id else None, message=message)
    await _INSERT.execute(connection, kind=kind, partner_id=partner_id, message=message, now=now)
