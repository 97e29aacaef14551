"""Every table's model, imported here so Alembic and the mappers see all of them."""

from gerbang.models.base import Model
from gerbang.models.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from gerbang.models.worker_heartbeat import WorkerHeartbeat

__all__ = ["LedgerAccount", "LedgerEntry", "LedgerTransaction", "Model", "WorkerHeartbeat"]
