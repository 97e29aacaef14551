"""What a settlement batch and a settlement run produce, and what partners hear of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gerbang.kit.time import to_jakarta
from gerbang.scheduler.base import JobResult


@dataclass(frozen=True)
class PartnerBatch:
    """One `settlement_batches` row: a partner's orders settled in one batch transaction."""

    id: uuid.UUID
    partner_id: uuid.UUID
    order_ids: list[uuid.UUID]
    gross: int
    fee: int
    net: int
    settled_at: datetime
    currency: str = "IDR"

    def payload(self) -> dict[str, Any]:
        """The `settlement.completed` webhook's fields and outbox event's data (docs/settlement.md)."""
        return {
            "batchId": str(self.id), "partnerId": str(self.partner_id), "currency": self.currency,
            "orderCount": len(self.order_ids), "grossAmount": self.gross, "fee": self.fee, "netAmount": self.net,
            "settledAt": to_jakarta(self.settled_at).isoformat(), "orderIds": [str(i) for i in self.order_ids],
        }  # fmt: skip


@dataclass(frozen=True)
class BatchOutcome:
    """One batch transaction, committed."""

    partner_batches: list[PartnerBatch]
    already_settled: int
    """Orders whose settlement posting existed already (made by `ledger.settlement`), or with no net (a fee
    adjusted up to the amount): marked SETTLED, no money moved, in no partner batch."""


@dataclass
class RunTotals:
    settled: int = 0
    already_settled: int = 0
    batches: int = 0
    partner_batches: int = 0
    gross: int = 0
    fee: int = 0
    net: int = 0
    provider_checked: int = 0
    provider_errors: int = 0
    partners: set[uuid.UUID] = field(default_factory=set)

    def add(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        self.already_settled += outcome.already_settled
        for batch in outcome.partner_batches:
            self.partner_batches += 1
            self.settled += len(batch.order_ids)
            self.gross += batch.gross
            self.fee += batch.fee
            self.net += batch.net
            self.partners.add(batch.partner_id)

    def result(self) -> JobResult:
        return JobResult(
            counts={
                "settled": self.settled, "batches": self.batches, "partners": len(self.partners),
                "partner_batches": self.partner_batches, "already_settled": self.already_settled,
                "provider_checked": self.provider_checked, "provider_errors": self.provider_errors,
            },
            amounts={"gross": self.gross, "fee": self.fee, "net": self.net},
        )  # fmt: skip
