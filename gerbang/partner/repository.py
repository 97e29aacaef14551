from __future__ import annotations

import uuid

from sqlalchemy import bindparam, insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import Partner

_INSERT = Query(
    insert(Partner).values(
        id=bindparam("id"),
        name=bindparam("name"),
        parent_id=bindparam("parent_id"),
        webhook_url=bindparam("webhook_url"),
        webhook_secret_encrypted=bindparam("webhook_secret_encrypted"),
    )
)


async def insert_partner(
    connection: Connection,
    *,
    partner_id: uuid.UUID,
    name: str,
    parent_id: uuid.UUID | None,
    webhook_url: str | None,
    webhook_secret_encrypted: str,
) -> None:
    await _INSERT.execute(
        connection,
        id=partner_id,
        name=name,
        parent_id=parent_id,
        webhook_url=webhook_url,
        webhook_secret_encrypted=webhook_secret_encrypted,
    )
