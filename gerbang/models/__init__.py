"""Every table's model, imported here so Alembic and the mappers see all of them."""

from gerbang.models.base import Model
from gerbang.models.worker_heartbeat import WorkerHeartbeat

__all__ = ["Model", "WorkerHeartbeat"]
