"""Alerts for operators: an outbox, written in the transaction of whatever raised them, so an alert exists
exactly when the change it reports committed. `gerbang.alerts` lists them in the admin API and the worker
sends them to Telegram when it is configured.

This writer lives here, below every domain module, so that any of them (webhooks, withdrawals, settlement,
the scheduler) can raise an alert with the change it reports.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import bindparam, insert

from gerbang.kit.log import get_logger
from gerbang.kit.sql import Connection, Query
from gerbang.models import Alert

log = get_logger("gerbang.alerts")


class Severity(enum.StrEnum):
    """How urgent an alert is, lowest first (`GERBANG_TELEGRAM_MIN_SEVERITY` sends this one and above)."""

    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.info: 0, Severity.warning: 1, Severity.critical: 2}

DEFAULT_SEVERITY: dict[str, Severity] = {
    # Reports, for reading when convenient.
    "settlement_summary": Severity.info,
    "dashboard_summary": Severity.info,
    # Something is off and a person should look at it.
    "webhook_endpoint_disabled": Severity.warning,
    "withdrawal_contradicted": Severity.warning,
    "withdrawal_completed_after_failure": Severity.warning,
    "callback_flagged": Severity.warning,
    # Work did not happen, or money is out and must be recovered by hand.
    "job_failed": Severity.critical,
    "withdrawal_completed_unfunded": Severity.critical,
}
"""The severity of each kind raised by the code; a kind not listed here is a warning."""


def default_severity(kind: str) -> Severity:
    return DEFAULT_SEVERITY.get(kind, Severity.warning)


_LOGGED = 500
"""Characters of a message repeated in the log line (a summary can be long; the row has all of it)."""

_INSERT = Query(
    insert(Alert).values(
        kind=bindparam("kind"), partner_id=bindparam("partner_id"), message=bindparam("message"),
        severity=bindparam("severity"), created_at=bindparam("now"), next_attempt_at=bindparam("now"),
    ).returning(Alert.id)
)  # fmt: skip


async def raise_alert(
    connection: Connection, *, kind: str, partner_id: uuid.UUID | None, message: str, now: datetime,
    severity: Severity | None = None,
) -> int:  # fmt: skip
    """Writes the alert (one INSERT in the caller's transaction); returns its id. `severity` defaults to the
    kind's (`DEFAULT_SEVERITY`)."""
    chosen = severity or default_severity(kind)
    log_at = log.info if chosen is Severity.info else log.warning
    log_at(
        "alert.raised", kind=kind, severity=chosen.value, partner_id=str(partner_id) if partner_id else None,
        message=message if len(message) <= _LOGGED else message[:_LOGGED] + "…",
    )  # fmt: skip
    alert_id: int = await _INSERT.fetchval(
        connection, kind=kind, partner_id=partner_id, message=message, severity=chosen.value, now=now
    )
    return alert_id
